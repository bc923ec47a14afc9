//! The host bridge: core's `Host` trait answered through one C callback.
//!
//! A request gets an id, goes to the callback on a blocking-pool thread (the
//! host may do real work before it returns, and must never stall a runtime
//! worker), and the turn then waits for `codeloop_host_reply` or
//! `codeloop_host_fail` with that id, from any thread, at any later time.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use codeloop_core::agent::{HostRequestKind, JsonHost};
use codeloop_core::{Error, Result};
use serde_json::Value;
use tokio::sync::oneshot;

/// What a host request asks for; the JSON payload's type follows from it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeloopHostKind {
    /// A `HostToolCall`; answer with a `HostToolResult`
    /// (`{"type":"output","output":"..."}` or `{"type":"error","message":"..."}`).
    Tool = 1,
    /// An `ApprovalRequest`; answer with an `ApprovalDecision`
    /// (`"approve"`, `"approve_for_session"`, `"deny"` or `"abort"`) or a
    /// JSON boolean (`true`: approve, `false`: deny).
    Approval = 2,
    /// A `HookEvent` (tagged by `hook_event_name`); answer with a `HookOutcome`.
    /// A hook registered in the options as `{"type": "callback", "id": ID}`
    /// (under `hooks.<Event>[].hooks`) arrives with `"callback_id": ID`
    /// added, always (whatever `host_mask` says), one request per link of
    /// the event's chain; core runs the chain (matchers, order, a deny
    /// stopping the rest). A request without `callback_id` is the single
    /// hook selected by the `CODELOOP_HOST_HOOK_*` bits, asked after the chain.
    Hook = 3,
}

/// Bits of `codeloop_agent_new`'s `host_mask`: which requests go to the host
/// callback. Requests not asked for get the headless defaults at once (no
/// handler for tools, approvals denied, hooks continue), without a callback.
/// Hook callbacks registered by id in the `hooks` option need no bit.
/// This bit: host tool calls (`CodeloopHostKind::Tool`).
pub const CODELOOP_HOST_TOOLS: u32 = 1;
/// Approvals (`CodeloopHostKind::Approval`).
pub const CODELOOP_HOST_APPROVALS: u32 = 1 << 1;
/// One bit per hook name (`CodeloopHostKind::Hook`).
pub const CODELOOP_HOST_HOOK_SESSION_START: u32 = 1 << 2;
pub const CODELOOP_HOST_HOOK_USER_PROMPT_SUBMIT: u32 = 1 << 3;
pub const CODELOOP_HOST_HOOK_PRE_TOOL_USE: u32 = 1 << 4;
pub const CODELOOP_HOST_HOOK_POST_TOOL_USE: u32 = 1 << 5;
pub const CODELOOP_HOST_HOOK_STOP: u32 = 1 << 6;

/// Called once per host request, on a codeloop blocking-pool thread (never
/// the thread that made the agent). `request` is borrowed for the duration of
/// the call. The host answers later, from any thread, with
/// `codeloop_host_reply` or `codeloop_host_fail`; it may also answer before
/// returning.
pub type CodeloopHostCallback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        request_id: u64,
        kind: CodeloopHostKind,
        request: *const u8,
        request_len: usize,
    ),
>;

/// A `user_data` pointer moved to other threads.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub *mut c_void);

// SAFETY: codeloop never dereferences user_data; it only hands it back to the
// host's callbacks, whose documented contract is that they may be called from
// any thread with it.
unsafe impl Send for UserData {}
// SAFETY: as above; the pointer is only copied, never used by codeloop.
unsafe impl Sync for UserData {}

impl UserData {
    /// A method, not `.0`: a closure that used the field would capture the
    /// bare pointer (disjoint capture) and lose the `Send` above.
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

pub(crate) enum Answer {
    Value(Value),
    Failed(String),
}

type Callback = unsafe extern "C" fn(*mut c_void, u64, CodeloopHostKind, *const u8, usize);

/// State shared by the agent handle (which answers) and the host (which asks).
pub(crate) struct HostShared {
    /// `None` once the agent handle was freed: no callback may run after
    /// `codeloop_agent_free` returns, because `user_data` may be gone. Calls
    /// hold the read lock, so freeing waits for a running call to return.
    callback: RwLock<Option<(Callback, UserData)>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    next_id: AtomicU64,
}

impl HostShared {
    pub(crate) fn new(callback: Option<(Callback, UserData)>) -> Arc<Self> {
        Arc::new(HostShared {
            callback: RwLock::new(callback),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        })
    }

    /// Answer request `id`. False when no such request waits (answered
    /// already, its turn ended, or it never existed).
    pub(crate) fn answer(&self, id: u64, answer: Answer) -> bool {
        let tx = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        match tx {
            // A turn interrupted meanwhile no longer listens; the answer was
            // still the first for this id.
            Some(tx) => {
                let _ = tx.send(answer);
                true
            }
            None => false,
        }
    }

    /// Stop calling the host and fail every request still waiting.
    pub(crate) fn close(&self) {
        *self.callback.write().unwrap_or_else(|p| p.into_inner()) = None;
        // Dropping the senders wakes every waiting turn with "never answered".
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Removes a request's slot when its turn stops waiting (answered,
/// interrupted or failed), so an unanswered request does not stay forever.
struct PendingGuard<'a> {
    shared: &'a HostShared,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

pub(crate) struct FfiHost {
    pub shared: Arc<HostShared>,
    pub mask: u32,
}

impl FfiHost {
    /// Hand one request to the registered callback and wait for the reply.
    async fn send_request(&self, kind: CodeloopHostKind, payload: Vec<u8>) -> Result<Value> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        let _slot = PendingGuard {
            shared: &self.shared,
            id,
        };
        let shared = self.shared.clone();
        let called = tokio::task::spawn_blocking(move || {
            let callback = shared.callback.read().unwrap_or_else(|p| p.into_inner());
            let Some((call, user_data)) = *callback else {
                return false;
            };
            // SAFETY: `call` and `user_data` were given to codeloop_agent_new,
            // whose contract keeps them valid until codeloop_agent_free, which
            // cannot complete while this read lock is held. `payload` outlives
            // the call, as the documented borrow requires.
            unsafe { call(user_data.get(), id, kind, payload.as_ptr(), payload.len()) };
            true
        })
        .await;
        match called {
            Ok(true) => {}
            Ok(false) => return Err(Error::Host("the agent handle was freed".into())),
            Err(e) => {
                return Err(Error::Host(format!(
                    "the host callback did not run to its end: {e}"
                )))
            }
        }
        match rx.await {
            Ok(Answer::Value(v)) => Ok(v),
            Ok(Answer::Failed(message)) => Err(Error::Host(message)),
            Err(_) => Err(Error::Host(
                "the host never answered (the agent handle was freed)".into(),
            )),
        }
    }
}

fn hook_bit(name: &str) -> u32 {
    match name {
        "SessionStart" => CODELOOP_HOST_HOOK_SESSION_START,
        "UserPromptSubmit" => CODELOOP_HOST_HOOK_USER_PROMPT_SUBMIT,
        "PreToolUse" => CODELOOP_HOST_HOOK_PRE_TOOL_USE,
        "PostToolUse" => CODELOOP_HOST_HOOK_POST_TOOL_USE,
        "Stop" => CODELOOP_HOST_HOOK_STOP,
        _ => 0,
    }
}

#[async_trait]
impl JsonHost for FfiHost {
    fn handles_tools(&self) -> bool {
        self.mask & CODELOOP_HOST_TOOLS != 0
    }

    fn handles_approvals(&self) -> bool {
        self.mask & CODELOOP_HOST_APPROVALS != 0
    }

    fn handles_hook(&self, name: &str) -> bool {
        self.mask & hook_bit(name) != 0
    }

    async fn ask(&self, kind: HostRequestKind, _thread_id: &str, payload: Value) -> Result<Value> {
        let kind = match kind {
            HostRequestKind::Tool => CodeloopHostKind::Tool,
            HostRequestKind::Approval => CodeloopHostKind::Approval,
            HostRequestKind::Hook => CodeloopHostKind::Hook,
        };
        let bytes = serde_json::to_vec(&payload)
            .map_err(|e| Error::Internal(format!("cannot serialize a host request: {e}")))?;
        self.send_request(kind, bytes).await
    }
}
