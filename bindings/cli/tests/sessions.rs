//! Sessions as unattended jobs meet them: `codeloop exec` killed with
//! SIGKILL mid-turn and resumed, two processes writing one session directory
//! at once, `resume --last`, `exec fork`. The real binary, the mock model
//! server on loopback, temp dirs; no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use codeloop_mock_server::responses;
use serde_json::Value;

mod common;
use common::{background_sleep_turn, read_pid, run, signal_once_started, Env};

/// The events of a run that succeeded.
fn events(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::events(out)
}

fn thread_id(events: &[Value]) -> String {
    assert_eq!(events[0]["type"], "thread.started");
    events[0]["thread_id"].as_str().unwrap().to_string()
}

/// What the model saw: (item type, its text or call id).
fn shape(input: &[Value]) -> Vec<(String, String)> {
    input
        .iter()
        .map(|i| {
            let what = i["content"][0]["text"]
                .as_str()
                .or_else(|| i["call_id"].as_str())
                .unwrap_or_default();
            let what = if what.starts_with("<environment_context>") {
                "<env>"
            } else {
                what
            };
            (
                i["type"].as_str().unwrap_or("message").to_string(),
                what.to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Every line of every rollout is whole JSON.
fn assert_well_formed(files: &[PathBuf]) {
    for path in files {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.ends_with('\n'), "{} ends mid-line", path.display());
        for line in text.lines() {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("{}: {line:?}: {e}", path.display()));
        }
    }
}

fn kill(pid: i32) {
    // SAFETY: signalling a process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

#[tokio::test]
async fn sigkill_mid_command_then_resume_and_resume_last_continue() {
    let env = Env::new().await;
    let pidfile = env.repo.path().join("sleep.pid");
    env.server.push(background_sleep_turn("r1", &pidfile));
    let mut cmd = env.exec();
    cmd.arg("--include-deltas").arg("start the job");
    // Killed mid-turn, once the command is running (its output streams).
    let (status, seen) = signal_once_started(cmd, libc::SIGKILL).await;
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(seen.iter().all(|e| e["type"] != "turn.completed"));
    let id = thread_id(&seen);
    // The command's own child outlives a SIGKILLed codeloop; end it.
    kill(read_pid(&pidfile));
    assert_well_formed(&env.rollouts());

    env.server.push(responses::text_turn("r2", "resumed"));
    let mut cmd = env.exec();
    cmd.args(["resume", &id]);
    let evs = events(&run(cmd, "continue").await);
    assert_eq!(thread_id(&evs), id);
    assert_eq!(evs.last().unwrap()["type"], "turn.completed");
    let input = env.server.requests()[1].input().to_vec();
    let before_kill = [
        ("message", "<env>"),
        ("message", "start the job"),
        ("function_call", "call_1"),
        ("function_call_output", "call_1"),
    ];
    let mut expected = before_kill.to_vec();
    expected.push(("message", "continue"));
    assert_eq!(shape(&input), pairs(&expected));
    assert!(
        input[3]["output"].as_str().unwrap().starts_with("aborted"),
        "{}",
        input[3]
    );

    env.server.push(responses::text_turn("r3", "again"));
    let mut cmd = env.exec();
    cmd.args(["resume", "--last"]);
    let evs = events(&run(cmd, "and again").await);
    assert_eq!(thread_id(&evs), id);
    expected.extend([("message", "resumed"), ("message", "and again")]);
    assert_eq!(shape(env.server.requests()[2].input()), pairs(&expected));
    assert_eq!(env.rollouts().len(), 1);
    assert_well_formed(&env.rollouts());
}

/// Killed while the second of two commands of one response runs: the first
/// command's output was written when it ended, so the resumed thread has it.
#[tokio::test]
async fn sigkill_after_a_finished_call_keeps_its_output() {
    let env = Env::new().await;
    let pidfile = env.repo.path().join("sleep.pid");
    let slow = format!(
        "sleep 300 & echo $! > {}; echo started; wait",
        pidfile.display()
    );
    env.server.push(responses::turn(
        "r1",
        [
            responses::function_call_item(
                "call_1",
                "shell_command",
                &serde_json::json!({"command": "echo first-call-done"}).to_string(),
            ),
            responses::function_call_item(
                "call_2",
                "shell_command",
                &serde_json::json!({ "command": slow }).to_string(),
            ),
        ],
    ));
    let mut cmd = env.exec();
    cmd.arg("--include-deltas").arg("two commands");
    let (_, seen) = signal_once_started(cmd, libc::SIGKILL).await;
    let id = thread_id(&seen);
    kill(read_pid(&pidfile));
    assert_well_formed(&env.rollouts());

    env.server.push(responses::text_turn("r2", "resumed"));
    let mut cmd = env.exec();
    cmd.args(["resume", &id]);
    events(&run(cmd, "continue").await);
    let input = env.server.requests()[1].input().to_vec();
    let output = |call: &str| {
        input
            .iter()
            .find(|i| i["type"] == "function_call_output" && i["call_id"] == call)
            .and_then(|i| i["output"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(output("call_1").contains("first-call-done"), "{input:?}");
    assert!(output("call_2").starts_with("aborted"), "{input:?}");
}

#[tokio::test]
async fn two_processes_share_a_session_dir_and_last_follows_the_last_write() {
    let env = Env::new().await;
    env.server.push(responses::text_turn("r1", "ok"));
    env.server.push(responses::text_turn("r2", "ok"));
    let (a, b) = tokio::join!(run(env.exec(), "alpha"), run(env.exec(), "beta"));
    let (a, b) = (events(&a), events(&b));
    let (a, b) = (thread_id(&a), thread_id(&b));
    assert_ne!(a, b);
    let files = env.rollouts();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_well_formed(&files);
    for file in &files {
        let last: Value = serde_json::from_str(
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .last()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(last["type"], "turn_completed", "{}", file.display());
    }

    // UUID v7 ids sort by creation: continue the older thread, and --last
    // must pick it, being the last one written.
    let older = a.clone().min(b.clone());
    let prompt_of_older = if older == a { "alpha" } else { "beta" };
    env.server.push(responses::text_turn("r3", "more done"));
    let mut cmd = env.exec();
    cmd.args(["resume", &older]);
    events(&run(cmd, "more").await);
    env.server.push(responses::text_turn("r4", "last done"));
    let mut cmd = env.exec();
    cmd.args(["resume", "--last"]);
    assert_eq!(thread_id(&events(&run(cmd, "last").await)), older);

    // A fork at turn 1 of that thread: a new thread from its first turn.
    let source = files
        .iter()
        .find(|f| f.to_string_lossy().contains(&older))
        .unwrap();
    let before = std::fs::read(source).unwrap();
    env.server.push(responses::text_turn("r5", "forked"));
    let mut cmd = env.exec();
    cmd.args(["fork", &older, "--at-turn", "1"]);
    let forked = thread_id(&events(&run(cmd, "side quest").await));
    assert_ne!(forked, older);
    assert_eq!(
        shape(env.server.requests()[4].input()),
        pairs(&[
            ("message", "<env>"),
            ("message", prompt_of_older),
            ("message", "ok"),
            ("message", "side quest"),
        ])
    );
    assert_eq!(std::fs::read(source).unwrap(), before);
    assert_eq!(env.rollouts().len(), 3);
    let mut cmd = env.exec();
    cmd.args(["fork", &older, "--at-turn", "9"]);
    let out = run(cmd, "nope").await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has 3 turn(s); cannot fork at turn 9"),
        "{stderr}"
    );
    assert!(Path::new(source).exists());
}

#[tokio::test]
async fn resume_last_stays_in_the_working_directory_unless_all() {
    let env = Env::new().await;
    env.server.push(responses::text_turn("r1", "here"));
    let here = thread_id(&events(&run(env.exec(), "in the repo").await));
    // Another job in another directory shares the session directory and
    // writes last.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir(other.path().join(".git")).unwrap();
    env.server.push(responses::text_turn("r2", "there"));
    let mut cmd = env.exec();
    cmd.arg("--cd").arg(other.path());
    let there = thread_id(&events(&run(cmd, "in the other dir").await));
    assert_ne!(here, there);

    // `--all`: the latest of every directory (written to again, it stays so).
    env.server.push(responses::text_turn("r3", "anywhere"));
    let mut cmd = env.exec();
    cmd.args(["resume", "--last", "--all"]);
    assert_eq!(thread_id(&events(&run(cmd, "go on").await)), there);

    // Without: the latest of this directory, whatever ran elsewhere since.
    env.server.push(responses::text_turn("r4", "back here"));
    let mut cmd = env.exec();
    cmd.args(["resume", "--last"]);
    assert_eq!(thread_id(&events(&run(cmd, "go on").await)), here);
    assert_eq!(env.rollouts().len(), 2);
}
