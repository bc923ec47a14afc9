//! The built-in tools on real subprocesses and real temp dirs: the shell
//! family (output format, truncation, bounded capture, timeouts and
//! cancellation killing whole process groups, a read-only sandbox), the file
//! tools, update_plan and view_image, each with the items it emits; the
//! scrubbed environment commands get, and approvals asked before commands
//! and patches run.

use super::support::{read_pid, wait_dead};
use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use codeloop_core::agent::HeadlessHost;
use codeloop_core::protocol::{
    AgentOptions, ApprovalAction, ApprovalDecision, ApprovalPolicy, ApprovalRequest, CommandStatus,
    ContentItem, DeltaKind, FileUpdateChange, HostToolSpec, ItemDetails, PatchChangeKind,
    PatchStatus, ResponseItem, SandboxMode, ThreadEvent, ThreadItem, TodoItem, ToolCallStatus,
    WireApi,
};
use codeloop_core::sandbox::SandboxPolicy;
use codeloop_core::tools::exec::{self, ExecEnv, ExecRequest};
use codeloop_core::tools::{
    is_builtin_tool_name, EventSink, ToolCall, ToolContext, ToolOutput, ToolPayload, ToolRouter,
};
use codeloop_core::Host;
use regex::Regex;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------- helpers

struct Harness {
    ctx: ToolContext,
    rx: mpsc::UnboundedReceiver<ThreadEvent>,
    _dir: TempDir,
}

impl Harness {
    fn new() -> Self {
        Self::with_sandbox(None)
    }

    fn with_sandbox(mode: Option<SandboxMode>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let sandbox = match mode {
            None => SandboxPolicy::full_access(),
            Some(mode) => SandboxPolicy::new(mode, &cwd, &[], false),
        };
        let ctx = ToolContext {
            thread_id: "thread-test".into(),
            cwd,
            sandbox,
            approval_policy: ApprovalPolicy::Never,
            env_policy: Default::default(),
            approvals: Default::default(),
            command_timeout: Duration::from_secs(60),
            host: Arc::new(HeadlessHost),
            cancel: CancellationToken::new(),
            events: EventSink::new(tx, Arc::new(AtomicU64::new(0))),
            plan_item: Arc::new(Mutex::new(None)),
            hooks: Default::default(),
        };
        Harness { ctx, rx, _dir: dir }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.ctx.cwd.join(rel)
    }

    async fn dispatch(&self, name: &str, args: Value) -> ToolOutput {
        self.dispatch_raw(name, &args.to_string()).await
    }

    async fn dispatch_raw(&self, name: &str, arguments: &str) -> ToolOutput {
        router()
            .dispatch(&self.ctx, function_call(name, arguments))
            .await
            .unwrap()
    }

    fn events(&mut self) -> Vec<ThreadEvent> {
        let mut out = Vec::new();
        while let Ok(ev) = self.rx.try_recv() {
            out.push(ev);
        }
        out
    }
}

fn router() -> ToolRouter {
    ToolRouter::new(&AgentOptions::default(), WireApi::Responses)
}

fn function_call(name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        call_id: "call_1".into(),
        name: name.into(),
        payload: ToolPayload::Function {
            arguments: arguments.into(),
        },
    }
}

/// Started and completed items (deltas left out), in order.
fn lifecycle(events: &[ThreadEvent]) -> Vec<(&'static str, ThreadItem)> {
    events
        .iter()
        .filter_map(|ev| match ev {
            ThreadEvent::ItemStarted { item } => Some(("started", item.clone())),
            ThreadEvent::ItemUpdated { item } => Some(("updated", item.clone())),
            ThreadEvent::ItemCompleted { item } => Some(("completed", item.clone())),
            _ => None,
        })
        .collect()
}

fn deltas(events: &[ThreadEvent]) -> String {
    events
        .iter()
        .filter_map(|ev| match ev {
            ThreadEvent::ItemDelta {
                item_type: DeltaKind::CommandOutput,
                delta,
                ..
            } => Some(delta.as_str()),
            _ => None,
        })
        .collect()
}

/// The completed command_execution item: (command, output, exit code, status).
fn completed_command(events: &[ThreadEvent]) -> (String, String, Option<i32>, CommandStatus) {
    events
        .iter()
        .find_map(|ev| match ev {
            ThreadEvent::ItemCompleted {
                item:
                    ThreadItem {
                        details:
                            ItemDetails::CommandExecution {
                                command,
                                aggregated_output,
                                exit_code,
                                status,
                            },
                        ..
                    },
            } => Some((
                command.clone(),
                aggregated_output.clone(),
                *exit_code,
                *status,
            )),
            _ => None,
        })
        .expect("a completed command_execution item")
}

fn assert_matches(pattern: &str, text: &str) {
    let re = Regex::new(pattern).unwrap();
    assert!(re.is_match(text), "{text:?} does not match {pattern:?}");
}

// ------------------------------------------------------------------- shell

#[tokio::test]
async fn shell_command_reports_in_codex_format() {
    let mut h = Harness::new();
    let out = h
        .dispatch("shell_command", json!({"command": "echo hello"}))
        .await;
    assert!(out.success);
    assert_matches(
        r"^Exit code: 0\nWall time: [0-9]+(\.[0-9])? seconds\nOutput:\nhello\n$",
        &out.content,
    );

    let events = h.events();
    let items = lifecycle(&events);
    assert_eq!(items.len(), 2, "{items:?}");
    let (kind, started) = &items[0];
    assert_eq!(*kind, "started");
    assert_eq!(
        started.details,
        ItemDetails::CommandExecution {
            command: "bash -lc 'echo hello'".into(),
            aggregated_output: String::new(),
            exit_code: None,
            status: CommandStatus::InProgress,
        }
    );
    assert_eq!(items[1].0, "completed");
    assert_eq!(items[1].1.id, started.id);
    assert_eq!(deltas(&events), "hello\n");
    let (_, output, code, status) = completed_command(&events);
    assert_eq!(
        (output.as_str(), code, status),
        ("hello\n", Some(0), CommandStatus::Completed)
    );
}

#[tokio::test]
async fn non_zero_exit_fails_and_aggregates_both_streams() {
    let mut h = Harness::new();
    let out = h
        .dispatch(
            "shell_command",
            json!({"command": "echo to-out; echo to-err >&2; exit 3"}),
        )
        .await;
    assert!(!out.success);
    assert!(out.content.starts_with("Exit code: 3\n"), "{}", out.content);
    assert!(out.content.contains("to-out\n"), "{}", out.content);
    assert!(out.content.contains("to-err\n"), "{}", out.content);

    let (_, output, code, status) = completed_command(&h.events());
    assert_eq!(code, Some(3));
    assert_eq!(status, CommandStatus::Failed);
    assert!(
        output.contains("to-out") && output.contains("to-err"),
        "{output}"
    );
}

#[tokio::test]
async fn exec_runner_keeps_streams_apart_and_interleaved() {
    let dir = tempfile::tempdir().unwrap();
    let req = ExecRequest::new(
        vec![
            "sh".into(),
            "-c".into(),
            "printf a; printf b >&2; printf c".into(),
        ],
        dir.path().to_path_buf(),
    );
    let mut chunks = 0;
    let out = exec::run(req, &CancellationToken::new(), &mut |_| chunks += 1)
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.stdout, "ac");
    assert_eq!(out.stderr, "b");
    assert_eq!(out.aggregated.len(), 3);
    assert!(chunks >= 2);
    assert!(!out.timed_out && !out.interrupted);
}

#[tokio::test]
async fn argv_shapes_run_under_every_shell_alias() {
    let h = Harness::new();
    for name in ["shell", "local_shell", "container.exec"] {
        let out = h
            .dispatch(name, json!({"command": ["printf", "%s|", "a b", "c"]}))
            .await;
        assert!(out.success, "{name}: {}", out.content);
        assert!(
            out.content.ends_with("Output:\na b|c|"),
            "{name}: {}",
            out.content
        );
    }
    let out = h
        .dispatch(
            "exec_command",
            json!({"cmd": "echo unified", "login": false}),
        )
        .await;
    assert!(out.success, "{}", out.content);
    assert_matches(
        r"^Wall time: [0-9]+\.[0-9]{4} seconds\nProcess exited with code 0\nOutput:\nunified\n$",
        &out.content,
    );
}

#[tokio::test]
async fn long_output_is_cut_in_the_middle() {
    let mut h = Harness::new();
    let out = h
        .dispatch("shell_command", json!({"command": "seq 1 20000"}))
        .await;
    assert!(out.success);
    assert_matches(
        r"^Exit code: 0\nWall time: [0-9]+(\.[0-9])? seconds\nTotal output lines: 20000\nOutput:\n1\n2\n3\n",
        &out.content,
    );
    assert_matches(r"…[0-9]+ tokens truncated…", &out.content);
    assert!(
        out.content.ends_with("19999\n20000\n"),
        "{}",
        &out.content[out.content.len() - 50..]
    );
    // About 10k tokens of four bytes, plus the header.
    assert!(out.content.len() < 40_000 + 200, "{}", out.content.len());
    // The item keeps the whole (bounded) output.
    let (_, output, _, _) = completed_command(&h.events());
    assert_eq!(output.lines().count(), 20000);
}

#[tokio::test]
async fn huge_output_stays_bounded() {
    let mut h = Harness::new();
    let started = Instant::now();
    let out = h
        .dispatch(
            "shell_command",
            json!({"command": "yes abcdefghij | head -c 50000000"}),
        )
        .await;
    assert!(
        out.success,
        "{}",
        &out.content[..200.min(out.content.len())]
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    // 50,000,000 / 11 = 4,545,454 full lines and a partial one.
    assert!(
        out.content.contains("\nTotal output lines: 4545455\n"),
        "{}",
        &out.content[..200]
    );
    assert!(out.content.len() < 41_000, "{}", out.content.len());

    let events = h.events();
    let streamed = deltas(&events).len();
    assert!(streamed <= 4 * 1024 * 1024 + 8192, "{streamed}");
    let (_, output, _, _) = completed_command(&events);
    assert!(output.len() <= 1024 * 1024 + 100, "{}", output.len());
    assert!(output.contains("bytes of output omitted"));
    assert!(output.starts_with("abcdefghij\n"));
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let mut h = Harness::new();
    let started = Instant::now();
    let out = h
        .dispatch(
            "shell_command",
            json!({
                "command": "sleep 1000 & echo $! > grandchild.pid; echo waiting; wait",
                "timeout_ms": 1000,
            }),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!out.success);
    assert_matches(
        r"^Exit code: 124\nWall time: [0-9]+(\.[0-9])? seconds\nOutput:\ncommand timed out after [0-9]+ milliseconds\nwaiting\n$",
        &out.content,
    );
    let pid = read_pid(&h.path("grandchild.pid"));
    assert!(
        wait_dead(pid, Duration::from_secs(5)),
        "sleep {pid} survived"
    );

    let (_, output, code, status) = completed_command(&h.events());
    assert_eq!((code, status), (Some(124), CommandStatus::Failed));
    assert!(output.starts_with("command timed out after"), "{output}");
}

#[tokio::test]
async fn cancellation_kills_the_group_promptly() {
    let mut h = Harness::new();
    let ctx = h.ctx.clone();
    let task = tokio::spawn(async move {
        router()
            .dispatch(
                &ctx,
                function_call(
                    "shell_command",
                    &json!({"command": "sleep 1000 & echo $! > grandchild.pid; echo marker; wait"})
                        .to_string(),
                ),
            )
            .await
    });

    let mut seen = String::new();
    while !seen.contains("marker\n") {
        if let ThreadEvent::ItemDelta { delta, .. } =
            h.rx.recv().await.expect("events until the marker")
        {
            seen.push_str(&delta);
        }
    }
    let cancelled_at = Instant::now();
    h.ctx.cancel.cancel();
    let out = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the call returns after cancellation")
        .unwrap()
        .unwrap();
    assert!(cancelled_at.elapsed() < Duration::from_secs(3));
    assert!(!out.success);
    assert_matches(
        r"^Wall time: [0-9]+(\.[0-9])? seconds\naborted by user$",
        &out.content,
    );
    let pid = read_pid(&h.path("grandchild.pid"));
    assert!(
        wait_dead(pid, Duration::from_secs(5)),
        "sleep {pid} survived"
    );

    let (_, output, _, status) = completed_command(&h.events());
    assert_eq!(status, CommandStatus::Failed);
    assert!(output.ends_with("aborted by user"), "{output}");
}

#[tokio::test]
async fn dropping_the_call_kills_the_group() {
    let h = Harness::new();
    let ctx = h.ctx.clone();
    let pid_file = h.path("grandchild.pid");
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let mut seen_tx = Some(seen_tx);
    let task = tokio::spawn(async move {
        let req = ExecRequest::new(
            vec![
                "sh".into(),
                "-c".into(),
                "sleep 1000 & echo $! > grandchild.pid; echo marker; wait".into(),
            ],
            ctx.cwd.clone(),
        );
        let never = CancellationToken::new();
        exec::run(req, &never, &mut |_| {
            if let Some(tx) = seen_tx.take() {
                let _ = tx.send(());
            }
        })
        .await
    });
    seen_rx.await.unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let pid = read_pid(&pid_file);
    assert!(
        wait_dead(pid, Duration::from_secs(5)),
        "sleep {pid} survived"
    );
}

#[tokio::test]
async fn workdir_is_relative_to_cwd_and_must_exist() {
    let mut h = Harness::new();
    fs::create_dir(h.path("sub")).unwrap();
    let out = h
        .dispatch("shell_command", json!({"command": "pwd", "workdir": "sub"}))
        .await;
    assert!(out.success, "{}", out.content);
    assert!(
        out.content
            .ends_with(&format!("{}\n", h.path("sub").display())),
        "{}",
        out.content
    );
    h.events();

    let out = h
        .dispatch(
            "shell_command",
            json!({"command": "pwd", "workdir": "missing"}),
        )
        .await;
    assert!(!out.success);
    assert!(out.content.contains("does not exist"), "{}", out.content);
    let (_, output, code, status) = completed_command(&h.events());
    assert_eq!((code, status), (None, CommandStatus::Failed));
    assert_eq!(output, out.content);
}

#[tokio::test]
async fn read_only_sandbox_blocks_writes() {
    let mut h = Harness::with_sandbox(Some(SandboxMode::ReadOnly));
    let out = h
        .dispatch("shell_command", json!({"command": "touch marker"}))
        .await;
    assert!(!out.success);
    assert!(out.content.starts_with("Exit code: 1"), "{}", out.content);
    assert!(!h.path("marker").exists());

    let events = h.events();
    let items = lifecycle(&events);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].0, "started");
    let (command, output, code, status) = completed_command(&events);
    assert_eq!(command, "bash -lc 'touch marker'");
    assert_eq!((code, status), (Some(1), CommandStatus::Failed));
    assert!(output.contains("touch: cannot touch"), "{output}");
}

#[tokio::test]
async fn bad_arguments_are_tool_errors() {
    let mut h = Harness::new();
    let out = h.dispatch_raw("shell_command", "{not json").await;
    assert!(!out.success);
    assert!(out.content.contains("`shell_command`"), "{}", out.content);

    let out = h
        .dispatch("shell_command", json!({"command": {"script": "ls"}}))
        .await;
    assert!(!out.success);
    assert!(
        out.content
            .contains("must be an array of strings (argv) or a string"),
        "{}",
        out.content
    );
    let out = h.dispatch("shell", json!({"command": []})).await;
    assert!(!out.success);
    assert!(out.content.contains("empty"), "{}", out.content);
    let out = h.dispatch("shell", json!({"workdir": "."})).await;
    assert!(!out.success);
    assert!(out.content.contains("missing `command`"), "{}", out.content);
    // Nothing ran, so no item.
    assert!(lifecycle(&h.events()).is_empty());
}

#[tokio::test]
async fn shell_apply_patch_goes_to_the_patch_tool() {
    let mut h = Harness::new();
    let script =
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\nEOF\n";
    let out = h
        .dispatch("shell_command", json!({"command": script}))
        .await;
    assert!(out.success, "{}", out.content);
    assert_eq!(fs::read_to_string(h.path("hello.txt")).unwrap(), "hi\n");
    let events = h.events();
    assert!(events.iter().all(|ev| !matches!(
        ev,
        ThreadEvent::ItemStarted {
            item: ThreadItem {
                details: ItemDetails::CommandExecution { .. },
                ..
            }
        }
    )));
}

// ------------------------------------------------------------- environment

/// Variables the child run of [`commands_get_no_credentials`] starts with.
const SECRET_VARS: &[(&str, &str)] = &[
    ("CODELOOP_TEST_API_KEY", "codeloop-secret-api-key"),
    ("CODELOOP_TEST_GITHUB_TOKEN", "codeloop-secret-token"),
    ("CODELOOP_TEST_AWS_SECRET_ACCESS", "codeloop-secret-aws"),
    ("codeloop_test_db_password", "codeloop-secret-password"),
];
const PLAIN_VAR: (&str, &str) = ("CODELOOP_TEST_PLAIN", "codeloop-plain-value");
const CHILD_MARKER: &str = "CODELOOP_TEST_ENV_CHILD";

/// Commands never see credentials from the agent's environment. The test
/// runs itself again in a child process whose environment holds the
/// secrets, so no test mutates this process's environment (racy with the
/// other tests' spawns); the child does the checks.
#[tokio::test]
async fn commands_get_no_credentials() {
    if std::env::var_os(CHILD_MARKER).is_some() {
        return env_checks_in_child().await;
    }
    // libtest names tests without the crate: `suite::tools::...`.
    let module = module_path!().split_once("::").unwrap().1;
    let name = format!("{module}::commands_get_no_credentials");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .envs(SECRET_VARS.iter().copied())
        .env(PLAIN_VAR.0, PLAIN_VAR.1)
        .env(CHILD_MARKER, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    // Guard against a filter that matched nothing and "passed".
    assert!(stdout.contains("1 passed"), "{stdout}");
}

async fn env_checks_in_child() {
    // The secrets really are in this process, or the checks prove nothing.
    for (name, value) in SECRET_VARS {
        assert_eq!(std::env::var(name).unwrap(), *value);
    }
    let assert_scrubbed = |what: &str, env_output: &str| {
        for (name, value) in SECRET_VARS {
            assert!(
                !env_output.contains(value) && !env_output.contains(name),
                "{what}: {name} leaked:\n{env_output}"
            );
        }
        let plain = format!("{}={}", PLAIN_VAR.0, PLAIN_VAR.1);
        assert!(env_output.contains(&plain), "{what}:\n{env_output}");
        assert!(env_output.contains("\nPATH=") || env_output.starts_with("PATH="));
    };

    // The shell tool, every shape.
    let h = Harness::new();
    let out = h.dispatch("shell_command", json!({"command": "env"})).await;
    assert!(out.success, "{}", out.content);
    assert_scrubbed("shell_command", &out.content);
    let out = h.dispatch("shell", json!({"command": ["env"]})).await;
    assert!(out.success, "{}", out.content);
    assert_scrubbed("shell", &out.content);

    // The runner's default is the scrubbed environment too.
    let req = ExecRequest::new(vec!["env".into()], h.ctx.cwd.clone());
    assert_eq!(req.env, ExecEnv::Scrubbed);
    let out = exec::run(req, &CancellationToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert_scrubbed("ExecRequest::new", &out.stdout);

    // Only an explicit Inherit passes them on.
    let mut req = ExecRequest::new(vec!["env".into()], h.ctx.cwd.clone());
    req.env = ExecEnv::Inherit;
    let out = exec::run(req, &CancellationToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(out.stdout.contains("codeloop-secret-api-key"));
}

// --------------------------------------------------------------- approvals

/// A host that answers every approval with `answer` (an `Err` is a failing
/// callback) and keeps the requests.
struct ApprovalHost {
    answer: Result<ApprovalDecision, String>,
    requests: Mutex<Vec<ApprovalRequest>>,
}

impl ApprovalHost {
    fn new(answer: Result<ApprovalDecision, String>) -> Arc<Self> {
        Arc::new(ApprovalHost {
            answer,
            requests: Mutex::new(Vec::new()),
        })
    }

    fn requests(&self) -> Vec<ApprovalRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl Host for ApprovalHost {
    async fn approve(&self, request: ApprovalRequest) -> codeloop_core::Result<ApprovalDecision> {
        self.requests.lock().unwrap().push(request);
        self.answer.clone().map_err(codeloop_core::Error::Host)
    }
}

impl Harness {
    fn with_approvals(policy: ApprovalPolicy, host: Arc<dyn Host>) -> Self {
        let mut h = Harness::new();
        h.ctx.approval_policy = policy;
        h.ctx.host = host;
        h
    }
}

const ADD_HELLO_PATCH: &str = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n";

fn custom_call(name: &str, input: &str) -> ToolCall {
    ToolCall {
        call_id: "call_1".into(),
        name: name.into(),
        payload: ToolPayload::Custom {
            input: input.into(),
        },
    }
}

/// The completed file_change item: (changes, status).
fn completed_patch(events: &[ThreadEvent]) -> (Vec<FileUpdateChange>, PatchStatus) {
    events
        .iter()
        .find_map(|ev| match ev {
            ThreadEvent::ItemCompleted {
                item:
                    ThreadItem {
                        details: ItemDetails::FileChange { changes, status },
                        ..
                    },
            } => Some((changes.clone(), *status)),
            _ => None,
        })
        .expect("a completed file_change item")
}

#[tokio::test]
async fn asking_policies_fail_closed_without_a_host() {
    {
        let policy = ApprovalPolicy::Untrusted;
        let mut h = Harness::with_approvals(policy, Arc::new(HeadlessHost));
        let out = h
            .dispatch("shell_command", json!({"command": "touch marker"}))
            .await;
        assert!(!out.success);
        assert!(out.content.contains("declined"), "{}", out.content);
        assert!(!h.path("marker").exists(), "{policy:?}: the command ran");
        let events = h.events();
        let items = lifecycle(&events);
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0].0, "started");
        let (command, output, code, status) = completed_command(&events);
        assert_eq!(command, "bash -lc 'touch marker'");
        assert_eq!(
            (output.as_str(), code, status),
            ("", None, CommandStatus::Declined)
        );
        assert!(deltas(&events).is_empty());
        // A plain decline lets the turn go on.
        assert!(!h.ctx.cancel.is_cancelled());

        let out = router()
            .dispatch(&h.ctx, custom_call("apply_patch", ADD_HELLO_PATCH))
            .await
            .unwrap();
        assert!(!out.success);
        assert!(out.content.contains("declined"), "{}", out.content);
        assert!(
            !h.path("hello.txt").exists(),
            "{policy:?}: the patch applied"
        );
        let (changes, status) = completed_patch(&h.events());
        assert_eq!(status, PatchStatus::Declined);
        assert_eq!(changes.len(), 1);
    }
}

#[tokio::test]
async fn approved_commands_run_and_the_host_sees_what_and_where() {
    for decision in [
        ApprovalDecision::Approve,
        ApprovalDecision::ApproveForSession,
    ] {
        let host = ApprovalHost::new(Ok(decision));
        let mut h = Harness::with_approvals(ApprovalPolicy::Untrusted, host.clone());
        fs::create_dir(h.path("sub")).unwrap();
        let out = h
            .dispatch(
                "shell",
                json!({"command": ["touch", "marker"], "workdir": "sub"}),
            )
            .await;
        assert!(out.success, "{}", out.content);
        assert!(h.path("sub/marker").exists());
        let (_, _, code, status) = completed_command(&h.events());
        assert_eq!((code, status), (Some(0), CommandStatus::Completed));

        let requests = host.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        let request = &requests[0];
        assert_eq!(request.thread_id, "thread-test");
        assert_eq!(request.call_id, "call_1");
        assert_eq!(request.cwd, h.path("sub").display().to_string());
        assert!(
            request
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("untrusted")),
            "{:?}",
            request.reason
        );
        assert_eq!(
            request.action,
            ApprovalAction::Command {
                command: vec!["touch".into(), "marker".into()]
            }
        );
    }
}

#[tokio::test]
async fn on_request_asks_only_to_escalate_and_runs_approved_commands_unsandboxed() {
    let host = ApprovalHost::new(Ok(ApprovalDecision::Approve));
    let mut h = Harness::with_approvals(ApprovalPolicy::OnRequest, host.clone());
    h.ctx.sandbox = codeloop_core::sandbox::SandboxPolicy::new(
        codeloop_core::protocol::SandboxMode::ReadOnly,
        &h.ctx.cwd.clone(),
        &[],
        false,
    );
    // Within the sandbox nothing is asked; read-only mode keeps the write out.
    let out = h
        .dispatch("shell_command", json!({"command": "touch inside"}))
        .await;
    assert!(host.requests().is_empty());
    assert!(!h.path("inside").exists(), "{}", out.content);
    // Escalated with a justification: asked, approved, run outside the sandbox.
    let out = h
        .dispatch(
            "shell_command",
            json!({"command": "touch outside", "sandbox_permissions": "require_escalated",
                   "justification": "needs to write the build output"}),
        )
        .await;
    assert!(out.success, "{}", out.content);
    assert!(h.path("outside").exists());
    let requests = host.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("needs to write the build output")));
}

#[tokio::test]
async fn escalation_under_never_is_refused_without_asking() {
    let host = ApprovalHost::new(Ok(ApprovalDecision::Approve));
    let mut h = Harness::with_approvals(ApprovalPolicy::Never, host.clone());
    h.ctx.sandbox = codeloop_core::sandbox::SandboxPolicy::new(
        codeloop_core::protocol::SandboxMode::WorkspaceWrite,
        &h.ctx.cwd.clone(),
        &[],
        false,
    );
    let out = h
        .dispatch(
            "shell_command",
            json!({"command": "touch x", "sandbox_permissions": "require_escalated"}),
        )
        .await;
    assert!(!out.success);
    assert!(
        out.content.contains("approval policy is `never`"),
        "{}",
        out.content
    );
    assert!(host.requests().is_empty());
    assert!(!h.path("x").exists());
}

#[tokio::test]
async fn approve_for_session_is_remembered_for_the_same_command_only() {
    let host = ApprovalHost::new(Ok(ApprovalDecision::ApproveForSession));
    let h = Harness::with_approvals(ApprovalPolicy::Untrusted, host.clone());
    for _ in 0..3 {
        let out = h
            .dispatch("shell_command", json!({"command": "touch a"}))
            .await;
        assert!(out.success, "{}", out.content);
    }
    assert_eq!(host.requests().len(), 1, "asked once for the same command");
    h.dispatch("shell_command", json!({"command": "touch b"}))
        .await;
    assert_eq!(host.requests().len(), 2, "a different command asks again");
    // Known read-only commands never ask under untrusted.
    let out = h
        .dispatch("shell_command", json!({"command": "ls -la"}))
        .await;
    assert!(out.success, "{}", out.content);
    assert_eq!(host.requests().len(), 2);
}

#[tokio::test]
async fn policy_never_does_not_ask() {
    let host = ApprovalHost::new(Ok(ApprovalDecision::Deny));
    let h = Harness::with_approvals(ApprovalPolicy::Never, host.clone());
    let out = h
        .dispatch("shell_command", json!({"command": "touch marker"}))
        .await;
    assert!(out.success, "{}", out.content);
    assert!(h.path("marker").exists());
    assert!(host.requests().is_empty());
}

#[tokio::test]
async fn aborting_declines_and_stops_the_turn() {
    let host = ApprovalHost::new(Ok(ApprovalDecision::Abort));
    let mut h = Harness::with_approvals(ApprovalPolicy::Untrusted, host.clone());
    let out = h
        .dispatch("shell_command", json!({"command": "touch marker"}))
        .await;
    assert!(!out.success);
    assert!(out.content.contains("stopped the turn"), "{}", out.content);
    assert!(!h.path("marker").exists());
    assert!(h.ctx.cancel.is_cancelled());
    let (_, _, code, status) = completed_command(&h.events());
    assert_eq!((code, status), (None, CommandStatus::Declined));
    assert_eq!(host.requests().len(), 1);
}

#[tokio::test]
async fn a_failing_approval_callback_fails_the_call() {
    let host = ApprovalHost::new(Err("the callback threw".into()));
    let mut h = Harness::with_approvals(ApprovalPolicy::Untrusted, host.clone());
    let err = router()
        .dispatch(
            &h.ctx,
            function_call(
                "shell_command",
                &json!({"command": "touch marker"}).to_string(),
            ),
        )
        .await
        .expect_err("a failing host callback is an error");
    assert!(err.to_string().contains("the callback threw"), "{err}");
    assert!(!h.path("marker").exists());
    // The item is closed, not left in progress.
    let (_, _, _, status) = completed_command(&h.events());
    assert_eq!(status, CommandStatus::Failed);

    let err = router()
        .dispatch(&h.ctx, custom_call("apply_patch", ADD_HELLO_PATCH))
        .await
        .expect_err("a failing host callback is an error");
    assert!(err.to_string().contains("the callback threw"), "{err}");
    assert!(!h.path("hello.txt").exists());
    assert_eq!(completed_patch(&h.events()).1, PatchStatus::Failed);
}

#[tokio::test]
async fn a_patch_through_the_shell_asks_as_a_file_change() {
    let host = ApprovalHost::new(Ok(ApprovalDecision::Approve));
    let mut h = Harness::with_approvals(ApprovalPolicy::Untrusted, host.clone());
    fs::create_dir(h.path("sub")).unwrap();
    let script = format!("apply_patch <<'EOF'\n{ADD_HELLO_PATCH}EOF\n");
    let out = h
        .dispatch(
            "shell_command",
            json!({"command": script, "workdir": "sub"}),
        )
        .await;
    assert!(out.success, "{}", out.content);
    assert_eq!(fs::read_to_string(h.path("sub/hello.txt")).unwrap(), "hi\n");
    let requests = host.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].call_id, "call_1");
    assert_eq!(requests[0].cwd, h.path("sub").display().to_string());
    let expected = FileUpdateChange {
        path: h.path("sub/hello.txt").display().to_string(),
        kind: PatchChangeKind::Add,
    };
    assert_eq!(
        requests[0].action,
        ApprovalAction::FileChange {
            changes: vec![expected.clone()],
            patch: ADD_HELLO_PATCH.into(),
        }
    );
    assert_eq!(
        completed_patch(&h.events()),
        (vec![expected], PatchStatus::Completed)
    );

    // Declined through the shell: nothing written, file_change declined.
    h.ctx.host = ApprovalHost::new(Ok(ApprovalDecision::Deny));
    let script =
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: other.txt\n+x\n*** End Patch\nEOF\n";
    let out = h
        .dispatch("shell_command", json!({"command": script}))
        .await;
    assert!(!out.success);
    assert!(out.content.contains("declined"), "{}", out.content);
    assert!(!h.path("other.txt").exists());
    assert_eq!(completed_patch(&h.events()).1, PatchStatus::Declined);
}

#[tokio::test]
async fn a_patch_through_the_shell_obeys_the_tool_lists() {
    let h = Harness::new();
    let script = format!("apply_patch <<'EOF'\n{ADD_HELLO_PATCH}EOF\n");
    let routers = [
        AgentOptions {
            codeloop_home: Some(super::support::no_home()),
            disallowed_tools: vec!["apply_patch".into()],
            ..AgentOptions::default()
        },
        AgentOptions {
            codeloop_home: Some(super::support::no_home()),
            allowed_tools: Some(vec!["shell_command".into()]),
            ..AgentOptions::default()
        },
    ]
    .map(|options| ToolRouter::new(&options, WireApi::Responses));
    for router in routers {
        assert!(!router.offers("apply_patch"));
        let out = router
            .dispatch(
                &h.ctx,
                function_call("shell_command", &json!({"command": script}).to_string()),
            )
            .await
            .unwrap();
        assert!(!out.success);
        assert!(
            out.content.contains("apply_patch tool is not available"),
            "{}",
            out.content
        );
        assert!(!h.path("hello.txt").exists());
    }
}

// ------------------------------------------------------- numeric arguments

#[tokio::test]
async fn numeric_arguments_take_floats_and_non_positive_means_default() {
    let h = Harness::new();
    // Floats, as the "number" schema allows; zero or less is the default
    // (60 s here), not an instant timeout.
    for timeout in [
        json!(120000.0),
        json!(0),
        json!(-5),
        json!(0.2),
        json!("120000"),
    ] {
        let out = h
            .dispatch(
                "shell_command",
                json!({"command": "echo ok", "timeout_ms": timeout}),
            )
            .await;
        assert!(out.success, "timeout_ms {timeout}: {}", out.content);
        assert!(out.content.ends_with("Output:\nok\n"), "{}", out.content);
    }
    // A float timeout is honored, rounded: 1.4 -> 1 ms.
    let out = h
        .dispatch(
            "shell_command",
            json!({"command": "sleep 5", "timeout_ms": 1.4}),
        )
        .await;
    assert!(!out.success);
    assert!(
        out.content.starts_with("Exit code: 124\n"),
        "{}",
        out.content
    );

    let out = h
        .dispatch(
            "exec_command",
            json!({"cmd": "seq 1 1000", "max_output_tokens": 5.0, "yield_time_ms": 250.5}),
        )
        .await;
    assert!(out.success, "{}", out.content);
    assert!(out.content.contains("tokens truncated"), "{}", out.content);
    for max in [json!(0), json!(-1.5)] {
        let out = h
            .dispatch(
                "exec_command",
                json!({"cmd": "seq 1 1000", "max_output_tokens": max}),
            )
            .await;
        assert!(out.success, "{}", out.content);
        assert!(out.content.ends_with("999\n1000\n"), "{}", out.content);
        assert!(!out.content.contains("truncated"), "{}", out.content);
    }

    let out = h
        .dispatch(
            "shell_command",
            json!({"command": "echo ok", "timeout_ms": true}),
        )
        .await;
    assert!(!out.success);
    assert!(out.content.contains("expected a number"), "{}", out.content);
}

// ------------------------------------------------------------- tool names

#[test]
fn builtin_names_are_reserved_for_the_builtins() {
    for name in [
        "shell",
        "shell_command",
        "exec_command",
        "local_shell",
        "container.exec",
        "apply_patch",
        "update_plan",
        "view_image",
        "read_file",
        "list_dir",
        "grep_files",
    ] {
        assert!(is_builtin_tool_name(name), "{name}");
    }
    for name in ["deploy", "Shell", "shell2", ""] {
        assert!(!is_builtin_tool_name(name), "{name}");
    }
    // Every name the router can offer is covered.
    for spec in router().specs() {
        assert!(is_builtin_tool_name(spec.name()), "{}", spec.name());
    }

    // A colliding host tool is not offered, so no name is offered twice.
    let host_tool = |name: &str| HostToolSpec {
        name: name.into(),
        description: String::new(),
        parameters: json!({"type": "object", "properties": {}}),
    };
    let options = AgentOptions {
        codeloop_home: Some(super::support::no_home()),
        host_tools: vec![
            host_tool("read_file"),
            host_tool("exec_command"),
            host_tool("deploy"),
        ],
        ..AgentOptions::default()
    };
    let router = ToolRouter::new(&options, WireApi::Responses);
    let names: Vec<&str> = router.specs().iter().map(|s| s.name()).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert!(names.contains(&"deploy"), "{names:?}");
    assert!(!names.contains(&"exec_command"), "{names:?}");
}

// -------------------------------------------------------------- file tools

fn tool_call_items(events: &[ThreadEvent]) -> Vec<(&'static str, ItemDetails)> {
    lifecycle(events)
        .into_iter()
        .map(|(k, item)| (k, item.details))
        .collect()
}

#[tokio::test]
async fn read_file_numbers_lines() {
    let mut h = Harness::new();
    fs::write(h.path("f.txt"), "a\nb\r\nc\nd\n").unwrap();
    let out = h
        .dispatch(
            "read_file",
            json!({"file_path": "f.txt", "offset": 2, "limit": 2}),
        )
        .await;
    assert!(out.success, "{}", out.content);
    assert_eq!(out.content, "L2: b\nL3: c");

    let abs = h.path("f.txt").display().to_string();
    let out = h.dispatch("read_file", json!({"file_path": abs})).await;
    assert_eq!(out.content, "L1: a\nL2: b\nL3: c\nL4: d");

    let items = tool_call_items(&h.events());
    assert_eq!(items.len(), 4);
    assert!(matches!(
        &items[0],
        ("started", ItemDetails::ToolCall { tool, status: ToolCallStatus::InProgress, output: None, .. })
            if tool == "read_file"
    ));
    assert!(matches!(
        &items[1],
        ("completed", ItemDetails::ToolCall { status: ToolCallStatus::Completed, output: Some(o), arguments, .. })
            if o == "L2: b\nL3: c" && arguments["offset"] == 2
    ));

    let out = h
        .dispatch("read_file", json!({"file_path": "f.txt", "offset": 9}))
        .await;
    assert!(!out.success);
    assert!(
        out.content.contains("offset exceeds file length"),
        "{}",
        out.content
    );
    let out = h
        .dispatch("read_file", json!({"file_path": "nope.txt"}))
        .await;
    assert!(!out.success);
    assert!(
        out.content.contains("failed to read file"),
        "{}",
        out.content
    );
    let items = tool_call_items(&h.events());
    assert!(matches!(
        &items[1],
        (
            "completed",
            ItemDetails::ToolCall {
                status: ToolCallStatus::Failed,
                error: Some(_),
                ..
            }
        )
    ));
    let out = h.dispatch("read_file", json!({"offset": 1})).await;
    assert!(!out.success);
    assert!(out.content.contains("`read_file`"), "{}", out.content);
}

#[tokio::test]
async fn read_file_indentation_mode() {
    let h = Harness::new();
    fs::write(
        h.path("m.py"),
        "import os\n\ndef f():\n    x = 1\n    return x\n\ndef g():\n    pass\n",
    )
    .unwrap();
    let out = h
        .dispatch(
            "read_file",
            json!({"file_path": "m.py", "offset": 4, "mode": "indentation"}),
        )
        .await;
    assert!(out.success, "{}", out.content);
    assert_eq!(out.content, "L3: def f():\nL4:     x = 1\nL5:     return x");
    let out = h
        .dispatch("read_file", json!({"file_path": "m.py", "mode": "outline"}))
        .await;
    assert!(!out.success);
}

fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("a/nested")).unwrap();
    fs::create_dir_all(root.join("target/debug")).unwrap();
    fs::write(root.join("a/b.txt"), "x").unwrap();
    fs::write(root.join("a/nested/c.txt"), "x").unwrap();
    fs::write(root.join("z.txt"), "x").unwrap();
    fs::write(root.join("target/debug/out"), "x").unwrap();
    fs::write(root.join(".gitignore"), "target/\n").unwrap();
    std::os::unix::fs::symlink("z.txt", root.join("link")).unwrap();
}

#[tokio::test]
async fn list_dir_prints_a_tree_and_respects_gitignore() {
    let mut h = Harness::new();
    make_tree(&h.ctx.cwd);
    let root = h.ctx.cwd.display().to_string();
    let out = h.dispatch("list_dir", json!({"dir_path": &root})).await;
    assert!(out.success, "{}", out.content);
    assert_eq!(
        out.content,
        format!("Absolute path: {root}\n.gitignore\na/\n  b.txt\n  nested/\nlink@\nz.txt")
    );

    let out = h
        .dispatch(
            "list_dir",
            json!({"dir_path": ".", "depth": 3, "offset": 2, "limit": 3}),
        )
        .await;
    assert_eq!(
        out.content,
        format!("Absolute path: {root}\na/\n  b.txt\n  nested/\nMore than 3 entries found")
    );

    let out = h
        .dispatch("list_dir", json!({"dir_path": ".", "offset": 50}))
        .await;
    assert!(!out.success);
    assert!(out.content.contains("offset exceeds"), "{}", out.content);
    let out = h.dispatch("list_dir", json!({"dir_path": "z.txt"})).await;
    assert!(!out.success);
    let items = tool_call_items(&h.events());
    assert_eq!(items.len(), 8);
}

#[tokio::test]
async fn grep_files_lists_matching_files_newest_first() {
    let h = Harness::new();
    let root = &h.ctx.cwd;
    fs::create_dir_all(root.join("ignored")).unwrap();
    fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
    fs::write(root.join("old.rs"), "fn needle() {}\n").unwrap();
    fs::write(root.join("new.txt"), "a needle here\n").unwrap();
    fs::write(root.join("other.rs"), "nothing\n").unwrap();
    fs::write(root.join("ignored/hit.rs"), "needle\n").unwrap();
    let set_mtime = |name: &str, secs: u64| {
        let f = fs::File::options()
            .write(true)
            .open(root.join(name))
            .unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    };
    set_mtime("old.rs", 1_000_000);
    set_mtime("new.txt", 2_000_000);

    let out = h
        .dispatch("grep_files", json!({"pattern": "needl[e]"}))
        .await;
    assert!(out.success, "{}", out.content);
    assert_eq!(
        out.content,
        format!(
            "{}\n{}",
            root.join("new.txt").display(),
            root.join("old.rs").display()
        )
    );

    let out = h
        .dispatch(
            "grep_files",
            json!({"pattern": "needle", "include": "*.rs"}),
        )
        .await;
    assert_eq!(out.content, root.join("old.rs").display().to_string());
    let out = h
        .dispatch("grep_files", json!({"pattern": "needle", "limit": 1}))
        .await;
    assert_eq!(out.content, root.join("new.txt").display().to_string());
    let out = h
        .dispatch(
            "grep_files",
            json!({"pattern": "needle", "path": "ignored/hit.rs"}),
        )
        .await;
    assert_eq!(
        out.content,
        root.join("ignored/hit.rs").display().to_string()
    );

    let out = h
        .dispatch("grep_files", json!({"pattern": "absent-word"}))
        .await;
    assert!(out.success);
    assert_eq!(out.content, "No matches found.");
    let out = h.dispatch("grep_files", json!({"pattern": "("})).await;
    assert!(!out.success);
    assert!(out.content.contains("invalid regex"), "{}", out.content);
}

// ------------------------------------------------------------- update_plan

#[tokio::test]
async fn update_plan_starts_then_updates_one_todo_list() {
    let mut h = Harness::new();
    let out = h
        .dispatch(
            "update_plan",
            json!({"explanation": "first", "plan": [
                {"step": "read", "status": "completed"},
                {"step": "fix", "status": "in_progress"},
            ]}),
        )
        .await;
    assert!(out.success);
    assert_eq!(out.content, "Plan updated");
    let out = h
        .dispatch(
            "update_plan",
            json!({"plan": [
                {"step": "read", "status": "completed"},
                {"step": "fix", "status": "completed"},
                {"step": "test", "status": "pending"},
            ]}),
        )
        .await;
    assert!(out.success);

    let items = lifecycle(&h.events());
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].0, "started");
    assert_eq!(items[1].0, "updated");
    assert_eq!(items[0].1.id, items[1].1.id);
    let todo = |text: &str, completed| TodoItem {
        text: text.into(),
        completed,
    };
    assert_eq!(
        items[1].1.details,
        ItemDetails::TodoList {
            items: vec![todo("read", true), todo("fix", true), todo("test", false)]
        }
    );
    let stored = h.ctx.plan_item.lock().unwrap().clone().unwrap();
    assert_eq!(stored, items[1].1);

    let out = h
        .dispatch(
            "update_plan",
            json!({"plan": [{"step": "x", "status": "done"}]}),
        )
        .await;
    assert!(!out.success);
    assert!(out.content.contains("update_plan"), "{}", out.content);
}

// -------------------------------------------------------------- view_image

#[tokio::test]
async fn view_image_attaches_a_data_url() {
    let mut h = Harness::new();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    fs::write(h.path("pic.png"), png).unwrap();
    let out = h.dispatch("view_image", json!({"path": "pic.png"})).await;
    assert!(out.success, "{}", out.content);
    assert_eq!(out.content, "attached local image path");
    assert_eq!(
        out.extra_input,
        vec![ResponseItem::Message {
            id: None,
            role: "user".into(),
            content: vec![ContentItem::InputImage {
                image_url: "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==".into()
            }],
        }]
    );
    let items = tool_call_items(&h.events());
    assert!(matches!(
        &items[1],
        ("completed", ItemDetails::ToolCall { tool, status: ToolCallStatus::Completed, .. })
            if tool == "view_image"
    ));

    fs::write(h.path("notes.png"), "just text").unwrap();
    let out = h.dispatch("view_image", json!({"path": "notes.png"})).await;
    assert!(!out.success);
    assert!(out.extra_input.is_empty());
    assert!(
        out.content.contains("not a PNG, JPEG, GIF or WebP"),
        "{}",
        out.content
    );
    let out = h
        .dispatch("view_image", json!({"path": "missing.png"}))
        .await;
    assert!(!out.success);
}

// ------------------------------------------------------------------- specs

#[test]
fn router_offers_the_codex_tools() {
    let router = router();
    let names: Vec<&str> = router.specs().iter().map(|s| s.name()).collect();
    for name in [
        "shell_command",
        "update_plan",
        "view_image",
        "read_file",
        "list_dir",
        "grep_files",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    for kind in [
        codeloop_core::protocol::ShellToolKind::Shell,
        codeloop_core::protocol::ShellToolKind::ShellCommand,
        codeloop_core::protocol::ShellToolKind::ExecCommand,
    ] {
        let spec = codeloop_core::tools::shell::spec(kind, false);
        let value = serde_json::to_value(&spec).unwrap();
        assert_eq!(value["type"], "function");
        assert_eq!(value["parameters"]["additionalProperties"], false);
        assert!(value["parameters"]["properties"]["sandbox_permissions"].is_null());
        // Offered when a host can approve: the model may ask to escalate.
        let escalating =
            serde_json::to_value(codeloop_core::tools::shell::spec(kind, true)).unwrap();
        let props = &escalating["parameters"]["properties"];
        assert_eq!(props["sandbox_permissions"]["enum"][1], "require_escalated");
        assert_eq!(props["justification"]["type"], "string");
    }
}
