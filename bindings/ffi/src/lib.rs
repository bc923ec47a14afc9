//! codeloop-ffi: the C ABI of codeloop, for C and for every language that
//! calls C (Go through cgo, C++, Zig, Swift, .NET).
//!
//! Rules every function keeps:
//! - Handles are opaque pointers made by `*_new` (or a function that returns
//!   one through an out-parameter) and released by the matching `*_free`.
//! - Options, inputs, events, results and host requests are UTF-8 JSON
//!   following the protocol schema (`core/protocol.schema.json`).
//! - Bytes in are borrowed `(ptr, len)` for the duration of the call; bytes
//!   out that the caller owns are a `CodeloopBytes`, released with the one
//!   free function `codeloop_bytes_free`. Bytes handed to a callback are
//!   borrowed for the duration of that callback.
//! - Errors are values (`CodeloopStatus`: a code and a message), never
//!   thread-local state.
//! - A panic never crosses the boundary: it becomes `CODELOOP_CODE_INTERNAL`,
//!   and a run's completion callback still fires exactly once.

mod host;
mod signals;

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use codeloop_core::protocol::ErrorCode;
use codeloop_core::{
    Agent, AgentOptions, Error, Input, RunCollector, RunInterrupt, RunOptions, Thread,
};
use futures::{FutureExt, StreamExt};

pub use host::*;
use host::{Answer, FfiHost, HostShared, UserData};

/// Bytes owned by the caller: release them with `codeloop_bytes_free`
/// (exactly once). An empty value has `ptr == NULL` and `len == 0`.
#[repr(C)]
#[derive(Debug)]
pub struct CodeloopBytes {
    pub ptr: *mut u8,
    pub len: usize,
}

impl CodeloopBytes {
    fn empty() -> Self {
        CodeloopBytes {
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    }

    fn from_vec(bytes: Vec<u8>) -> Self {
        if bytes.is_empty() {
            return CodeloopBytes::empty();
        }
        // A boxed slice has capacity == len, so (ptr, len) is all `free` needs.
        let boxed = bytes.into_boxed_slice();
        let len = boxed.len();
        CodeloopBytes {
            ptr: Box::into_raw(boxed).cast::<u8>(),
            len,
        }
    }
}

/// The kind of an outcome: OK, one of core's error codes, or a misuse of the ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeloopCode {
    Ok = 0,
    /// The model API answered with an error status or a failed response.
    ModelApi = 1,
    /// The API key was missing or rejected.
    Unauthorized = 2,
    /// The conversation no longer fits the model's context window.
    ContextWindowExceeded = 3,
    /// The account's quota is used up.
    QuotaExceeded = 4,
    /// Transport or stream failure after all retries.
    Stream = 5,
    /// A replay cassette did not match the request.
    Replay = 6,
    /// The turn was interrupted; the thread can run again.
    Interrupted = 7,
    /// A budget ran out.
    BudgetExceeded = 8,
    /// The sandbox refused to run something.
    Sandbox = 9,
    /// Options or configuration were invalid.
    Config = 10,
    /// A host callback failed.
    Host = 11,
    /// A turn is already running on this thread.
    Busy = 12,
    /// Local I/O failed.
    Io = 13,
    /// A bug in codeloop (a caught panic included).
    Internal = 14,
    /// A null handle, a null pointer with a nonzero length, bytes that are
    /// not UTF-8 or JSON that does not parse: a bug in the caller.
    InvalidArgument = 15,
    /// `codeloop_host_reply`/`_fail` named a request that no longer waits
    /// (answered already, or its turn ended).
    UnknownRequest = 16,
    /// The final answer did not match the output schema.
    OutputInvalid = 17,
    /// `steer` was called while no turn runs on the thread.
    NoActiveTurn = 18,
}

impl From<ErrorCode> for CodeloopCode {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::ModelApi => CodeloopCode::ModelApi,
            ErrorCode::Unauthorized => CodeloopCode::Unauthorized,
            ErrorCode::ContextWindowExceeded => CodeloopCode::ContextWindowExceeded,
            ErrorCode::QuotaExceeded => CodeloopCode::QuotaExceeded,
            ErrorCode::Stream => CodeloopCode::Stream,
            ErrorCode::Replay => CodeloopCode::Replay,
            ErrorCode::Interrupted => CodeloopCode::Interrupted,
            ErrorCode::BudgetExceeded => CodeloopCode::BudgetExceeded,
            ErrorCode::Sandbox => CodeloopCode::Sandbox,
            ErrorCode::Config => CodeloopCode::Config,
            ErrorCode::Host => CodeloopCode::Host,
            ErrorCode::Busy => CodeloopCode::Busy,
            ErrorCode::OutputInvalid => CodeloopCode::OutputInvalid,
            ErrorCode::NoActiveTurn => CodeloopCode::NoActiveTurn,
            ErrorCode::Io => CodeloopCode::Io,
            ErrorCode::Internal => CodeloopCode::Internal,
        }
    }
}

/// The outcome of a call. `CODELOOP_CODE_OK` has an empty message; any other
/// code has a UTF-8 message the caller owns (free it with `codeloop_bytes_free`).
#[repr(C)]
#[derive(Debug)]
pub struct CodeloopStatus {
    pub code: CodeloopCode,
    pub message: CodeloopBytes,
}

impl CodeloopStatus {
    fn ok() -> Self {
        CodeloopStatus {
            code: CodeloopCode::Ok,
            message: CodeloopBytes::empty(),
        }
    }

    fn new(code: CodeloopCode, message: impl Into<String>) -> Self {
        CodeloopStatus {
            code,
            message: CodeloopBytes::from_vec(message.into().into_bytes()),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        CodeloopStatus::new(CodeloopCode::InvalidArgument, message)
    }
}

impl From<Error> for CodeloopStatus {
    fn from(e: Error) -> Self {
        CodeloopStatus::new(e.code().into(), e.to_string())
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Run an exported function's body with panics caught and turned into a status.
fn guard(body: impl FnOnce() -> Result<(), CodeloopStatus>) -> CodeloopStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => CodeloopStatus::ok(),
        Ok(Err(status)) => status,
        Err(panic) => CodeloopStatus::new(
            CodeloopCode::Internal,
            format!("codeloop panicked: {}", panic_message(panic.as_ref())),
        ),
    }
}

/// Borrow `(ptr, len)` as a slice.
///
/// # Safety
/// When `len > 0`, `ptr` must point to `len` readable bytes that stay valid
/// and unchanged for `'a`.
unsafe fn borrow<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], CodeloopStatus> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(CodeloopStatus::invalid(format!(
            "{what} is NULL with length {len}"
        )));
    }
    // SAFETY: non-null, and the caller guarantees len readable bytes for 'a.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrow a handle.
///
/// # Safety
/// `ptr` must be NULL or a live handle of type `T` made by this library.
unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, CodeloopStatus> {
    // SAFETY: the caller guarantees a live handle when non-null.
    unsafe { ptr.as_ref() }.ok_or_else(|| CodeloopStatus::invalid(format!("{what} is NULL")))
}

/// Write `value` to an out-parameter.
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
unsafe fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), CodeloopStatus> {
    if out.is_null() {
        return Err(CodeloopStatus::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-null and writable by the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, CodeloopStatus> {
    std::str::from_utf8(bytes).map_err(|e| CodeloopStatus::invalid(format!("{what}: {e}")))
}

/// Release bytes this library handed out. NULL/empty is a no-op.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: takes `bytes`; do not use or free them again.
/// Threading: any thread.
#[no_mangle]
pub unsafe extern "C" fn codeloop_bytes_free(bytes: CodeloopBytes) {
    if bytes.ptr.is_null() {
        return;
    }
    let _ = catch_unwind(|| {
        let slice = std::ptr::slice_from_raw_parts_mut(bytes.ptr, bytes.len);
        // SAFETY: (ptr, len) came from CodeloopBytes::from_vec, a leaked
        // Box<[u8]> of exactly len bytes, and the caller frees it once.
        drop(unsafe { Box::from_raw(slice) });
    });
}

/// An agent: options, model client, tools and the host callback. Threads
/// made from it keep working after it is freed (their host requests then get
/// the headless defaults).
pub struct CodeloopAgent {
    agent: Agent,
    host: Arc<HostShared>,
}

/// One conversation.
pub struct CodeloopThread {
    thread: Thread,
}

/// One running turn, to cancel it. Independent of its completion: freeing it
/// neither cancels the turn nor stops its callbacks.
pub struct CodeloopRun {
    interrupt: RunInterrupt,
}

/// Make an agent.
///
/// `options` is an `AgentOptions` JSON object (`{}` for the defaults),
/// borrowed for the call. `host_callback` (may be NULL) receives the host
/// requests selected by `host_mask` (`CODELOOP_HOST_*` bits) with
/// `host_user_data`; others get the headless defaults.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: on success `*out_agent` is a new handle the caller frees with
/// `codeloop_agent_free`; `host_user_data` must stay valid until then. The
/// returned status's message is owned by the caller.
/// Threading: any thread; the callback is called from codeloop's threads.
#[no_mangle]
pub unsafe extern "C" fn codeloop_agent_new(
    options: *const u8,
    options_len: usize,
    host_callback: CodeloopHostCallback,
    host_user_data: *mut c_void,
    host_mask: u32,
    out_agent: *mut *mut CodeloopAgent,
) -> CodeloopStatus {
    guard(|| {
        // Once per process: spans go to an OTLP collector when the OTEL_*
        // variables name one.
        if let Err(e) = codeloop_core::telemetry::init_from_env() {
            eprintln!("codeloop: warning: {e}");
        }
        // Before any child process: hosts like Go need SA_ONSTACK handlers.
        signals::install_child_handler(&codeloop_core::runtime::handle()?);
        // SAFETY: borrowed per this function's contract.
        let bytes = unsafe { borrow(options, options_len, "options") }?;
        let options: AgentOptions = if bytes.is_empty() {
            AgentOptions::default()
        } else {
            serde_json::from_slice(bytes)
                .map_err(|e| CodeloopStatus::new(CodeloopCode::Config, format!("options: {e}")))?
        };
        let shared = HostShared::new(host_callback.map(|f| (f, UserData(host_user_data))));
        let host = FfiHost {
            shared: shared.clone(),
            mask: if host_callback.is_some() {
                host_mask
            } else {
                0
            },
        };
        let agent = Agent::with_host(options, Arc::new(host))?;
        let handle = Box::into_raw(Box::new(CodeloopAgent {
            agent,
            host: shared,
        }));
        // SAFETY: out_agent is writable per this function's contract.
        if let Err(status) = unsafe { put(out_agent, handle, "out_agent") } {
            // SAFETY: just made by Box::into_raw and never shared.
            drop(unsafe { Box::from_raw(handle) });
            return Err(status);
        }
        Ok(())
    })
}

/// Shut the agent's MCP servers down now, even while threads of it are
/// alive (otherwise they stop when the agent and its last thread are freed).
/// Blocks until the servers are down: if one is still starting, that start
/// is waited for first, up to its startup timeout. MCP calls in flight
/// fail; later runs of its threads that need the servers fail with
/// `CODELOOP_CODE_CONFIG`, saying the agent was closed. Idempotent; an
/// agent without MCP servers has nothing to close. The handle stays valid:
/// free it with `codeloop_agent_free` as usual.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: the status message is the caller's.
/// Threading: any thread, but not from inside a codeloop callback (host,
/// event or completion): the close may wait for the callback's own turn.
#[no_mangle]
pub unsafe extern "C" fn codeloop_agent_close(agent: *const CodeloopAgent) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let agent = unsafe { handle(agent, "agent") }?.agent.clone();
        let runtime = codeloop_core::runtime::handle()?;
        // On the runtime, whatever thread waits here; a panic there is a JoinError.
        let closing = runtime.spawn(async move { agent.close().await });
        futures::executor::block_on(closing).map_err(|e| {
            CodeloopStatus::new(
                CodeloopCode::Internal,
                format!("closing the agent failed: {e}"),
            )
        })
    })
}

/// Free an agent. No host callback runs after this returns: it waits for a
/// callback in progress to return, and requests still waiting fail with a
/// host error. NULL is a no-op.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: takes `agent`. Do not call it from inside the host callback.
/// Threading: any thread, once; no other call may use `agent` concurrently.
#[no_mangle]
pub unsafe extern "C" fn codeloop_agent_free(agent: *mut CodeloopAgent) {
    if agent.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a handle from codeloop_agent_new, freed once by contract.
        let agent = unsafe { Box::from_raw(agent) };
        agent.host.close();
    }));
}

/// The warnings of the agent's configuration (unknown config keys, hook
/// events codeloop does not run, ...) as a JSON array of strings; `[]` when
/// there are none. Threads also report them as `error` events.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: `*out_json` is the caller's; free it with `codeloop_bytes_free`.
/// Threading: any thread.
#[no_mangle]
pub unsafe extern "C" fn codeloop_agent_config_warnings(
    agent: *const CodeloopAgent,
    out_json: *mut CodeloopBytes,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let agent = unsafe { handle(agent, "agent") }?;
        if out_json.is_null() {
            return Err(CodeloopStatus::invalid("out_json is NULL"));
        }
        let json = serde_json::to_vec(agent.agent.config_warnings()).map_err(|e| {
            CodeloopStatus::new(
                CodeloopCode::Internal,
                format!("cannot serialize the warnings: {e}"),
            )
        })?;
        // SAFETY: non-null and writable per this function's contract.
        unsafe { out_json.write(CodeloopBytes::from_vec(json)) };
        Ok(())
    })
}

/// Answer host request `request_id` with `answer`, the JSON the request's
/// kind expects (see `CodeloopHostKind`). The first answer counts.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: `answer` is borrowed for the call; the status message is the caller's.
/// Threading: any thread, any time while `agent` is live (also from inside
/// the host callback).
#[no_mangle]
pub unsafe extern "C" fn codeloop_host_reply(
    agent: *const CodeloopAgent,
    request_id: u64,
    answer: *const u8,
    answer_len: usize,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let agent = unsafe { handle(agent, "agent") }?;
        // SAFETY: per this function's contract.
        let bytes = unsafe { borrow(answer, answer_len, "answer") }?;
        let (answer, status) = match serde_json::from_slice(bytes) {
            Ok(value) => (Answer::Value(value), Ok(())),
            // The request still gets an answer, so its turn does not wait forever.
            Err(e) => (
                Answer::Failed(format!("the host answered invalid JSON: {e}")),
                Err(CodeloopStatus::invalid(format!("answer: {e}"))),
            ),
        };
        if !agent.host.answer(request_id, answer) {
            return Err(CodeloopStatus::new(
                CodeloopCode::UnknownRequest,
                format!("no host request {request_id} is waiting for an answer"),
            ));
        }
        status
    })
}

/// Fail host request `request_id` with a UTF-8 `message`: a failed tool call
/// goes back to the model as an error; a failed approval or hook fails the
/// turn with `CODELOOP_CODE_HOST`.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: `message` is borrowed for the call; the status message is the caller's.
/// Threading: any thread, any time while `agent` is live.
#[no_mangle]
pub unsafe extern "C" fn codeloop_host_fail(
    agent: *const CodeloopAgent,
    request_id: u64,
    message: *const u8,
    message_len: usize,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let agent = unsafe { handle(agent, "agent") }?;
        // SAFETY: per this function's contract.
        let bytes = unsafe { borrow(message, message_len, "message") }?;
        let message = String::from_utf8_lossy(bytes).into_owned();
        if !agent.host.answer(request_id, Answer::Failed(message)) {
            return Err(CodeloopStatus::new(
                CodeloopCode::UnknownRequest,
                format!("no host request {request_id} is waiting for an answer"),
            ));
        }
        Ok(())
    })
}

/// Start a new, empty thread of `agent`.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: `*out_thread` is a new handle the caller frees with
/// `codeloop_thread_free`; it does not borrow `agent`.
/// Threading: any thread.
#[no_mangle]
pub unsafe extern "C" fn codeloop_agent_start_thread(
    agent: *const CodeloopAgent,
    out_thread: *mut *mut CodeloopThread,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let agent = unsafe { handle(agent, "agent") }?;
        let thread = agent.agent.start_thread();
        let raw = Box::into_raw(Box::new(CodeloopThread { thread }));
        // SAFETY: per this function's contract; on failure the handle is reclaimed.
        unsafe { put(out_thread, raw, "out_thread") }.inspect_err(|_| {
            // SAFETY: just made by Box::into_raw and never shared.
            drop(unsafe { Box::from_raw(raw) });
        })
    })
}

/// Resume thread `id` (UTF-8, borrowed) from the agent's session store.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: as `codeloop_agent_start_thread`.
/// Threading: any thread; reads the rollout file before returning.
#[no_mangle]
pub unsafe extern "C" fn codeloop_agent_resume_thread(
    agent: *const CodeloopAgent,
    id: *const u8,
    id_len: usize,
    out_thread: *mut *mut CodeloopThread,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let agent = unsafe { handle(agent, "agent") }?;
        // SAFETY: per this function's contract.
        let id = utf8(unsafe { borrow(id, id_len, "id") }?, "id")?;
        let thread = agent.agent.resume_thread(id)?;
        let raw = Box::into_raw(Box::new(CodeloopThread { thread }));
        // SAFETY: per this function's contract; on failure the handle is reclaimed.
        unsafe { put(out_thread, raw, "out_thread") }.inspect_err(|_| {
            // SAFETY: just made by Box::into_raw and never shared.
            drop(unsafe { Box::from_raw(raw) });
        })
    })
}

/// Fork thread `id` (UTF-8, borrowed) of the agent's session store: a new
/// thread, with its own id and rollout file, that starts from the source's
/// history — all of it when `at_turn` is 0, else up to the end of turn
/// `at_turn` (turns count from 1). The source is only read. Fails with
/// `CODELOOP_CODE_CONFIG` for an unknown id, a turn out of range or an
/// ephemeral agent.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: as `codeloop_agent_start_thread`.
/// Threading: any thread; reads the source and writes the new rollout file
/// before returning.
#[no_mangle]
pub unsafe extern "C" fn codeloop_agent_fork_thread(
    agent: *const CodeloopAgent,
    id: *const u8,
    id_len: usize,
    at_turn: u64,
    out_thread: *mut *mut CodeloopThread,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let agent = unsafe { handle(agent, "agent") }?;
        // SAFETY: per this function's contract.
        let id = utf8(unsafe { borrow(id, id_len, "id") }?, "id")?;
        if out_thread.is_null() {
            // Refused before the fork writes a rollout file nobody would own.
            return Err(CodeloopStatus::invalid("out_thread is NULL"));
        }
        let thread = agent
            .agent
            .fork_thread(id, (at_turn > 0).then_some(at_turn))?;
        let raw = Box::into_raw(Box::new(CodeloopThread { thread }));
        // SAFETY: non-null and writable per this function's contract.
        unsafe { out_thread.write(raw) };
        Ok(())
    })
}

/// The thread's id (UTF-8), to resume it by later.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: `*out_id` is the caller's; free it with `codeloop_bytes_free`.
/// Threading: any thread.
#[no_mangle]
pub unsafe extern "C" fn codeloop_thread_id(
    thread: *const CodeloopThread,
    out_id: *mut CodeloopBytes,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let thread = unsafe { handle(thread, "thread") }?;
        let id = CodeloopBytes::from_vec(thread.thread.id().as_bytes().to_vec());
        if out_id.is_null() {
            // SAFETY: just made by from_vec and not handed out.
            unsafe { codeloop_bytes_free(id) };
            return Err(CodeloopStatus::invalid("out_id is NULL"));
        }
        // SAFETY: non-null and writable per this function's contract.
        unsafe { out_id.write(id) };
        Ok(())
    })
}

/// Interrupt the thread's running turn, if any: it ends with
/// `CODELOOP_CODE_INTERRUPTED`. Returns at once.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Threading: any thread, also from a callback.
#[no_mangle]
pub unsafe extern "C" fn codeloop_thread_interrupt(thread: *const CodeloopThread) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: NULL or a live handle per this function's contract.
        if let Some(thread) = unsafe { thread.as_ref() } {
            thread.thread.interrupt();
        }
    }));
}

/// Add `input` (a JSON string or array of user inputs, as for
/// `codeloop_thread_run`; borrowed for the call) to the thread's running
/// turn: it reaches the model with the turn's next request. Fails with
/// `CODELOOP_CODE_NO_ACTIVE_TURN` when no turn runs (the input is then
/// dropped, never kept for a later turn). Returns at once.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: the status message is the caller's.
/// Threading: any thread, also from a callback of the running turn.
#[no_mangle]
pub unsafe extern "C" fn codeloop_thread_steer(
    thread: *const CodeloopThread,
    input: *const u8,
    input_len: usize,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let thread = unsafe { handle(thread, "thread") }?;
        // SAFETY: per this function's contract.
        let input = parse_input(unsafe { borrow(input, input_len, "input") }?)?;
        thread.thread.steer(input)?;
        Ok(())
    })
}

/// Compact the thread's history now: the model summarizes the conversation,
/// which then continues from the summary and the recent user messages.
/// `on_done` (required) is called exactly once: on `CODELOOP_CODE_OK` with
/// the `Compaction` JSON (`{"trigger":"manual","tokens_before",
/// "items_before","items_after"}`), otherwise with the error as for a run
/// (`CODELOOP_CODE_BUSY` while a turn runs; `CODELOOP_CODE_INTERRUPTED`
/// after `codeloop_thread_interrupt`). If this function returns an error,
/// `on_done` is never called.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: `user_data` must stay valid until `on_done` was called.
/// Threading: any thread; returns at once; `on_done` runs on a codeloop thread.
#[no_mangle]
pub unsafe extern "C" fn codeloop_thread_compact(
    thread: *const CodeloopThread,
    on_done: CodeloopDoneCallback,
    user_data: *mut c_void,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let thread = unsafe { handle(thread, "thread") }?.thread.clone();
        let on_done = on_done.ok_or_else(|| CodeloopStatus::invalid("on_done is NULL"))?;
        let runtime = codeloop_core::runtime::handle()?;
        let mut done = DoneOnce {
            callback: Some((on_done, UserData(user_data))),
        };
        runtime.spawn(async move {
            let outcome = AssertUnwindSafe(thread.compact()).catch_unwind().await;
            match outcome {
                Ok(Ok(compaction)) => done.finish_json(&compaction),
                Ok(Err(e)) => done.fail(&e),
                Err(panic) => done.panicked(panic.as_ref()),
            }
        });
        Ok(())
    })
}

/// Free a thread handle. A running turn goes on to its end and its
/// callbacks still fire. NULL is a no-op.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: takes `thread`.
/// Threading: any thread, once; no other call may use `thread` concurrently.
#[no_mangle]
pub unsafe extern "C" fn codeloop_thread_free(thread: *mut CodeloopThread) {
    if thread.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a handle from this library, freed once by contract.
        drop(unsafe { Box::from_raw(thread) });
    }));
}

/// Called once per event of a run with the event's JSON (a `ThreadEvent`),
/// borrowed for the duration of the call, on a codeloop runtime thread.
/// Return quickly: the turn's events wait behind it.
pub type CodeloopEventCallback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const u8, event_len: usize)>;

/// Called exactly once when a run (or a compaction) ends, after its last
/// event, on a codeloop runtime thread. On `CODELOOP_CODE_OK`, `data` is the
/// result JSON: for a run `{"thread_id", "final_response", "items", "usage",
/// "output"}` (`output`: the parsed final answer when the run had an output
/// schema, else null). On `CODELOOP_CODE_OUTPUT_INVALID` it is the JSON
/// `{"message", "errors": [...]}` (the validation messages); on any other
/// code it is the UTF-8 error message. `data` is borrowed for the duration
/// of the call.
pub type CodeloopDoneCallback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        code: CodeloopCode,
        data: *const u8,
        data_len: usize,
    ),
>;

/// Fires the completion callback exactly once: on the normal path through
/// `finish`, and from `Drop` if the task ended any other way (a panic, a
/// runtime shutting down).
struct DoneOnce {
    callback: Option<(
        unsafe extern "C" fn(*mut c_void, CodeloopCode, *const u8, usize),
        UserData,
    )>,
}

impl DoneOnce {
    /// Report success with `value` as JSON.
    fn finish_json(&mut self, value: &impl serde::Serialize) {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.finish(CodeloopCode::Ok, &bytes),
            Err(e) => self.finish(
                CodeloopCode::Internal,
                format!("cannot serialize the result: {e}").as_bytes(),
            ),
        }
    }

    /// Report a core error: its message, or for `output_invalid` the JSON
    /// `{"message", "errors"}` so the validation messages arrive intact.
    fn fail(&mut self, error: &Error) {
        let code = error.code().into();
        if let Error::OutputInvalid { errors } = error {
            let json = serde_json::json!({"message": error.to_string(), "errors": errors});
            if let Ok(bytes) = serde_json::to_vec(&json) {
                return self.finish(code, &bytes);
            }
        }
        self.finish(code, error.to_string().as_bytes());
    }

    fn panicked(&mut self, panic: &(dyn std::any::Any + Send)) {
        self.finish(
            CodeloopCode::Internal,
            format!("codeloop panicked: {}", panic_message(panic)).as_bytes(),
        );
    }

    fn finish(&mut self, code: CodeloopCode, data: &[u8]) {
        if let Some((call, user_data)) = self.callback.take() {
            // SAFETY: the callback and user_data come from codeloop_thread_run,
            // whose contract keeps them valid until this one call; `data`
            // outlives it.
            unsafe { call(user_data.get(), code, data.as_ptr(), data.len()) };
        }
    }
}

impl Drop for DoneOnce {
    fn drop(&mut self) {
        self.finish(
            CodeloopCode::Internal,
            b"the run ended without reporting an outcome",
        );
    }
}

/// Parse a run input: a JSON string (the prompt) or an array of user inputs
/// (`{"type":"text","text":...}`, `{"type":"local_image","path":...}`).
fn parse_input(bytes: &[u8]) -> Result<Input, CodeloopStatus> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| CodeloopStatus::invalid(format!("input: {e}")))?;
    if let serde_json::Value::String(text) = value {
        return Ok(Input::from(text));
    }
    serde_json::from_value(value).map_err(|e| CodeloopStatus::invalid(format!("input: {e}")))
}

/// Parse run options: empty bytes are the defaults.
fn parse_run_options(bytes: &[u8]) -> Result<RunOptions, CodeloopStatus> {
    if bytes.is_empty() {
        return Ok(RunOptions::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| CodeloopStatus::new(CodeloopCode::Config, format!("run options: {e}")))
}

/// Run one turn on `thread` with the agent's options; the same as
/// `codeloop_thread_run_with` without run options.
///
/// # Safety
///
/// As `codeloop_thread_run_with`.
#[no_mangle]
pub unsafe extern "C" fn codeloop_thread_run(
    thread: *const CodeloopThread,
    input: *const u8,
    input_len: usize,
    on_event: CodeloopEventCallback,
    on_done: CodeloopDoneCallback,
    user_data: *mut c_void,
    out_run: *mut *mut CodeloopRun,
) -> CodeloopStatus {
    // SAFETY: the same contract, with no run options.
    unsafe {
        codeloop_thread_run_with(
            thread,
            input,
            input_len,
            std::ptr::null(),
            0,
            on_event,
            on_done,
            user_data,
            out_run,
        )
    }
}

/// Run one turn on `thread`.
///
/// `input` (borrowed for the call) is a JSON string or a JSON array of user
/// inputs. `options` (borrowed; empty for none) is a `RunOptions` JSON object
/// (`output_schema`, `output_schema_retries`, `max_turns`, `max_tokens`,
/// `max_cost_usd`, `timeout_ms`) over the agent's options for this run only;
/// invalid options are `CODELOOP_CODE_CONFIG`. `on_event` (may be NULL)
/// gets every event; `on_done` (required) is called exactly once when the
/// turn ends, after the last event — also when it fails, is interrupted or
/// panics. If this function returns an error, neither callback is ever called.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: `user_data` must stay valid until `on_done` was called. If
/// `out_run` is not NULL, `*out_run` is a new handle the caller frees with
/// `codeloop_run_free` (any time; it only serves `codeloop_run_cancel`).
/// Threading: any thread; returns at once; callbacks run on codeloop threads.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn codeloop_thread_run_with(
    thread: *const CodeloopThread,
    input: *const u8,
    input_len: usize,
    options: *const u8,
    options_len: usize,
    on_event: CodeloopEventCallback,
    on_done: CodeloopDoneCallback,
    user_data: *mut c_void,
    out_run: *mut *mut CodeloopRun,
) -> CodeloopStatus {
    guard(|| {
        // SAFETY: per this function's contract.
        let thread = unsafe { handle(thread, "thread") }?;
        // SAFETY: per this function's contract.
        let input = parse_input(unsafe { borrow(input, input_len, "input") }?)?;
        // SAFETY: per this function's contract.
        let options = parse_run_options(unsafe { borrow(options, options_len, "options") }?)?;
        let on_done = on_done.ok_or_else(|| CodeloopStatus::invalid("on_done is NULL"))?;
        // Resolve the runtime first: past this point the run must start,
        // since the completion callback is then owed.
        let runtime = codeloop_core::runtime::handle()?;
        let user_data = UserData(user_data);
        let mut stream = thread.thread.run_streamed_with(input, options);
        let interrupt = stream.interrupter();
        let mut done = DoneOnce {
            callback: Some((on_done, user_data)),
        };
        let thread_id = thread.thread.id().to_string();
        runtime.spawn(async move {
            let turn = AssertUnwindSafe(async {
                let mut collector = RunCollector::new(thread_id);
                while let Some(event) = stream.next().await {
                    if let Some(call) = on_event {
                        let json = serde_json::to_vec(&event).map_err(|e| {
                            Error::Internal(format!("cannot serialize an event: {e}"))
                        })?;
                        // SAFETY: the callback and user_data come from this
                        // call's caller, valid until on_done fires (later);
                        // `json` outlives the call.
                        unsafe { call(user_data.get(), json.as_ptr(), json.len()) };
                    }
                    if let Some(outcome) = collector.push(&event, &stream) {
                        return outcome;
                    }
                }
                Err(collector.ended_early())
            })
            .catch_unwind()
            .await;
            match turn {
                Ok(Ok(result)) => done.finish_json(&result),
                Ok(Err(e)) => done.fail(&e),
                Err(panic) => done.panicked(panic.as_ref()),
            }
        });
        if !out_run.is_null() {
            let raw = Box::into_raw(Box::new(CodeloopRun { interrupt }));
            // SAFETY: non-null and writable per this function's contract.
            unsafe { out_run.write(raw) };
        }
        Ok(())
    })
}

/// Cancel the run's turn if it still runs (never a later turn of the same
/// thread); `on_done` then reports `CODELOOP_CODE_INTERRUPTED`. Returns at once.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Threading: any thread, also from a callback. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn codeloop_run_cancel(run: *const CodeloopRun) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: NULL or a live handle per this function's contract.
        if let Some(run) = unsafe { run.as_ref() } {
            run.interrupt.interrupt();
        }
    }));
}

/// Free a run handle; the turn and its callbacks are not affected. NULL is a no-op.
///
/// # Safety
///
/// Pointers are NULL or valid as stated above.
/// Ownership: takes `run`.
/// Threading: any thread, once; no other call may use `run` concurrently.
#[no_mangle]
pub unsafe extern "C" fn codeloop_run_free(run: *mut CodeloopRun) {
    if run.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a handle from codeloop_thread_run, freed once by contract.
        drop(unsafe { Box::from_raw(run) });
    }));
}

#[cfg(test)]
mod tests;
