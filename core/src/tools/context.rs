//! What a tool call can see and do: the turn's settings, the host, the
//! cancellation token and the event sink for its items.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::agent::host::Host;
use crate::error::{Error, Result};
use crate::protocol::{
    ApprovalPolicy, DeltaKind, HookEvent, HookOutcome, ItemDetails, ThreadEvent, ThreadItem,
};
use crate::sandbox::SandboxPolicy;

/// Emits thread events and hands out item ids (`item_N`, unique per thread).
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<ThreadEvent>,
    next_id: Arc<AtomicU64>,
}

impl EventSink {
    pub fn new(tx: mpsc::UnboundedSender<ThreadEvent>, next_id: Arc<AtomicU64>) -> Self {
        EventSink { tx, next_id }
    }

    /// A sink whose events go nowhere (tools run outside a turn, tests).
    pub fn discard() -> Self {
        let (tx, _rx) = mpsc::unbounded_channel();
        EventSink::new(tx, Arc::new(AtomicU64::new(0)))
    }

    pub fn next_item_id(&self) -> String {
        format!("item_{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Send an event. A consumer that went away is not an error: the turn
    /// still finishes and its history is kept.
    pub fn emit(&self, event: ThreadEvent) {
        let _ = self.tx.send(event);
    }

    pub fn started(&self, id: &str, details: ItemDetails) {
        self.emit(ThreadEvent::ItemStarted {
            item: item(id, details),
        });
    }

    pub fn updated(&self, id: &str, details: ItemDetails) {
        self.emit(ThreadEvent::ItemUpdated {
            item: item(id, details),
        });
    }

    pub fn completed(&self, id: &str, details: ItemDetails) {
        self.emit(ThreadEvent::ItemCompleted {
            item: item(id, details),
        });
    }

    pub fn delta(&self, id: &str, kind: DeltaKind, delta: impl Into<String>) {
        self.emit(ThreadEvent::ItemDelta {
            item_id: id.to_string(),
            item_type: kind,
            delta: delta.into(),
        });
    }
}

fn item(id: &str, details: ItemDetails) -> ThreadItem {
    ThreadItem {
        id: id.to_string(),
        details,
    }
}

/// Everything a tool call needs from its turn.
#[derive(Clone)]
pub struct ToolContext {
    pub thread_id: String,
    pub cwd: PathBuf,
    pub sandbox: SandboxPolicy,
    pub approval_policy: ApprovalPolicy,
    /// Approvals given "for the session" (shared by the agent's threads).
    pub approvals: Arc<crate::sandbox::approval::ApprovalCache>,
    /// How tool subprocess environments are built.
    pub env_policy: crate::protocol::EnvPolicy,
    /// Default timeout of a shell command when the model gives none.
    pub command_timeout: Duration,
    pub host: Arc<dyn Host>,
    /// Cancelled when the turn is interrupted: tools stop and kill what they run.
    pub cancel: CancellationToken,
    pub events: EventSink,
    /// The turn's `todo_list` item, once `update_plan` made one; the turn
    /// completes it when it ends.
    pub plan_item: Arc<std::sync::Mutex<Option<ThreadItem>>>,
    /// The agent's hook chains (command hooks and host callbacks).
    pub hooks: crate::config::hooks::HookSet,
}

impl ToolContext {
    /// Run the hook chain of `event` (command hooks, callbacks, then the
    /// host's hook), giving up when the turn is interrupted (a slow hook must
    /// not make `interrupt` wait).
    pub async fn hook(&self, event: HookEvent) -> Result<HookOutcome> {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Error::Interrupted),
            outcome = crate::config::hooks::run_chain(self, event) => outcome,
        }
    }

    /// Resolve a path the model gave relative to the turn's cwd.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.cwd.join(p)
        }
    }
}
