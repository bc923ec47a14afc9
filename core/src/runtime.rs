//! The one tokio runtime codeloop owns per process, shared by every agent.
//!
//! Rust callers already inside a tokio runtime use theirs; fronts that have
//! none (Python, Node, Go, C) use [`global`], built on first use.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

static GLOBAL: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

/// The process-wide runtime, created on first use.
pub fn global() -> Result<&'static Runtime> {
    GLOBAL
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("codeloop-rt")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Internal(format!("cannot start the codeloop runtime: {e}")))
}

/// The runtime to spawn on: the caller's when there is one, else the global one.
pub fn handle() -> Result<Handle> {
    match Handle::try_current() {
        Ok(h) => Ok(h),
        Err(_) => Ok(global()?.handle().clone()),
    }
}

pub fn spawn<F>(future: F) -> Result<JoinHandle<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(handle()?.spawn(future))
}
