//! Helpers shared by the suites.

use std::time::{Duration, Instant};

/// Wait until process `pid` has terminated (a zombie counts: it runs no
/// more), by polling a pidfd, which becomes readable when the process exits.
pub fn wait_dead(pid: i32, within: Duration) -> bool {
    // SAFETY: plain syscalls on integers; the fd is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    let deadline = Instant::now() + within;
    let dead = loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        // SIGCHLD from other tests' children interrupts poll; wait on.
        if ready < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break ready == 1;
    };
    unsafe { libc::close(fd) };
    dead
}
