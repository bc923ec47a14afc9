//! Helpers shared by the suites.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use codeloop_core::protocol::{AgentOptions, SandboxMode, ThreadEvent};
use codeloop_core::{Agent, EventStream, Thread};
use codeloop_mock_server::{responses, MockServer, Reply};
use futures::StreamExt;
use serde_json::Value;
use tempfile::TempDir;

/// Wait until process `pid` has terminated (a zombie counts: it runs no
/// more), by polling a pidfd, which becomes readable when the process exits.
pub fn wait_dead(pid: i32, within: Duration) -> bool {
    // SAFETY: plain syscalls on integers; the fd is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    let deadline = Instant::now() + within;
    let dead = loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        // SIGCHLD from other tests' children interrupts poll; wait on.
        if ready < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break ready == 1;
    };
    unsafe { libc::close(fd) };
    dead
}

/// The pid a command wrote to `path`.
pub fn read_pid(path: &Path) -> i32 {
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

/// The temp roots every workspace-write sandbox may write.
pub fn temp_roots() -> Vec<PathBuf> {
    [
        PathBuf::from("/tmp"),
        std::env::temp_dir(),
        PathBuf::from("/dev/shm"),
    ]
    .into_iter()
    .filter_map(|r| r.canonicalize().ok())
    .collect()
}

pub fn under_temp_root(path: &Path) -> bool {
    temp_roots().iter().any(|r| path.starts_with(r))
}

/// Where labs live: the cargo target dir, unless the checkout itself sits in
/// a temp root (a clone in /tmp), then a directory outside every temp root.
pub fn lab_parent() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let candidates = [
        Some(target),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/codeloop-tests")),
        Some(PathBuf::from("/var/tmp/codeloop-tests")),
    ];
    for dir in candidates.into_iter().flatten() {
        if fs::create_dir_all(&dir).is_ok() {
            if let Ok(dir) = dir.canonicalize() {
                if !under_temp_root(&dir) {
                    return dir;
                }
            }
        }
    }
    panic!("no directory outside the temp roots to run the sandbox tests in");
}

/// A codeloop home that does not exist: agents built with it read no
/// config, AGENTS.md, skills or hooks of the machine running the tests.
pub fn no_home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-codeloop-home")
}

/// The mock model server and a temp working directory an end-to-end suite
/// runs agents against. Agents read no machine files (`no_home`), run
/// commands unsandboxed and, unless `with_sessions`, are ephemeral.
pub struct Harness {
    pub server: MockServer,
    pub dir: TempDir,
    sessions: Option<TempDir>,
    retries: u32,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness {
            server: MockServer::start().await.unwrap(),
            dir: tempfile::tempdir().unwrap(),
            sessions: None,
            retries: 0,
        }
    }

    /// Threads write rollouts to a temp session directory, so they can be
    /// resumed and forked.
    pub fn with_sessions(mut self) -> Harness {
        self.sessions = Some(tempfile::tempdir().unwrap());
        self
    }

    /// Retry failed requests and streams this many times (default none).
    pub fn with_retries(mut self, retries: u32) -> Harness {
        self.retries = retries;
        self
    }

    /// The session directory; only with `with_sessions`.
    pub fn sessions(&self) -> &Path {
        self.sessions.as_ref().expect("with_sessions()").path()
    }

    pub fn options(&self) -> AgentOptions {
        AgentOptions {
            codeloop_home: Some(no_home()),
            model: Some("test-model".into()),
            base_url: Some(self.server.base_url()),
            api_key: Some("test-key".into()),
            cwd: Some(self.dir.path().to_path_buf()),
            sandbox: Some(SandboxMode::DangerFullAccess),
            ephemeral: self.sessions.is_none(),
            session_dir: self.sessions.as_ref().map(|s| s.path().to_path_buf()),
            request_max_retries: Some(self.retries),
            stream_max_retries: Some(self.retries),
            ..AgentOptions::default()
        }
    }

    pub fn agent(&self) -> Agent {
        Agent::new(self.options()).unwrap()
    }

    /// A thread whose turn is streaming (its events read up to the first
    /// delta), then stalls until interrupted.
    pub async fn streaming_turn(&self) -> (Thread, EventStream) {
        self.server.push(
            responses::sse([responses::created(), responses::output_text_delta("x")])
                .stall_after(2),
        );
        let thread = self.agent().start_thread();
        let mut stream = thread.run_streamed("one");
        while let Some(e) = stream.next().await {
            if matches!(e, ThreadEvent::ItemDelta { .. }) {
                break;
            }
        }
        (thread, stream)
    }
}

/// Interrupt the turn of `stream`: it ends failed.
pub async fn interrupt(thread: &Thread, stream: EventStream) {
    thread.interrupt();
    let rest: Vec<_> = stream.collect().await;
    assert!(matches!(rest.last(), Some(ThreadEvent::TurnFailed { .. })));
}

/// A response that calls tool `name` with `args`.
pub fn call(call_id: &str, name: &str, args: Value) -> Reply {
    responses::turn(
        &format!("resp_{call_id}"),
        [responses::function_call_item(
            call_id,
            name,
            &args.to_string(),
        )],
    )
}

/// The output the model got back for `call_id` in a recorded request, if any.
pub fn output_of(input: &[Value], call_id: &str) -> Option<String> {
    input
        .iter()
        .find(|i| {
            i["call_id"] == call_id
                && matches!(
                    i["type"].as_str(),
                    Some("function_call_output" | "custom_tool_call_output")
                )
        })
        .and_then(|i| i["output"].as_str().map(String::from))
}

/// The output the model got back for `call_id`; panics when there is none.
pub fn output_for(input: &[Value], call_id: &str) -> String {
    output_of(input, call_id).unwrap_or_else(|| panic!("no output for {call_id} in {input:#?}"))
}
