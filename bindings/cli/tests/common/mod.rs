//! What the CLI test binaries share: the binary, a temp home and git repo
//! with the mock model server as provider, running the binary off the
//! async runtime. Each binary uses some of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use codeloop_mock_server::{responses, MockServer, Reply};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_codeloop");

/// `codeloop` with a clean environment: PATH, and `home` as HOME and
/// CODELOOP_HOME.
pub fn codeloop(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home)
        .env("CODELOOP_HOME", home);
    cmd
}

pub struct Env {
    pub server: MockServer,
    pub home: tempfile::TempDir,
    pub repo: tempfile::TempDir,
}

impl Env {
    pub async fn new() -> Env {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        Env {
            server: MockServer::start().await.unwrap(),
            home: tempfile::tempdir().unwrap(),
            repo,
        }
    }

    /// `codeloop exec --json`: the provider through `--config`, its key
    /// through an environment variable, no retries, unsandboxed, in the repo.
    pub fn exec(&self) -> Command {
        self.exec_with("--json")
    }

    /// `exec` printing its JSON events by `json_flag`.
    pub fn exec_with(&self, json_flag: &str) -> Command {
        let mut cmd = codeloop(self.home.path());
        cmd.env("MOCK_KEY", "mock-secret")
            .arg("exec")
            .arg(json_flag)
            .args(["--config", "model_provider=\"mock\""])
            .args([
                "--config",
                &format!(
                    "model_providers.mock.base_url=\"{}\"",
                    self.server.base_url()
                ),
            ])
            .args(["--config", "model_providers.mock.env_key=\"MOCK_KEY\""])
            .args(["--config", "model_providers.mock.request_max_retries=0"])
            .args(["--model", "mock-model"])
            .args(["--sandbox", "danger-full-access"])
            .arg("--cd")
            .arg(self.repo.path());
        cmd
    }

    /// The rollout files under the home's session directory.
    pub fn rollouts(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.home.path().join("sessions")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path);
                }
            }
        }
        out
    }
}

/// Run with `stdin` as the prompt, off the async runtime so the in-process
/// mock server keeps serving.
pub async fn run(mut cmd: Command, stdin: &str) -> Output {
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A run refused before it reads stdin may exit first: a broken
        // pipe is then not the test's failure, its output tells.
        if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

/// The JSON events a run printed, a line each.
pub fn events(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// A model reply whose shell command starts `sleep 300` in the background,
/// writes its pid to `pidfile`, prints `started` and waits for it.
pub fn background_sleep_turn(response_id: &str, pidfile: &Path) -> Reply {
    let command = format!(
        "sleep 300 & echo $! > {}; echo started; wait",
        pidfile.display()
    );
    responses::function_call_turn(
        response_id,
        "call_1",
        "shell_command",
        &json!({ "command": command }).to_string(),
    )
}

/// Run `cmd` (printing deltas) off the async runtime and send it `signal`
/// once its command has printed `started`; returns how it ended and the
/// events it printed.
pub async fn signal_once_started(mut cmd: Command, signal: i32) -> (ExitStatus, Vec<Value>) {
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut events = Vec::new();
        for line in stdout.lines() {
            let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
            if event["type"] == "item.delta" && event["delta"].as_str().unwrap().contains("started")
            {
                // SAFETY: signalling the child this test started.
                unsafe { libc::kill(child.id() as i32, signal) };
            }
            events.push(event);
        }
        (child.wait().unwrap(), events)
    })
    .await
    .unwrap()
}

/// The pid a command wrote to `path`.
pub fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Wait until `pid` has terminated, by polling a pidfd (readable on exit).
pub fn wait_dead(pid: i32, within: Duration) -> bool {
    // SAFETY: plain syscalls on integers; the fd is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ready = loop {
        let r = unsafe { libc::poll(&mut pfd, 1, within.as_millis() as i32) };
        if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    unsafe { libc::close(fd) };
    ready == 1
}
