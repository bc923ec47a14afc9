//! Signal handlers that hosts with alternate signal stacks accept.
//!
//! tokio reaps child processes (tool commands, MCP servers, command hooks)
//! with a SIGCHLD handler installed through signal-hook-registry, without
//! `SA_ONSTACK`. Go requires that flag on every handler non-Go code
//! installs: a SIGCHLD that lands on a Go thread otherwise kills the
//! process ("non-Go code set up signal handler without SA_ONSTACK flag").
//! So the handler is installed once, up front, and the flag added to it.
//! The handler itself is unchanged (it still chains to the host's).

use std::sync::Once;

use tokio::runtime::Handle;

/// Install tokio's SIGCHLD handler now and add `SA_ONSTACK` to it. Once per
/// process; later child processes reuse the same registration.
pub(crate) fn install_child_handler(runtime: &Handle) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _entered = runtime.enter();
        // tokio registers a signal's OS handler once and keeps it for the
        // life of the process; this receiver is not needed past that.
        if let Err(e) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child()) {
            eprintln!("codeloop: warning: cannot install the SIGCHLD handler: {e}");
            return;
        }
        add_onstack(libc::SIGCHLD);
    });
}

fn add_onstack(signal: libc::c_int) {
    // SAFETY: sigaction reads and writes only the structs given here; the
    // handler and mask are kept as they are, only the flag is added.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, std::ptr::null(), &mut action) != 0 {
            return;
        }
        let handler = action.sa_sigaction;
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            return;
        }
        if action.sa_flags & libc::SA_ONSTACK == 0 {
            action.sa_flags |= libc::SA_ONSTACK;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    #[test]
    fn the_child_handler_has_sa_onstack() {
        let runtime = codeloop_core::runtime::handle().expect("runtime");
        super::install_child_handler(&runtime);
        // SAFETY: reads the current action only.
        let action = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            assert_eq!(
                libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut action),
                0
            );
            action
        };
        assert_ne!(action.sa_sigaction, libc::SIG_DFL);
        assert_ne!(action.sa_flags & libc::SA_ONSTACK, 0);
    }
}
