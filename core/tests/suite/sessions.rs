//! Rollout files: fork (whole and at a turn), many threads writing one
//! session directory at once, ephemeral threads. Real HTTP to the mock model
//! server, real files in temp dirs.

use codeloop_core::protocol::AgentOptions;
use codeloop_core::session::{RolloutRecord, SessionStore};
use codeloop_core::{Agent, Error};
use codeloop_mock_server::responses;
use serde_json::{json, Value};

use super::support::Harness;

async fn harness() -> Harness {
    Harness::new().await.with_sessions()
}

/// The request inputs as (type, text or call id) pairs: what the model saw.
fn shape(input: &[Value]) -> Vec<(String, String)> {
    input
        .iter()
        .map(|i| {
            let kind = i["type"].as_str().unwrap_or("message").to_string();
            let what = i["content"][0]["text"]
                .as_str()
                .or_else(|| i["call_id"].as_str())
                .unwrap_or_default();
            let what = if what.starts_with("<environment_context>") {
                "<environment_context>"
            } else {
                what
            };
            (kind, what.to_string())
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// One turn ("one" → "first") on a new thread, which is then dropped.
/// Returns the thread id.
async fn one_turn(h: &Harness) -> String {
    h.server.push(responses::text_turn("r1", "first"));
    let thread = h.agent().start_thread();
    thread.run("one").await.unwrap();
    thread.id().to_string()
}

/// Two turns, the first with a shell call. Returns the thread id.
async fn two_turns(h: &Harness) -> String {
    h.server.push(responses::function_call_turn(
        "r1",
        "call_1",
        "shell_command",
        &json!({"command": "echo one"}).to_string(),
    ));
    h.server.push(responses::text_turn("r2", "turn one done"));
    h.server.push(responses::text_turn("r3", "turn two done"));
    let thread = h.agent().start_thread();
    thread.run("first").await.unwrap();
    thread.run("second").await.unwrap();
    thread.id().to_string()
}

#[tokio::test]
async fn fork_at_a_turn_and_whole_starts_from_that_history_and_leaves_the_source() {
    let h = harness().await;
    let id = two_turns(&h).await;
    let source = SessionStore::new(h.sessions()).find(&id).unwrap();
    let before = std::fs::read(&source).unwrap();

    let turn_one = [
        ("message", "<environment_context>"),
        ("message", "first"),
        ("function_call", "call_1"),
        ("function_call_output", "call_1"),
        ("message", "turn one done"),
    ];
    let mut whole = turn_one.to_vec();
    whole.extend([("message", "second"), ("message", "turn two done")]);

    h.server.push(responses::text_turn("r4", "forked at one"));
    let fork = h.agent().fork_thread(&id, Some(1)).unwrap();
    assert_ne!(fork.id(), id);
    fork.run("from one").await.unwrap();
    let mut expected = turn_one.to_vec();
    expected.push(("message", "from one"));
    assert_eq!(shape(h.server.requests()[3].input()), pairs(&expected));

    h.server.push(responses::text_turn("r5", "forked whole"));
    let whole_fork = h.agent().fork_thread(&id, None).unwrap();
    whole_fork.run("from all").await.unwrap();
    whole.push(("message", "from all"));
    assert_eq!(shape(h.server.requests()[4].input()), pairs(&whole));

    assert_eq!(
        std::fs::read(&source).unwrap(),
        before,
        "the source file changed"
    );

    // The fork's own file says where it came from and resumes like any thread.
    let store = SessionStore::new(h.sessions());
    let loaded = SessionStore::load(&store.find(fork.id()).unwrap()).unwrap();
    let from = loaded.meta.forked_from.clone().unwrap();
    assert_eq!((from.id.as_str(), from.turn), (id.as_str(), Some(1)));
    assert_eq!(loaded.turns, 2);
    h.server.push(responses::text_turn("r6", "resumed fork"));
    let resumed = h.agent().resume_thread(fork.id()).unwrap();
    resumed.run("again").await.unwrap();
    let mut expected = expected.clone();
    expected.extend([("message", "forked at one"), ("message", "again")]);
    assert_eq!(shape(h.server.requests()[5].input()), pairs(&expected));

    // A fork of a fork at its second turn.
    h.server.push(responses::text_turn("r7", "fork of fork"));
    let again = h.agent().fork_thread(fork.id(), Some(2)).unwrap();
    again.run("third level").await.unwrap();
    let mut expected = turn_one.to_vec();
    expected.extend([
        ("message", "from one"),
        ("message", "forked at one"),
        ("message", "third level"),
    ]);
    assert_eq!(shape(h.server.requests()[6].input()), pairs(&expected));
}

#[tokio::test]
async fn fork_out_of_range_or_unknown_is_a_clear_error() {
    let h = harness().await;
    let id = two_turns(&h).await;
    for turn in [0, 3] {
        match h.agent().fork_thread(&id, Some(turn)) {
            Err(Error::Config(m)) => {
                assert!(m.contains("has 2 turn(s)"), "{m}");
                assert!(m.contains(&format!("turn {turn}")), "{m}");
            }
            Err(e) => panic!("fork at turn {turn}: {e}"),
            Ok(_) => panic!("fork at turn {turn} succeeded"),
        }
    }
    assert!(matches!(
        h.agent().fork_thread("no-such-thread", None),
        Err(Error::Config(m)) if m.contains("no session with id no-such-thread")
    ));
    let ephemeral = Agent::new(AgentOptions {
        ephemeral: true,
        ..h.options()
    })
    .unwrap();
    assert!(matches!(
        ephemeral.fork_thread(&id, None),
        Err(Error::Config(m)) if m.contains("ephemeral")
    ));
    // Nothing was created by the failed forks.
    let files = rollouts(h.sessions());
    assert_eq!(files.len(), 1, "{files:?}");
}

fn rollouts(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_threads_write_one_session_dir_at_once() {
    const N: usize = 24;
    let h = harness().await;
    for i in 0..N {
        h.server.push(responses::text_turn(
            &format!("r{i}"),
            &format!("answer {i}"),
        ));
    }
    let agent = h.agent();
    let runs = (0..N).map(|i| {
        let thread = agent.start_thread();
        tokio::spawn(async move {
            thread.run(format!("question {i}")).await.unwrap();
            (thread.id().to_string(), i)
        })
    });
    let done: Vec<(String, usize)> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let files = rollouts(h.sessions());
    assert_eq!(files.len(), N, "{files:?}");
    let store = SessionStore::new(h.sessions());
    for (id, i) in &done {
        let path = store.find(id).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        for line in text.lines() {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("{}: bad line {line:?}: {e}", path.display()));
        }
        let loaded = SessionStore::load(&path).unwrap();
        assert_eq!(&loaded.meta.id, id);
        assert_eq!(loaded.turns, 1);
        assert!(matches!(
            loaded.records.last(),
            Some(RolloutRecord::TurnCompleted { .. })
        ));
        let question = format!("question {i}");
        assert!(
            loaded
                .history
                .iter()
                .any(|item| item.message_text().as_deref() == Some(question.as_str())),
            "{id} lost its question"
        );
    }
    // The most recent is the last one written, not the last one created.
    let (first_id, _) = done
        .iter()
        .min_by_key(|(id, _)| store.find(id).unwrap())
        .unwrap();
    h.server.push(responses::text_turn("late", "late answer"));
    agent
        .resume_thread(first_id)
        .unwrap()
        .run("later")
        .await
        .unwrap();
    assert_eq!(store.latest(), Some(store.find(first_id).unwrap()));
    assert_eq!(agent.resume_last().unwrap().id(), first_id);
}

#[tokio::test]
async fn ephemeral_threads_write_nothing() {
    let h = harness().await;
    h.server.push(responses::text_turn("r1", "hi"));
    let agent = Agent::new(AgentOptions {
        ephemeral: true,
        ..h.options()
    })
    .unwrap();
    let thread = agent.start_thread();
    thread.run("hello").await.unwrap();
    assert!(rollouts(h.sessions()).is_empty());
    assert!(matches!(
        agent.resume_thread(thread.id()),
        Err(Error::Config(m)) if m.contains("ephemeral")
    ));
}

#[tokio::test]
async fn a_torn_tail_inside_a_tool_call_resumes_with_the_call_answered() {
    let h = harness().await;
    let id = two_turns(&h).await;
    let store = SessionStore::new(h.sessions());
    let path = store.find(&id).unwrap();
    // Cut the file inside the output of call_1, as a kill mid-write would.
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("\"function_call_output\"").unwrap();
    std::fs::write(&path, &text[..at]).unwrap();
    h.server.push(responses::text_turn("r4", "resumed"));
    let thread = h.agent().resume_thread(&id).unwrap();
    thread.run("go on").await.unwrap();
    let input = h.server.requests()[3].input().to_vec();
    assert_eq!(
        shape(&input),
        pairs(&[
            ("message", "<environment_context>"),
            ("message", "first"),
            ("function_call", "call_1"),
            ("function_call_output", "call_1"),
            ("message", "go on"),
        ])
    );
    assert!(input[3]["output"].as_str().unwrap().starts_with("aborted"));
    // The torn bytes were cut before the new records: every line parses.
    for line in std::fs::read_to_string(&path).unwrap().lines() {
        serde_json::from_str::<Value>(line).unwrap();
    }
}

#[tokio::test]
async fn one_thread_runs_one_turn_at_a_time_across_resumed_copies() {
    let h = harness().await;
    let id = one_turn(&h).await;
    // Two copies of the thread, as two processes resuming it would have.
    let a = h.agent().resume_thread(&id).unwrap();
    let b = h.agent().resume_thread(&id).unwrap();
    h.server
        .push(responses::text_turn("r2", "never finishes").stall_after(1));
    let running = a.run_streamed("two");
    h.server.wait_for_requests(2).await.unwrap();
    // a's turn holds the thread: b cannot start one beside it.
    assert!(matches!(b.run("beside").await, Err(Error::Busy)));
    a.interrupt();
    let events: Vec<_> = futures::StreamExt::collect(running).await;
    assert!(matches!(
        events.last(),
        Some(codeloop_core::protocol::ThreadEvent::TurnFailed { .. })
    ));
    // a wrote a turn b has not seen: b must not write a history beside it.
    match b.run("stale").await {
        Err(Error::Config(m)) => assert!(m.contains("resume it again"), "{m}"),
        other => panic!("a stale copy ran: {other:?}"),
    }
    assert_eq!(
        h.server.requests().len(),
        2,
        "the refused turns reached the model"
    );
    // A fresh resume sees everything a wrote and runs.
    h.server.push(responses::text_turn("r3", "fresh"));
    let fresh = h.agent().resume_thread(&id).unwrap();
    fresh.run("three").await.unwrap();
    let texts: Vec<String> = shape(h.server.requests()[2].input())
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert!(
        texts.ends_with(&["one".into(), "first".into(), "two".into(), "three".into()]),
        "{texts:?}"
    );
    // And a turn that ended released the lock for the next one.
    h.server.push(responses::text_turn("r4", "again"));
    fresh.run("four").await.unwrap();
}

#[tokio::test]
async fn a_failed_turn_is_recorded_with_its_usage_and_error() {
    let h = harness().await;
    h.server.push(responses::function_call_turn(
        "r1",
        "call_1",
        "shell_command",
        &json!({"command": "echo one"}).to_string(),
    ));
    let agent = Agent::new(AgentOptions {
        max_turns: Some(1),
        ..h.options()
    })
    .unwrap();
    let thread = agent.start_thread();
    let err = thread.run("go").await.unwrap_err();
    assert!(matches!(err, Error::BudgetExceeded(_)), "{err:?}");
    let used = thread.usage();
    assert!(used.total_tokens() > 0, "{used:?}");

    let path = SessionStore::new(h.sessions()).find(thread.id()).unwrap();
    let loaded = SessionStore::load(&path).unwrap();
    let failed: Vec<_> = loaded
        .records
        .iter()
        .filter_map(|r| match r {
            RolloutRecord::TurnFailed { usage, error } => Some((*usage, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", loaded.records);
    assert_eq!(failed[0].0, used);
    assert_eq!(
        failed[0].1.code,
        Some(codeloop_core::protocol::ErrorCode::BudgetExceeded)
    );
    // Resuming counts the failed run's tokens.
    let resumed = h.agent().resume_thread(thread.id()).unwrap();
    assert_eq!(resumed.usage(), used);
}

// ---------------------------------------------------------------- compaction and the turn lock

/// Every tool call of a request input has an output, and every output a call.
fn calls_answered(input: &[Value]) -> bool {
    let ids = |kinds: &[&str]| -> std::collections::BTreeSet<String> {
        input
            .iter()
            .filter(|i| kinds.contains(&i["type"].as_str().unwrap_or_default()))
            .filter_map(|i| i["call_id"].as_str().map(String::from))
            .collect()
    };
    let calls = ids(&["function_call", "custom_tool_call"]);
    !calls.is_empty() && calls == ids(&["function_call_output", "custom_tool_call_output"])
}

#[tokio::test]
async fn compacting_a_stale_copy_is_refused_and_leaves_the_file_as_it_was() {
    let h = harness().await;
    let id = one_turn(&h).await;
    let path = SessionStore::new(h.sessions()).find(&id).unwrap();
    // Two copies of the thread, as two processes resuming it would have.
    let a = h.agent().resume_thread(&id).unwrap();
    let b = h.agent().resume_thread(&id).unwrap();
    h.server
        .push(responses::text_turn("r2", "never finishes").stall_after(1));
    let running = b.run_streamed("two");
    h.server.wait_for_requests(2).await.unwrap();
    // b's turn holds the thread: a cannot compact beside it.
    assert!(matches!(a.compact().await, Err(Error::Busy)));
    b.interrupt();
    let _: Vec<_> = futures::StreamExt::collect(running).await;
    // b wrote a turn a has not seen: a's summary of its stale copy must not
    // replace the history (replay would drop b's turn).
    let before = std::fs::read(&path).unwrap();
    match a.compact().await {
        Err(Error::Config(m)) => assert!(m.contains("resume it again"), "{m}"),
        other => panic!("a stale copy compacted: {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file changed");
    assert_eq!(h.server.requests().len(), 2, "a summary was asked for");
    // The refused compaction released the lock: a fresh copy compacts, and
    // its history keeps b's turn.
    h.server.push(responses::text_turn("r3", "the summary"));
    let fresh = h.agent().resume_thread(&id).unwrap();
    fresh.compact().await.unwrap();
    let loaded = SessionStore::load(&path).unwrap();
    assert!(matches!(
        loaded.records.last(),
        Some(RolloutRecord::Compacted { .. })
    ));
    let texts: Vec<String> = loaded
        .history
        .iter()
        .filter_map(|i| i.message_text())
        .collect();
    assert!(texts.iter().any(|t| t == "two"), "{texts:?}");
    assert!(texts.last().unwrap().ends_with("the summary"), "{texts:?}");
    // And after it a turn of the fresh copy runs (the lock was released).
    h.server.push(responses::text_turn("r4", "after"));
    fresh.run("three").await.unwrap();
}

#[tokio::test]
async fn compacting_a_history_cut_inside_a_tool_call_answers_the_call_first() {
    let h = harness().await;
    // A rollout torn inside the output of call_1, as a kill mid-write leaves it.
    let id = two_turns(&h).await;
    let path = SessionStore::new(h.sessions()).find(&id).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("\"function_call_output\"").unwrap();
    std::fs::write(&path, &text[..at]).unwrap();
    h.server.push(responses::text_turn("r4", "summary one"));
    let thread = h.agent().resume_thread(&id).unwrap();
    thread.compact().await.unwrap();
    let input = h.server.requests()[3].input().to_vec();
    assert!(calls_answered(&input), "{input:#?}");

    // A turn stopped by its budget right after the model called a tool: the
    // call never ran, and the summary request answers it as aborted.
    h.server.push(responses::function_call_turn(
        "r5",
        "call_9",
        "shell_command",
        &json!({"command": "echo nine"}).to_string(),
    ));
    h.server.push(responses::text_turn("r6", "summary two"));
    let agent = Agent::new(AgentOptions {
        max_tokens: Some(1),
        ..h.options()
    })
    .unwrap();
    let thread = agent.start_thread();
    let err = thread.run("go").await.unwrap_err();
    assert!(matches!(err, Error::BudgetExceeded(_)), "{err:?}");
    thread.compact().await.unwrap();
    let input = h.server.requests()[5].input().to_vec();
    assert!(calls_answered(&input), "{input:#?}");
    assert!(super::support::output_for(&input, "call_9").starts_with("aborted"));
}

// ---------------------------------------------------------------- resume --last

#[tokio::test]
async fn resume_last_picks_the_latest_thread_of_the_working_directory() {
    let h = harness().await;
    let other_dir = tempfile::tempdir().unwrap();
    let in_other = Agent::new(AgentOptions {
        cwd: Some(other_dir.path().to_path_buf()),
        ..h.options()
    })
    .unwrap();
    h.server.push(responses::text_turn("r1", "here"));
    let here = h.agent().start_thread();
    here.run("in the harness dir").await.unwrap();
    // Written later, in another directory sharing the session directory.
    std::thread::sleep(std::time::Duration::from_millis(20));
    h.server.push(responses::text_turn("r2", "there"));
    let there = in_other.start_thread();
    there.run("in the other dir").await.unwrap();

    let store = SessionStore::new(h.sessions());
    assert_eq!(store.latest(), Some(store.find(there.id()).unwrap()));
    assert_eq!(
        store.latest_in(h.dir.path()),
        Some(store.find(here.id()).unwrap())
    );
    assert_eq!(h.agent().resume_last().unwrap().id(), here.id());
    assert_eq!(in_other.resume_last().unwrap().id(), there.id());
    // `--all`: the latest of any directory.
    assert_eq!(h.agent().resume_last_anywhere().unwrap().id(), there.id());
    // A directory with no thread of its own resumes nothing.
    let empty = tempfile::tempdir().unwrap();
    let none = Agent::new(AgentOptions {
        cwd: Some(empty.path().to_path_buf()),
        ..h.options()
    })
    .unwrap();
    match none.resume_last() {
        Err(Error::Config(m)) => assert!(m.contains("no sessions of"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(t) => panic!("resumed {} from another directory", t.id()),
    }
}
