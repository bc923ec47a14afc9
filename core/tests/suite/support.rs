//! Helpers shared by the suites.

use std::fs;
use std::path::{Path, PathBuf};
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

/// The temp roots every workspace-write sandbox may write.
pub fn temp_roots() -> Vec<PathBuf> {
    [
        PathBuf::from("/tmp"),
        std::env::temp_dir(),
        PathBuf::from("/dev/shm"),
    ]
    .into_iter()
    .filter_map(|r| r.canonicalize().ok())
    .collect()
}

pub fn under_temp_root(path: &Path) -> bool {
    temp_roots().iter().any(|r| path.starts_with(r))
}

/// Where labs live: the cargo target dir, unless the checkout itself sits in
/// a temp root (a clone in /tmp), then a directory outside every temp root.
pub fn lab_parent() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let candidates = [
        Some(target),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/codeloop-tests")),
        Some(PathBuf::from("/var/tmp/codeloop-tests")),
    ];
    for dir in candidates.into_iter().flatten() {
        if fs::create_dir_all(&dir).is_ok() {
            if let Ok(dir) = dir.canonicalize() {
                if !under_temp_root(&dir) {
                    return dir;
                }
            }
        }
    }
    panic!("no directory outside the temp roots to run the sandbox tests in");
}

/// A codeloop home that does not exist: agents built with it read no
/// config, AGENTS.md, skills or hooks of the machine running the tests.
pub fn no_home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-codeloop-home")
}
