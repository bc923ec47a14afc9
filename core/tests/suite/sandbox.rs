//! The sandbox escape suite, through the real agent loop: the mock model asks
//! for shell commands, the agent runs them confined (Landlock, seccomp, the
//! mount namespace), and the tests check the command_execution items and the
//! file system. Every escape must fail; every ordinary action in the same
//! mode must work.
//!
//! The workspace and the "outside" directory live under the cargo target
//! dir, not in /tmp: /tmp is itself a writable root, so a file written there
//! would prove nothing. One test puts a git dir in /tmp on purpose, to check
//! that a protected path inside a writable root stays protected.

use std::fs;
use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codeloop_core::protocol::{AgentOptions, CommandStatus, ItemDetails, SandboxMode};
use codeloop_core::sandbox::linux::{landlock_abi_version, namespace_kind, PROTECTION_ENV};
use codeloop_core::Agent;
use codeloop_mock_server::{responses, MockServer};
use serde_json::json;
use tempfile::TempDir;

use super::support::{lab_parent, under_temp_root, wait_dead};

// ---------------------------------------------------------------- harness

/// One command the mock model asks for.
struct Cmd {
    script: String,
    workdir: Option<String>,
    timeout_ms: Option<u64>,
}

fn cmd(script: impl Into<String>) -> Cmd {
    Cmd {
        script: script.into(),
        workdir: None,
        timeout_ms: None,
    }
}

impl Cmd {
    fn workdir(mut self, dir: &str) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }
}

/// The completed command_execution item of one command.
#[derive(Debug)]
struct Outcome {
    script: String,
    output: String,
    exit_code: Option<i32>,
    status: CommandStatus,
}

impl Outcome {
    #[track_caller]
    fn assert_ok(&self) {
        assert!(
            self.status == CommandStatus::Completed && self.exit_code == Some(0),
            "expected `{}` to succeed: {self:#?}",
            self.script
        );
    }

    /// The command ran (so it was not simply refused) and failed.
    #[track_caller]
    fn assert_failed(&self) {
        assert!(
            self.status == CommandStatus::Failed && self.exit_code.is_some_and(|c| c != 0),
            "expected `{}` to fail: {self:#?}",
            self.script
        );
    }

    #[track_caller]
    fn assert_output_contains(&self, needle: &str) {
        assert!(
            self.output.contains(needle),
            "{needle:?} not in the output: {self:#?}"
        );
    }
}

/// A workspace (a git repository) and a directory outside every writable
/// root, both under `lab_parent()`.
struct Lab {
    _dir: TempDir,
    ws: PathBuf,
    outside: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("sandbox-")
            .tempdir_in(lab_parent())
            .unwrap();
        let base = dir.path().canonicalize().unwrap();
        let ws = base.join("ws");
        let outside = base.join("outside");
        fs::create_dir_all(ws.join("src")).unwrap();
        fs::create_dir_all(ws.join(".codeloop")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        // Writes outside must not land in a writable root by accident.
        assert!(!under_temp_root(&outside) && !under_temp_root(&ws));
        git(&ws, &["init", "-q"]);
        fs::write(ws.join("src/lib.txt"), "lib\n").unwrap();
        fs::write(ws.join("README"), "readme\n").unwrap();
        git(&ws, &["add", "-A"]);
        git(
            &ws,
            &[
                "-c",
                "user.email=t@example.com",
                "-c",
                "user.name=t",
                "commit",
                "-qm",
                "init",
            ],
        );
        fs::write(outside.join("victim.txt"), "original\n").unwrap();
        Lab {
            _dir: dir,
            ws,
            outside,
        }
    }

    fn out(&self, name: &str) -> String {
        self.outside.join(name).display().to_string()
    }

    /// The outside dir still holds only the untouched victim file.
    #[track_caller]
    fn assert_outside_untouched(&self) {
        let mut names: Vec<String> = fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["victim.txt"]);
        assert_eq!(
            fs::read_to_string(self.outside.join("victim.txt")).unwrap(),
            "original\n"
        );
    }

    /// The repository is intact: same HEAD commit, same config, no new hooks.
    #[track_caller]
    fn assert_git_untouched(&self, head_before: &str) {
        let git_dir = self.ws.join(".git");
        assert!(git_dir.is_dir(), ".git is gone");
        assert_eq!(head(&self.ws), head_before);
        let config = fs::read_to_string(git_dir.join("config")).unwrap();
        assert!(!config.contains("pwned"), "{config}");
        let hooks: Vec<_> = fs::read_dir(git_dir.join("hooks"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| !n.to_string_lossy().ends_with(".sample"))
            .collect();
        assert!(hooks.is_empty(), "{hooks:?}");
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn head(dir: &Path) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Run `cmds` one per model turn in an agent on `cwd`, and return their items.
async fn run(cwd: &Path, mode: SandboxMode, network: bool, cmds: Vec<Cmd>) -> Vec<Outcome> {
    let server = MockServer::start().await.unwrap();
    for (i, c) in cmds.iter().enumerate() {
        let mut args = json!({"command": c.script});
        if let Some(w) = &c.workdir {
            args["workdir"] = json!(w);
        }
        if let Some(t) = c.timeout_ms {
            args["timeout_ms"] = json!(t);
        }
        server.push(responses::turn(
            &format!("resp_{i}"),
            [responses::function_call_item(
                &format!("c{i}"),
                "shell_command",
                &args.to_string(),
            )],
        ));
    }
    server.push(responses::text_turn("resp_done", "done"));
    let agent = Agent::new(AgentOptions {
        codeloop_home: Some(super::support::no_home()),
        model: Some("test-model".into()),
        base_url: Some(server.base_url()),
        api_key: Some("test-key".into()),
        cwd: Some(cwd.to_path_buf()),
        sandbox: Some(mode),
        network_access: Some(network),
        ephemeral: true,
        ..AgentOptions::default()
    })
    .unwrap();
    let result = agent.start_thread().run("go").await.unwrap();
    assert_eq!(result.final_response, "done");
    let outcomes: Vec<Outcome> = result
        .items
        .iter()
        .filter_map(|item| match &item.details {
            ItemDetails::CommandExecution {
                aggregated_output,
                exit_code,
                status,
                ..
            } => Some((aggregated_output, exit_code, status)),
            _ => None,
        })
        .zip(&cmds)
        .map(|((output, exit_code, status), c)| Outcome {
            script: c.script.clone(),
            output: output.clone(),
            exit_code: *exit_code,
            status: *status,
        })
        .collect();
    assert_eq!(outcomes.len(), cmds.len());
    outcomes
}

/// Run the test `name` of this module again in a child process with `envs`
/// set (the environment of this process is shared by every test, so it is
/// never changed); the child does the checks.
fn rerun_in_child(name: &str, envs: &[(&str, &str)]) {
    // libtest names tests without the crate: `suite::sandbox::...`.
    let module = module_path!().split_once("::").unwrap().1;
    let name = format!("{module}::{name}");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .envs(envs.iter().copied())
        .env(CHILD_MARKER, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    // Guard against a filter that matched nothing and "passed".
    assert!(stdout.contains("1 passed"), "{stdout}");
}

const CHILD_MARKER: &str = "CODELOOP_TEST_SANDBOX_CHILD";

fn in_child() -> bool {
    std::env::var_os(CHILD_MARKER).is_some()
}

fn is_root() -> bool {
    // SAFETY: a getter without preconditions.
    unsafe { libc::geteuid() == 0 }
}

// ------------------------------------------------------- the file system

#[tokio::test]
async fn writes_outside_the_roots_fail() {
    let lab = Lab::new();
    fs::write(lab.ws.join("moveme.txt"), "mine\n").unwrap();
    let victim = lab.out("victim.txt");
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd(format!("echo pwned > {}", lab.out("direct.txt"))),
            cmd("echo pwned > ../outside/dotdot.txt"),
            cmd(format!(
                "ln -s {} out-link && echo pwned > out-link/symlink.txt",
                lab.outside.display()
            )),
            cmd(format!("ln {victim} hard && echo pwned >> hard")),
            cmd(format!("mv moveme.txt {}", lab.out("moved.txt"))),
            cmd(format!("truncate -s 0 {victim}")),
            // O_TRUNC on a read-only open truncates on Linux; Landlock must
            // see it as the write it is.
            cmd(format!(
                "python3 -c 'import os; os.open(\"{victim}\", os.O_RDONLY | os.O_TRUNC)'"
            )),
            cmd(format!("rm {victim}")),
            cmd(format!("mkdir {}", lab.out("newdir"))),
        ]
        .into_iter()
        // Landlock does not mediate metadata; the mount namespace's
        // read-only mounts do, where the kernel lets us have one.
        .chain(namespace_kind().map(|_| cmd(format!("touch -d 2001-01-01 {victim}"))))
        .chain(namespace_kind().map(|_| cmd(format!("chmod 600 {victim}"))))
        .collect(),
    )
    .await;
    for o in &outcomes {
        o.assert_failed();
    }
    // The symlink itself may be made inside the workspace; writing through
    // it may not.
    assert!(lab.ws.join("out-link").is_symlink());
    assert_eq!(
        fs::read_to_string(lab.ws.join("moveme.txt")).unwrap(),
        "mine\n"
    );
    lab.assert_outside_untouched();
    if namespace_kind().is_some() {
        let meta = fs::metadata(lab.outside.join("victim.txt")).unwrap();
        assert_ne!(meta.permissions().mode() & 0o777, 0o600);
        assert!(
            meta.modified().unwrap()
                > std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30)
        );
    }
}

#[tokio::test]
async fn children_and_daemons_stay_confined() {
    let lab = Lab::new();
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd(format!(
                "sh -c 'sh -c \"echo pwned > {}\"'",
                lab.out("grandchild.txt")
            )),
            // A process that leaves the session and the process group is
            // still inside the sandbox. `wait` waits for it, no sleeps.
            cmd(format!(
                "setsid sh -c 'echo pwned > {}; echo $? > daemon.status' & wait; cat daemon.status",
                lab.out("daemon.txt")
            )),
            cmd(format!(
                "python3 -c 'import os, sys\nif os.fork() == 0:\n    open(\"{}\", \"w\")\nelse:\n    _, st = os.wait(); sys.exit(os.waitstatus_to_exitcode(st))'",
                lab.out("forked.txt")
            )),
        ],
    )
    .await;
    outcomes[0].assert_failed();
    outcomes[1].assert_ok();
    let status: i32 = fs::read_to_string(lab.ws.join("daemon.status"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(status, 0, "{:#?}", outcomes[1]);
    outcomes[2].assert_failed();
    lab.assert_outside_untouched();
}

#[tokio::test]
async fn protected_paths_stay_read_only() {
    let lab = Lab::new();
    let before = head(&lab.ws);
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd("echo '[core] pwned = 1' >> .git/config"),
            cmd("echo 'echo pwned' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit"),
            cmd("rm .git/HEAD"),
            cmd("mv .git moved-git"),
            cmd("rm -rf .git"),
            cmd("git -c user.email=a@b -c user.name=a commit --allow-empty -qm pwned"),
            cmd(format!("ln .git/config {}", lab.out("config-link"))),
            cmd("echo pwned > .codeloop/config.toml"),
            cmd("mv .codeloop elsewhere"),
            // From inside the git dir, by a relative path.
            cmd("echo pwned > description").workdir(".git"),
        ],
    )
    .await;
    for o in &outcomes {
        o.assert_failed();
    }
    lab.assert_git_untouched(&before);
    assert!(lab.ws.join(".codeloop").is_dir());
    if namespace_kind().is_some() {
        // Where the kernel allows it, that was the mount layout: the
        // workspace and its .git are mount points of the command's own.
        let git_dir = lab.ws.join(".git");
        let outcomes = run(
            &lab.ws,
            SandboxMode::WorkspaceWrite,
            false,
            vec![cmd(format!(
                "grep -F ' {} ' /proc/self/mountinfo && grep -F ' {} ' /proc/self/mountinfo",
                lab.ws.display(),
                git_dir.display()
            ))],
        )
        .await;
        outcomes[0].assert_ok();
        outcomes[0].assert_output_contains(" ro,");
    }
    assert!(!lab.ws.join(".codeloop/config.toml").exists());
    assert!(!lab.ws.join("moved-git").exists());
    assert!(!lab.ws.join("elsewhere").exists());
    lab.assert_outside_untouched();
}

/// A `.git` file (as in a worktree or submodule) protects the git dir it
/// names, here in /tmp, which is itself a writable root.
#[tokio::test]
async fn the_git_dir_a_dot_git_file_names_stays_read_only() {
    let lab = Lab::new();
    let tmp = tempfile::Builder::new()
        .prefix("codeloop-gitdir-")
        .tempdir_in("/tmp")
        .unwrap();
    let tmp = tmp.path().canonicalize().unwrap();
    let real = tmp.join("real.git");
    fs::rename(lab.ws.join(".git"), &real).unwrap();
    fs::write(lab.ws.join(".git"), format!("gitdir: {}\n", real.display())).unwrap();
    let before = fs::read_to_string(real.join("config")).unwrap();
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd(format!("echo pwned >> {}/config", real.display())),
            cmd(format!("touch {}/hooks/post-checkout", real.display())),
            cmd("echo 'gitdir: /elsewhere' > .git"),
            cmd("rm .git"),
            // Next to it, /tmp is writable as usual.
            cmd(format!(
                "echo ok > {}/sibling.txt && git status --short",
                tmp.display()
            )),
        ],
    )
    .await;
    for o in &outcomes[..4] {
        o.assert_failed();
    }
    outcomes[4].assert_ok();
    assert_eq!(fs::read_to_string(real.join("config")).unwrap(), before);
    assert!(!real.join("hooks/post-checkout").exists());
    assert!(fs::read_to_string(lab.ws.join(".git"))
        .unwrap()
        .contains(&real.display().to_string()));
    assert_eq!(fs::read_to_string(tmp.join("sibling.txt")).unwrap(), "ok\n");
    fs::remove_dir_all(&tmp).unwrap();
}

/// With the workspace inside another writable root (/tmp), no command can
/// move the repository away from the path later commands protect, and /tmp
/// stays writable around it.
#[tokio::test]
async fn a_workspace_in_tmp_cannot_be_moved_out_of_its_protection() {
    let tmp = tempfile::Builder::new()
        .prefix("codeloop-nested-")
        .tempdir_in("/tmp")
        .unwrap();
    let tmp = tmp.path().canonicalize().unwrap();
    let parent = tmp.join("parent");
    let ws = parent.join("ws");
    fs::create_dir_all(&ws).unwrap();
    git(&ws, &["init", "-q"]);
    let config = fs::read_to_string(ws.join(".git/config")).unwrap();
    let t = tmp.display();
    let mut cmds = vec![
        cmd(format!("mv {t}/parent {t}/moved")),
        cmd(format!("mv {t}/parent/ws {t}/ws2")),
        cmd(format!("rm -rf {t}/parent")),
        cmd("echo '[x] pwned = 1' >> .git/config"),
        cmd(format!(
            "echo ok > {t}/side.txt && echo ok > {t}/parent/side.txt"
        )),
    ];
    if namespace_kind().is_some() {
        // Only the Landlock-only layout forbids creating entries next to a
        // protected path's ancestors.
        cmds.push(cmd("f=$(mktemp) && echo tmp > $f && rm $f"));
    }
    let outcomes = run(&ws, SandboxMode::WorkspaceWrite, false, cmds).await;
    for o in &outcomes[..4] {
        o.assert_failed();
    }
    if namespace_kind().is_some() {
        outcomes[4].assert_ok();
        outcomes[5].assert_ok();
    }
    assert!(ws.join(".git").is_dir());
    assert_eq!(fs::read_to_string(ws.join(".git/config")).unwrap(), config);
    fs::remove_dir_all(&tmp).unwrap();
}

/// A `.git` that is a symlink protects its target, and the link itself
/// cannot be swapped for a directory of the command's making.
#[tokio::test]
async fn a_symlinked_git_dir_stays_in_place() {
    let lab = Lab::new();
    // The link must be what keeps the workspace root from being writable.
    fs::remove_dir(lab.ws.join(".codeloop")).unwrap();
    let store = tempfile::tempdir_in(lab_parent()).unwrap();
    let real = store.path().canonicalize().unwrap().join("real.git");
    fs::rename(lab.ws.join(".git"), &real).unwrap();
    std::os::unix::fs::symlink(&real, lab.ws.join(".git")).unwrap();
    let before = head(&lab.ws);
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd("rm .git && mkdir -p .git/hooks && touch .git/hooks/pre-commit"),
            cmd("mv .git old-git"),
            cmd("echo '[x] pwned = 1' >> .git/config"),
            cmd("git status --short && echo more >> src/lib.txt"),
        ],
    )
    .await;
    for o in &outcomes[..3] {
        o.assert_failed();
    }
    outcomes[3].assert_ok();
    assert!(lab.ws.join(".git").is_symlink());
    lab.assert_git_untouched(&before);
}

#[tokio::test]
async fn ordinary_work_runs_in_workspace_write() {
    let lab = Lab::new();
    let sock_dir = tempfile::tempdir().unwrap();
    let sock = sock_dir.path().join("s.sock");
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd("mkdir -p a/b && echo nested > a/b/c.txt && echo top > top.txt && cat a/b/c.txt"),
            cmd("echo changed >> src/lib.txt && rm README && mv top.txt src/moved.txt"),
            cmd("f=$(mktemp) && echo tmp > $f && cat $f && rm $f"),
            cmd("git status --short"),
            cmd("git log --oneline | wc -l"),
            cmd("python3 -c 'print(6 * 7)'"),
            cmd("cargo --version"),
            cmd("seq 1 100 | grep 7 | wc -l"),
            cmd("echo quiet > /dev/null && echo to-stderr >&2 && echo via-dev-stderr > /dev/stderr"),
            cmd("head -c 16 /dev/urandom | wc -c"),
            cmd("python3 -c 'import socket; a, b = socket.socketpair(); a.send(b\"pair\"); print(b.recv(4).decode())'"),
            cmd(format!(
                "python3 -c 'import socket\ns = socket.socket(socket.AF_UNIX); s.bind(\"{0}\"); s.listen()\nc = socket.socket(socket.AF_UNIX); c.connect(\"{0}\"); c.send(b\"unix\")\nprint(s.accept()[0].recv(4).decode())'",
                sock.display()
            )),
            cmd("cat /etc/passwd | head -1"),
            cmd("sh -c 'sleep 0 & wait' && kill -0 $$"),
        ],
    )
    .await;
    for o in &outcomes {
        o.assert_ok();
    }
    outcomes[0].assert_output_contains("nested");
    assert_eq!(
        fs::read_to_string(lab.ws.join("a/b/c.txt")).unwrap(),
        "nested\n"
    );
    assert_eq!(
        fs::read_to_string(lab.ws.join("src/moved.txt")).unwrap(),
        "top\n"
    );
    assert!(!lab.ws.join("README").exists());
    outcomes[2].assert_output_contains("tmp");
    outcomes[3].assert_output_contains("src/lib.txt");
    outcomes[5].assert_output_contains("42");
    outcomes[6].assert_output_contains("cargo ");
    outcomes[7].assert_output_contains("19");
    outcomes[8].assert_output_contains("via-dev-stderr");
    outcomes[9].assert_output_contains("16");
    outcomes[10].assert_output_contains("pair");
    outcomes[11].assert_output_contains("unix");
    outcomes[12].assert_output_contains("root:");
}

#[tokio::test]
async fn read_only_mode_writes_nothing() {
    let lab = Lab::new();
    let tmp_target = format!("/tmp/codeloop-read-only-{}", std::process::id());
    let outcomes = run(
        &lab.ws,
        SandboxMode::ReadOnly,
        false,
        vec![
            cmd("touch new.txt"),
            cmd("echo more >> README"),
            cmd("mkdir src/sub"),
            cmd(format!("touch {tmp_target}")),
            cmd("mktemp"),
            cmd(format!("echo pwned > {}", lab.out("ro.txt"))),
            cmd("echo '[x]' >> .git/config"),
            // Reading works, and so does /dev/null.
            cmd("cat README /etc/passwd > /dev/null && git status --short && ls src"),
        ],
    )
    .await;
    for o in &outcomes[..7] {
        o.assert_failed();
    }
    outcomes[7].assert_ok();
    outcomes[7].assert_output_contains("lib.txt");
    assert!(!lab.ws.join("new.txt").exists());
    assert_eq!(
        fs::read_to_string(lab.ws.join("README")).unwrap(),
        "readme\n"
    );
    assert!(!lab.ws.join("src/sub").exists());
    assert!(!Path::new(&tmp_target).exists());
    lab.assert_outside_untouched();
}

// ------------------------------------------------ network and the kernel

#[tokio::test]
async fn network_is_off_by_default() {
    let lab = Lab::new();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd(format!(
                "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {tcp_port}), 5)'"
            )),
            cmd(format!("echo hi > /dev/tcp/127.0.0.1/{tcp_port}")),
            cmd(format!("curl -sS -m 5 http://127.0.0.1:{tcp_port}/")),
            cmd(format!(
                "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b\"x\", (\"127.0.0.1\", {udp_port}))'"
            )),
            cmd(format!(
                "python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_STREAM).connect((\"::1\", {tcp_port}))'"
            )),
        ],
    )
    .await;
    for o in &outcomes {
        o.assert_failed();
    }
    outcomes[0].assert_output_contains("PermissionError");
    // The commands have exited: a connection or datagram they made would be
    // queued by now.
    assert_eq!(
        tcp.accept().err().map(|e| e.kind()),
        Some(ErrorKind::WouldBlock)
    );
    let mut buf = [0u8; 8];
    assert_eq!(
        udp.recv_from(&mut buf).err().map(|e| e.kind()),
        Some(ErrorKind::WouldBlock)
    );
}

#[tokio::test]
async fn network_access_lets_commands_connect() {
    let lab = Lab::new();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let port = tcp.local_addr().unwrap().port();
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        true,
        vec![cmd(format!(
            "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 5).send(b\"hello\")'"
        ))],
    )
    .await;
    outcomes[0].assert_ok();
    assert!(tcp.accept().is_ok(), "the listener saw no connection");
}

/// ptrace, io_uring, process_vm_readv, new namespaces, signals to processes
/// outside the sandbox, root's dangerous capabilities.
#[tokio::test]
async fn dangerous_syscalls_fail() {
    let lab = Lab::new();
    let sibling = Sibling(Command::new("sleep").arg("1000").spawn().unwrap());
    let pid = sibling.0.id();
    let py = |body: &str| {
        format!("python3 -c 'import ctypes, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n{body}\nprint(\"result\", r, ctypes.get_errno())\nsys.exit(0 if r >= 0 else 3)'")
    };
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd(py(&format!("r = libc.ptrace(16, {pid}, 0, 0)"))),
            // Were the attach to work, strace would follow the sibling
            // until the timeout.
            cmd(format!("strace -p {pid} -e trace=none -o /dev/null")).timeout_ms(5000),
            cmd(py("p = ctypes.create_string_buffer(120)\nr = libc.syscall(425, 1, p)")),
            cmd(py(&format!(
                "b = ctypes.create_string_buffer(8)\nlocal = (ctypes.c_void_p * 2)(ctypes.addressof(b), 8)\nr = libc.process_vm_readv({pid}, local, 1, local, 1, 0)"
            ))),
            cmd("unshare -U true"),
            cmd("unshare -n true"),
            cmd(format!("kill -STOP {pid}")),
            cmd(format!("cat /proc/{pid}/environ > /dev/null")),
        ],
    )
    .await;
    let errno_eperm = "result -1 1\n";
    outcomes[0].assert_failed();
    outcomes[0].assert_output_contains(errno_eperm);
    outcomes[1].assert_failed();
    outcomes[2].assert_failed();
    outcomes[2].assert_output_contains(errno_eperm);
    outcomes[3].assert_failed();
    outcomes[3].assert_output_contains(errno_eperm);
    outcomes[4].assert_failed();
    outcomes[5].assert_failed();
    // Landlock's signal scope needs ABI 6; /proc/<pid> of a process outside
    // the sandbox is closed by any ABI (ptrace rules).
    if landlock_abi_version() >= 6 {
        outcomes[6].assert_failed();
    }
    outcomes[7].assert_failed();
    // The sibling was neither stopped nor traced.
    let state = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let state = state.rsplit(')').next().unwrap().split_whitespace().next();
    assert_eq!(state, Some("S"), "sibling state");
    drop(sibling);

    if is_root() {
        // Only file and process ownership survive for root: no
        // CAP_SYS_ADMIN (bit 21), CAP_NET_ADMIN (12), CAP_SYS_MODULE (16).
        let outcomes = run(
            &lab.ws,
            SandboxMode::WorkspaceWrite,
            false,
            vec![cmd("grep CapBnd /proc/self/status")],
        )
        .await;
        outcomes[0].assert_ok();
        let line = outcomes[0]
            .output
            .lines()
            .find(|l| l.starts_with("CapBnd:"));
        let hex = line.unwrap().split_whitespace().nth(1).unwrap();
        let bnd = u64::from_str_radix(hex, 16).unwrap();
        for bit in [12, 16, 21] {
            assert_eq!(bnd & (1 << bit), 0, "CapBnd {hex} keeps bit {bit}");
        }
        assert_ne!(bnd & 0b11, 0, "CapBnd {hex} lost DAC override");
    }
}

/// A process outside the sandbox, killed when the test ends however it ends.
struct Sibling(std::process::Child);

impl Drop for Sibling {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Variables that look like credentials are scrubbed from commands' env,
/// and the agent's own environment cannot be read through /proc either.
#[tokio::test]
async fn secrets_in_the_agent_environment_stay_out_of_reach() {
    const SECRET: &str = "codeloop-sandbox-fake-secret";
    if !in_child() {
        return rerun_in_child(
            "secrets_in_the_agent_environment_stay_out_of_reach",
            &[("FAKE_API_KEY", SECRET)],
        );
    }
    assert_eq!(std::env::var("FAKE_API_KEY").unwrap(), SECRET);
    let lab = Lab::new();
    let probes = || {
        vec![
            cmd("env"),
            cmd("tr '\\0' '\\n' < /proc/$PPID/environ"),
            cmd("cat /proc/$PPID/task/*/environ | tr '\\0' '\\n'"),
        ]
    };
    let outcomes = run(&lab.ws, SandboxMode::WorkspaceWrite, false, probes()).await;
    outcomes[0].assert_ok();
    for o in &outcomes {
        assert!(!o.output.contains(SECRET), "{o:#?}");
    }
    outcomes[1].assert_failed();
    // Without the sandbox the agent's environment is readable, so the probe
    // above would have found the secret.
    let open = run(&lab.ws, SandboxMode::DangerFullAccess, false, probes()).await;
    assert!(!open[0].output.contains(SECRET), "{:#?}", open[0]);
    open[1].assert_output_contains(SECRET);
}

/// A descriptor the host left inheritable (no close-on-exec) does not reach
/// the command: Landlock would not see writes through it.
#[tokio::test]
async fn inherited_descriptors_do_not_reach_commands() {
    if !in_child() {
        // The leaked fd would reach every command this process runs, so it
        // is made in a process of its own.
        return rerun_in_child("inherited_descriptors_do_not_reach_commands", &[]);
    }
    use std::os::fd::AsRawFd;
    let lab = Lab::new();
    let leaked = fs::OpenOptions::new()
        .append(true)
        .open(lab.outside.join("victim.txt"))
        .unwrap();
    let fd = leaked.as_raw_fd();
    // SAFETY: clears FD_CLOEXEC on an fd this test owns.
    assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }, 0);
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![cmd(format!("echo pwned >&{fd}"))],
    )
    .await;
    outcomes[0].assert_failed();
    outcomes[0].assert_output_contains("Bad file descriptor");
    lab.assert_outside_untouched();
    // Without the sandbox the same command writes through it.
    let open = run(
        &lab.ws,
        SandboxMode::DangerFullAccess,
        false,
        vec![cmd(format!("echo pwned >&{fd}"))],
    )
    .await;
    open[0].assert_ok();
    drop(leaked);
}

// ------------------------------------------------------ process control

/// A command that keeps forking is stopped by its timeout, and every
/// process it started dies with it.
#[tokio::test]
async fn a_fork_storm_ends_at_the_timeout() {
    let lab = Lab::new();
    let started = Instant::now();
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![cmd("while true; do sleep 1000 & echo $! >> pids; done").timeout_ms(1000)],
    )
    .await;
    let o = &outcomes[0];
    assert_eq!(
        (o.exit_code, o.status),
        (Some(124), CommandStatus::Failed),
        "{o:#?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let pids: Vec<i32> = fs::read_to_string(lab.ws.join("pids"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert!(pids.len() > 10, "only {} processes started", pids.len());
    for pid in pids {
        assert!(wait_dead(pid, Duration::from_secs(10)), "{pid} survived");
    }
}

/// A gigabyte of output comes back cut to a bounded size.
#[tokio::test]
async fn a_gigabyte_of_output_is_bounded() {
    let lab = Lab::new();
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![cmd("head -c 1G /dev/zero; echo; echo the-end")],
    )
    .await;
    let o = &outcomes[0];
    o.assert_ok();
    assert!(o.output.len() < 2 * 1024 * 1024, "{} bytes", o.output.len());
    o.assert_output_contains("the-end");
    // Everything but the kept head and tail was counted, not held.
    let omitted: u64 = o
        .output
        .split("[... ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no cut marker: {o:#?}"));
    assert!(omitted > (1 << 30) - (4 << 20), "{omitted} bytes omitted");
}

// ------------------------------------------------- layouts and refusals

/// Without the mount namespace (forced here; the fallback where neither
/// root nor unprivileged user namespaces are available), Landlock alone
/// keeps `.git` read-only. Its documented limit: nothing can be created or
/// removed at the top of a root that holds a protected path.
#[tokio::test]
async fn landlock_only_layout_protects_git() {
    if !in_child() {
        return rerun_in_child(
            "landlock_only_layout_protects_git",
            &[(PROTECTION_ENV, "landlock")],
        );
    }
    let lab = Lab::new();
    let before = head(&lab.ws);
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd("echo '[core] pwned = 1' >> .git/config"),
            cmd("touch .git/hooks/pre-commit"),
            cmd("mv .git moved-git"),
            cmd("rm -rf .git"),
            cmd("mv src/lib.txt .git/lib.txt"),
            cmd(format!("echo pwned > {}", lab.out("x.txt"))),
            cmd("echo pwned > description").workdir(".git"),
            // The limitation.
            cmd("touch new-top-level.txt"),
            // Everything below the top works.
            cmd("mkdir -p src/a/b && echo x > src/a/b/c.txt && echo more >> README && git status --short"),
            // The layout really is Landlock alone: the command shares the
            // host's mounts, with no bind of the workspace.
            cmd(format!(
                "! grep -F ' {} ' /proc/self/mountinfo",
                lab.ws.display()
            )),
        ],
    )
    .await;
    outcomes[9].assert_ok();
    for o in &outcomes[..8] {
        o.assert_failed();
    }
    outcomes[8].assert_ok();
    outcomes[8].assert_output_contains("README");
    assert_eq!(
        fs::read_to_string(lab.ws.join("src/a/b/c.txt")).unwrap(),
        "x\n"
    );
    assert!(lab.ws.join("src/lib.txt").exists());
    lab.assert_git_untouched(&before);
    lab.assert_outside_untouched();
}

/// The user-namespace variant of the mount layout (what a non-root user
/// gets), forced here so that it is tested when the suite runs as root.
#[tokio::test]
async fn user_namespace_layout_protects_git() {
    if !in_child() {
        if !user_namespaces_work() {
            eprintln!("skipped: user namespaces are not available here");
            return;
        }
        return rerun_in_child(
            "user_namespace_layout_protects_git",
            &[(PROTECTION_ENV, "userns")],
        );
    }
    let lab = Lab::new();
    let before = head(&lab.ws);
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![
            cmd("echo '[core] pwned = 1' >> .git/config"),
            cmd("mv .git moved-git"),
            cmd(format!("echo pwned > {}", lab.out("x.txt"))),
            cmd("touch new-top-level.txt && git status --short && cat /proc/self/uid_map"),
        ],
    )
    .await;
    for o in &outcomes[..3] {
        o.assert_failed();
    }
    outcomes[3].assert_ok();
    outcomes[3].assert_output_contains("new-top-level.txt");
    // Only our own id is mapped: the command really ran in a user namespace.
    let uid = unsafe { libc::geteuid() };
    outcomes[3].assert_output_contains(&format!("{uid}          1"));
    lab.assert_git_untouched(&before);
    lab.assert_outside_untouched();
}

fn user_namespaces_work() -> bool {
    Command::new("unshare")
        .args(["-U", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A sandbox that cannot be set up refuses the command, with an error that
/// says how to opt out; the command never runs unconfined.
#[tokio::test]
async fn a_sandbox_that_cannot_be_set_up_refuses_commands() {
    if !in_child() {
        return rerun_in_child(
            "a_sandbox_that_cannot_be_set_up_refuses_commands",
            &[(PROTECTION_ENV, "no-such-layout")],
        );
    }
    let lab = Lab::new();
    let outcomes = run(
        &lab.ws,
        SandboxMode::WorkspaceWrite,
        false,
        vec![cmd("touch ran.txt")],
    )
    .await;
    let o = &outcomes[0];
    assert_eq!(
        (o.exit_code, o.status),
        (None, CommandStatus::Failed),
        "{o:#?}"
    );
    o.assert_output_contains("danger-full-access");
    o.assert_output_contains("no-such-layout");
    assert!(!lab.ws.join("ran.txt").exists());
}
