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
