#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use super::*;

/// The committed header must be what cbindgen makes from this crate now.
/// `CODELOOP_UPDATE_HEADER=1` rewrites it instead.
#[test]
fn header_matches_the_source() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = dir.join("include/codeloop.h");
    if std::env::var_os("CODELOOP_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date: run `CODELOOP_UPDATE_HEADER=1 cargo test -p codeloop-ffi header`",
        path.display()
    );
}

fn take(status: CodeloopStatus) -> (CodeloopCode, String) {
    let message = if status.message.ptr.is_null() {
        String::new()
    } else {
        // SAFETY: a status message from this library, read before it is freed.
        let bytes = unsafe { std::slice::from_raw_parts(status.message.ptr, status.message.len) };
        String::from_utf8_lossy(bytes).into_owned()
    };
    // SAFETY: freed once.
    unsafe { codeloop_bytes_free(status.message) };
    (status.code, message)
}

#[test]
fn invalid_options_are_a_config_error_with_no_handle() {
    let options = br#"{"no_such_option": 1}"#;
    let mut agent: *mut CodeloopAgent = std::ptr::null_mut();
    // SAFETY: valid pointers for the call.
    let status = unsafe {
        codeloop_agent_new(
            options.as_ptr(),
            options.len(),
            None,
            std::ptr::null_mut(),
            0,
            &mut agent,
        )
    };
    let (code, message) = take(status);
    assert_eq!(code, CodeloopCode::Config);
    assert!(message.contains("no_such_option"), "{message}");
    assert!(agent.is_null());
}

#[test]
fn null_arguments_are_reported_not_dereferenced() {
    // SAFETY: NULL handles are part of the contract.
    let (code, _) =
        take(unsafe { codeloop_agent_start_thread(std::ptr::null(), std::ptr::null_mut()) });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    // SAFETY: as above; a nonzero length with a NULL pointer is refused.
    let (code, message) = take(unsafe {
        codeloop_agent_new(
            std::ptr::null(),
            5,
            None,
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        )
    });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    assert!(message.contains("options"), "{message}");
}

#[test]
fn a_thread_has_an_id_and_unknown_replies_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = serde_json::to_vec(&serde_json::json!({
        "cwd": dir.path(), "ephemeral": true, "api_key": "k", "base_url": "http://127.0.0.1:9/v1"
    }))
    .expect("json");
    let mut agent: *mut CodeloopAgent = std::ptr::null_mut();
    // SAFETY: valid pointers for the call.
    let (code, message) = take(unsafe {
        codeloop_agent_new(
            options.as_ptr(),
            options.len(),
            None,
            std::ptr::null_mut(),
            0,
            &mut agent,
        )
    });
    assert_eq!(code, CodeloopCode::Ok, "{message}");
    let mut thread: *mut CodeloopThread = std::ptr::null_mut();
    // SAFETY: a live agent and a writable out-parameter.
    assert_eq!(
        take(unsafe { codeloop_agent_start_thread(agent, &mut thread) }).0,
        CodeloopCode::Ok
    );
    let mut id = CodeloopBytes::empty();
    // SAFETY: a live thread and a writable out-parameter.
    assert_eq!(
        take(unsafe { codeloop_thread_id(thread, &mut id) }).0,
        CodeloopCode::Ok
    );
    // SAFETY: bytes from this library, read then freed once.
    let text = unsafe { std::slice::from_raw_parts(id.ptr, id.len) }.to_vec();
    // SAFETY: freed once.
    unsafe { codeloop_bytes_free(id) };
    assert_eq!(text.len(), 36, "a uuid: {}", String::from_utf8_lossy(&text));
    let answer = br#""approve""#;
    // SAFETY: a live agent and a valid answer.
    let (code, _) = take(unsafe { codeloop_host_reply(agent, 42, answer.as_ptr(), answer.len()) });
    assert_eq!(code, CodeloopCode::UnknownRequest);
    let bad = b"{not json";
    // SAFETY: a live thread; the input is refused before any run starts.
    let (code, _) = take(unsafe {
        codeloop_thread_run(
            thread,
            bad.as_ptr(),
            bad.len(),
            None,
            None,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    // SAFETY: each handle freed once.
    unsafe {
        codeloop_thread_free(thread);
        codeloop_agent_free(agent);
    }
}

#[test]
fn a_panic_becomes_an_internal_error() {
    let (code, message) = take(guard(|| panic!("boom in the body")));
    assert_eq!(code, CodeloopCode::Internal);
    assert!(message.contains("boom in the body"), "{message}");
}

static DONE_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static DONE_CODE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

unsafe extern "C" fn count_done(_: *mut c_void, code: CodeloopCode, _: *const u8, _: usize) {
    DONE_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    DONE_CODE.store(code as i32, std::sync::atomic::Ordering::SeqCst);
}

/// A run task that unwinds before reporting still calls `on_done`, once.
#[test]
fn the_completion_fires_exactly_once_even_when_the_task_panics() {
    let outcome = std::panic::catch_unwind(|| {
        let _done = DoneOnce {
            callback: Some((count_done, host::UserData(std::ptr::null_mut()))),
        };
        panic!("the task died");
    });
    assert!(outcome.is_err());
    assert_eq!(DONE_CALLS.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        DONE_CODE.load(std::sync::atomic::Ordering::SeqCst),
        CodeloopCode::Internal as i32
    );
    let mut done = DoneOnce {
        callback: Some((count_done, host::UserData(std::ptr::null_mut()))),
    };
    done.finish(CodeloopCode::Ok, b"{}");
    drop(done);
    assert_eq!(DONE_CALLS.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(
        DONE_CODE.load(std::sync::atomic::Ordering::SeqCst),
        CodeloopCode::Ok as i32
    );
}

/// An agent on an unreachable model, in a temp dir; `extra` adds options.
fn agent_with(dir: &Path, extra: serde_json::Value) -> *mut CodeloopAgent {
    let mut options = serde_json::json!({
        "cwd": dir, "api_key": "k", "base_url": "http://127.0.0.1:9/v1",
        "codeloop_home": dir.join("home"), "load_config_files": false,
        "request_max_retries": 0, "stream_max_retries": 0,
    });
    if let (Some(o), Some(e)) = (options.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    let options = serde_json::to_vec(&options).expect("json");
    let mut agent: *mut CodeloopAgent = std::ptr::null_mut();
    // SAFETY: valid pointers for the call.
    let (code, message) = take(unsafe {
        codeloop_agent_new(
            options.as_ptr(),
            options.len(),
            None,
            std::ptr::null_mut(),
            0,
            &mut agent,
        )
    });
    assert_eq!(code, CodeloopCode::Ok, "{message}");
    agent
}

fn start_thread(agent: *const CodeloopAgent) -> *mut CodeloopThread {
    let mut thread: *mut CodeloopThread = std::ptr::null_mut();
    // SAFETY: a live agent and a writable out-parameter.
    assert_eq!(
        take(unsafe { codeloop_agent_start_thread(agent, &mut thread) }).0,
        CodeloopCode::Ok
    );
    thread
}

#[test]
fn steering_an_idle_thread_is_no_active_turn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = agent_with(dir.path(), serde_json::json!({"ephemeral": true}));
    let thread = start_thread(agent);
    let input = br#""also check the docs""#;
    // SAFETY: a live thread and valid input.
    let (code, message) =
        take(unsafe { codeloop_thread_steer(thread, input.as_ptr(), input.len()) });
    assert_eq!(code, CodeloopCode::NoActiveTurn, "{message}");
    // SAFETY: NULL handles and bad input are reported, not dereferenced.
    let (code, _) = take(unsafe { codeloop_thread_steer(std::ptr::null(), input.as_ptr(), 3) });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    // SAFETY: as above.
    let (code, _) = take(unsafe { codeloop_thread_steer(thread, std::ptr::null(), 3) });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    // SAFETY: each handle freed once.
    unsafe {
        codeloop_thread_free(thread);
        codeloop_agent_free(agent);
    }
}

/// What a completion callback reported, for a test to wait on.
#[derive(Default)]
struct Outcome {
    slot: std::sync::Mutex<Option<(CodeloopCode, String)>>,
    ready: std::sync::Condvar,
}

impl Outcome {
    fn wait(&self) -> (CodeloopCode, String) {
        let mut slot = self.slot.lock().unwrap();
        loop {
            if let Some(outcome) = slot.take() {
                return outcome;
            }
            slot = self.ready.wait(slot).unwrap();
        }
    }
}

/// Start a run of `thread` with these run options (empty: none), check it
/// was accepted, and wait for what its completion callback reports.
fn run_to_end(
    thread: *const CodeloopThread,
    input: &[u8],
    options: &[u8],
) -> (CodeloopCode, String) {
    let outcome = Outcome::default();
    // SAFETY: valid pointers; `outcome` outlives the callback (waited for below).
    let (code, message) = take(unsafe {
        codeloop_thread_run_with(
            thread,
            input.as_ptr(),
            input.len(),
            options.as_ptr(),
            options.len(),
            None,
            Some(record_done),
            &outcome as *const Outcome as *mut c_void,
            std::ptr::null_mut(),
        )
    });
    assert_eq!(code, CodeloopCode::Ok, "{message}");
    outcome.wait()
}

unsafe extern "C" fn record_done(
    user_data: *mut c_void,
    code: CodeloopCode,
    data: *const u8,
    len: usize,
) {
    // SAFETY: the tests pass a live &Outcome and data of len bytes.
    let outcome = unsafe { &*(user_data as *const Outcome) };
    // SAFETY: as above.
    let text = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(data, len) });
    let mut slot = outcome.slot.lock().unwrap();
    assert!(slot.is_none(), "the completion fired twice");
    *slot = Some((code, text.into_owned()));
    outcome.ready.notify_all();
}

#[test]
fn compacting_a_thread_that_never_ran_reports_an_empty_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = agent_with(dir.path(), serde_json::json!({"ephemeral": true}));
    let thread = start_thread(agent);
    // SAFETY: a NULL on_done is refused before anything starts.
    let (code, _) = take(unsafe { codeloop_thread_compact(thread, None, std::ptr::null_mut()) });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    let outcome = Outcome::default();
    // SAFETY: `outcome` outlives the callback (waited for below).
    let (code, message) = take(unsafe {
        codeloop_thread_compact(
            thread,
            Some(record_done),
            &outcome as *const Outcome as *mut c_void,
        )
    });
    assert_eq!(code, CodeloopCode::Ok, "{message}");
    let (code, data) = outcome.wait();
    assert_eq!(code, CodeloopCode::Ok, "{data}");
    let compaction: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(compaction["trigger"], "manual", "{data}");
    assert_eq!(compaction["items_before"], 0, "{data}");
    // SAFETY: each handle freed once.
    unsafe {
        codeloop_thread_free(thread);
        codeloop_agent_free(agent);
    }
}

#[test]
fn forking_needs_a_session_store_and_a_known_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = b"0191a2b3-0000-7000-8000-000000000000";
    let ephemeral = agent_with(dir.path(), serde_json::json!({"ephemeral": true}));
    let mut out: *mut CodeloopThread = std::ptr::null_mut();
    // SAFETY: a live agent, a valid id, a writable out-parameter.
    let (code, message) =
        take(unsafe { codeloop_agent_fork_thread(ephemeral, id.as_ptr(), id.len(), 0, &mut out) });
    assert_eq!(code, CodeloopCode::Config, "{message}");
    assert!(message.contains("ephemeral"), "{message}");
    assert!(out.is_null());
    let sessions = dir.path().join("sessions");
    let agent = agent_with(dir.path(), serde_json::json!({"session_dir": sessions}));
    // SAFETY: as above.
    let (code, message) =
        take(unsafe { codeloop_agent_fork_thread(agent, id.as_ptr(), id.len(), 1, &mut out) });
    assert_eq!(code, CodeloopCode::Config, "{message}");
    assert!(out.is_null());
    // SAFETY: a NULL out-parameter and a NULL agent are refused.
    let (code, _) = take(unsafe {
        codeloop_agent_fork_thread(agent, id.as_ptr(), id.len(), 0, std::ptr::null_mut())
    });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    // SAFETY: as above.
    let (code, _) = take(unsafe {
        codeloop_agent_fork_thread(std::ptr::null(), id.as_ptr(), id.len(), 0, &mut out)
    });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    // SAFETY: each handle freed once.
    unsafe {
        codeloop_agent_free(ephemeral);
        codeloop_agent_free(agent);
    }
}

#[test]
fn bad_run_options_are_refused_before_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A model without a price: a cost budget for it is a configuration error.
    let agent = agent_with(
        dir.path(),
        serde_json::json!({"ephemeral": true, "model": "priceless-local-model"}),
    );
    let thread = start_thread(agent);
    let input = br#""hi""#;
    let options = br#"{"max_tokens": "lots"}"#;
    // SAFETY: valid pointers; the options are refused, so no callback is owed.
    let (code, message) = take(unsafe {
        codeloop_thread_run_with(
            thread,
            input.as_ptr(),
            input.len(),
            options.as_ptr(),
            options.len(),
            None,
            Some(record_done),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    });
    assert_eq!(code, CodeloopCode::Config, "{message}");
    assert!(message.contains("run options"), "{message}");
    // A budget the run options set fails the run itself, through on_done.
    let (code, data) = run_to_end(thread, input, br#"{"max_cost_usd": 1.0}"#);
    assert_eq!(code, CodeloopCode::Config, "{data}");
    assert!(data.contains("max_cost_usd"), "{data}");
    // SAFETY: each handle freed once.
    unsafe {
        codeloop_thread_free(thread);
        codeloop_agent_free(agent);
    }
}

#[test]
fn output_invalid_reports_its_messages_as_json() {
    let outcome = Outcome::default();
    let mut done = DoneOnce {
        callback: Some((
            record_done,
            host::UserData(&outcome as *const Outcome as *mut c_void),
        )),
    };
    done.fail(&Error::OutputInvalid {
        errors: vec!["\"n\" is a required property".into(), "not; split".into()],
    });
    drop(done);
    let (code, data) = outcome.wait();
    assert_eq!(code, CodeloopCode::OutputInvalid);
    let value: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        value["errors"],
        serde_json::json!(["\"n\" is a required property", "not; split"])
    );
    assert!(value["message"].as_str().unwrap().contains("output schema"));
}

#[test]
fn config_warnings_are_a_json_array() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An event codeloop does not run is a warning, not an error.
    let agent = agent_with(
        dir.path(),
        serde_json::json!({"ephemeral": true, "hooks": {"Notification": []}}),
    );
    let mut out = CodeloopBytes::empty();
    // SAFETY: a live agent and a writable out-parameter.
    let (code, message) = take(unsafe { codeloop_agent_config_warnings(agent, &mut out) });
    assert_eq!(code, CodeloopCode::Ok, "{message}");
    // SAFETY: bytes from this library, read then freed once.
    let json = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
    // SAFETY: freed once.
    unsafe { codeloop_bytes_free(out) };
    let warnings: Vec<String> = serde_json::from_slice(&json).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("Notification")),
        "{warnings:?}"
    );
    // SAFETY: a NULL out-parameter is refused.
    let (code, _) = take(unsafe { codeloop_agent_config_warnings(agent, std::ptr::null_mut()) });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    // SAFETY: freed once.
    unsafe { codeloop_agent_free(agent) };
}

#[test]
fn closing_an_agent_is_idempotent_and_later_runs_say_it_was_closed() {
    // SAFETY: a NULL handle is reported, not dereferenced.
    let (code, _) = take(unsafe { codeloop_agent_close(std::ptr::null()) });
    assert_eq!(code, CodeloopCode::InvalidArgument);
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = agent_with(dir.path(), serde_json::json!({"ephemeral": true}));
    // SAFETY: a live agent; nothing to close, twice.
    assert_eq!(
        take(unsafe { codeloop_agent_close(plain) }).0,
        CodeloopCode::Ok
    );
    // SAFETY: as above.
    assert_eq!(
        take(unsafe { codeloop_agent_close(plain) }).0,
        CodeloopCode::Ok
    );
    let agent = agent_with(
        dir.path(),
        serde_json::json!({"ephemeral": true, "mcp_servers": {
            "missing": {"command": "definitely-not-a-program-here", "required": true}
        }}),
    );
    let thread = start_thread(agent);
    // SAFETY: a live agent; closing again is fine.
    let (code, message) = take(unsafe { codeloop_agent_close(agent) });
    assert_eq!(code, CodeloopCode::Ok, "{message}");
    // SAFETY: as above.
    assert_eq!(
        take(unsafe { codeloop_agent_close(agent) }).0,
        CodeloopCode::Ok
    );
    let (code, data) = run_to_end(thread, br#""hi""#, b"");
    assert_eq!(code, CodeloopCode::Config, "{data}");
    assert!(data.contains("closed"), "{data}");
    // SAFETY: each handle freed once.
    unsafe {
        codeloop_thread_free(thread);
        codeloop_agent_free(agent);
        codeloop_agent_free(plain);
    }
}
