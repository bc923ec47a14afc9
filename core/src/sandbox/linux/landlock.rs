//! Landlock through raw syscalls: ABI detection, a ruleset built in the
//! parent, and the one call the child makes to enforce it.
//!
//! Landlock is an allow-list: the ruleset names the access rights it
//! *handles*; every handled right is denied unless a rule grants it beneath
//! some directory (or on some file). Rights the running kernel does not know
//! are simply not handled, so each grant is masked with what the ABI knows.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

// File system access rights, by the ABI that introduced them.
pub const EXECUTE: u64 = 1 << 0;
pub const WRITE_FILE: u64 = 1 << 1;
pub const READ_FILE: u64 = 1 << 2;
pub const READ_DIR: u64 = 1 << 3;
pub const REMOVE_DIR: u64 = 1 << 4;
pub const REMOVE_FILE: u64 = 1 << 5;
pub const MAKE_CHAR: u64 = 1 << 6;
pub const MAKE_DIR: u64 = 1 << 7;
pub const MAKE_REG: u64 = 1 << 8;
pub const MAKE_SOCK: u64 = 1 << 9;
pub const MAKE_FIFO: u64 = 1 << 10;
pub const MAKE_BLOCK: u64 = 1 << 11;
pub const MAKE_SYM: u64 = 1 << 12;
/// ABI 2: link or rename into another directory.
pub const REFER: u64 = 1 << 13;
/// ABI 3: truncate(2), ftruncate(2), open with O_TRUNC.
pub const TRUNCATE: u64 = 1 << 14;
/// ABI 5: ioctl(2) on character and block devices.
pub const IOCTL_DEV: u64 = 1 << 15;

// Network access rights (ABI 4).
pub const NET_BIND_TCP: u64 = 1 << 0;
pub const NET_CONNECT_TCP: u64 = 1 << 1;

// Scopes (ABI 6): IPC the domain may not reach out of.
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
pub const SCOPE_SIGNAL: u64 = 1 << 1;

/// Rights that apply to a file (not only to a directory); a rule on a file
/// may grant only these.
pub const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;

const CREATE_RULESET_VERSION: u32 = 1 << 0;
const RULE_PATH_BENEATH: libc::c_int = 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr` is packed in the uapi header.
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version of the running kernel; 0 when Landlock is not
/// built in or not enabled (`lsm=` boot parameter).
pub fn abi_version() -> u32 {
    // SAFETY: with a null attribute, size 0 and the VERSION flag the call
    // only returns a number; no memory is read or written.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(ret).unwrap_or(0)
}

/// Every file system right the given ABI knows.
pub fn fs_rights(abi: u32) -> u64 {
    let mut rights = EXECUTE
        | WRITE_FILE
        | READ_FILE
        | READ_DIR
        | REMOVE_DIR
        | REMOVE_FILE
        | MAKE_CHAR
        | MAKE_DIR
        | MAKE_REG
        | MAKE_SOCK
        | MAKE_FIFO
        | MAKE_BLOCK
        | MAKE_SYM;
    if abi >= 2 {
        rights |= REFER;
    }
    if abi >= 3 {
        rights |= TRUNCATE;
    }
    if abi >= 5 {
        rights |= IOCTL_DEV;
    }
    rights
}

/// A ruleset under construction in the parent. Its fd is close-on-exec (the
/// kernel sets it), so a fork inherits it long enough to call
/// [`restrict_self`] and every exec closes it.
#[derive(Debug)]
pub struct Ruleset {
    fd: OwnedFd,
    handled_fs: u64,
}

impl Ruleset {
    /// Handle `fs` (masked by the caller to what the ABI knows), and the
    /// network rights and scopes when non-zero (ABI 4 and 6).
    pub fn new(fs: u64, net: u64, scoped: u64) -> io::Result<Self> {
        let attr = RulesetAttr {
            handled_access_fs: fs,
            handled_access_net: net,
            scoped,
        };
        // Older kernels reject an attribute larger than they know unless the
        // tail is zero; pass only the fields in use so any ABI accepts it.
        let size = if scoped != 0 {
            std::mem::size_of::<RulesetAttr>()
        } else if net != 0 {
            2 * std::mem::size_of::<u64>()
        } else {
            std::mem::size_of::<u64>()
        };
        // SAFETY: `attr` is a valid, initialized struct of at least `size`
        // bytes that outlives the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                size,
                0u32,
            )
        };
        let fd = RawFd::try_from(ret).map_err(|_| io::Error::last_os_error())?;
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this fd to us; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Ruleset { fd, handled_fs: fs })
    }

    /// Grant `access` beneath `path` (a directory) or on it (a file; then
    /// only the file rights of `access` apply), following symlinks. Rights
    /// the ruleset does not handle are dropped. `Ok(false)` when the path
    /// does not exist.
    pub fn allow(&mut self, path: &Path, access: u64) -> io::Result<bool> {
        self.allow_opened(path, access, 0)
    }

    /// [`Ruleset::allow`] without following a symlink at `path`: a symlink
    /// gets no rule (`Ok(false)`), since writes through it are checked at
    /// its target.
    pub fn allow_nofollow(&mut self, path: &Path, access: u64) -> io::Result<bool> {
        self.allow_opened(path, access, libc::O_NOFOLLOW)
    }

    fn allow_opened(&mut self, path: &Path, access: u64, flags: libc::c_int) -> io::Result<bool> {
        let file = match File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC | flags)
            .open(path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        // fstat of the opened inode, not a second lookup of the path.
        let kind = file.metadata()?.file_type();
        if kind.is_symlink() {
            return Ok(false);
        }
        let mut allowed = access & self.handled_fs;
        if !kind.is_dir() {
            allowed &= FILE_RIGHTS;
        }
        if allowed == 0 {
            return Ok(true);
        }
        let attr = PathBeneathAttr {
            allowed_access: allowed,
            parent_fd: file.as_raw_fd(),
        };
        // SAFETY: both fds are open for the duration of the call and `attr`
        // is a valid, initialized struct.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.fd.as_raw_fd(),
                RULE_PATH_BENEATH,
                &attr as *const PathBeneathAttr,
                0u32,
            )
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(true)
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Enforce the ruleset on the calling thread and everything it execs or
/// forks from now on. Needs `PR_SET_NO_NEW_PRIVS` first. Runs in the forked
/// child: one raw syscall, no allocation.
pub fn restrict_self(ruleset_fd: RawFd) -> io::Result<()> {
    // SAFETY: a plain syscall on an integer fd; no memory is passed.
    let ret = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset_fd, 0u32) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_grow_with_the_abi() {
        assert_eq!(fs_rights(1), (1 << 13) - 1);
        assert_eq!(fs_rights(2) & REFER, REFER);
        assert_eq!(fs_rights(2) & TRUNCATE, 0);
        assert_eq!(fs_rights(3) & TRUNCATE, TRUNCATE);
        assert_eq!(fs_rights(4) & IOCTL_DEV, 0);
        assert_eq!(fs_rights(7), (1 << 16) - 1);
    }

    #[test]
    fn a_ruleset_takes_rules_on_dirs_and_files() -> anyhow::Result<()> {
        let abi = abi_version();
        if abi == 0 {
            // Nothing to build on this kernel; the fail-closed path is
            // tested by the policy's own tests.
            return Ok(());
        }
        let mut rs = Ruleset::new(fs_rights(abi), 0, 0)?;
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("f");
        std::fs::write(&file, "x")?;
        assert!(rs.allow(dir.path(), fs_rights(abi))?);
        // Directory-only rights are dropped for a file rather than refused.
        assert!(rs.allow(&file, fs_rights(abi))?);
        assert!(!rs.allow(&dir.path().join("missing"), READ_FILE)?);
        std::os::unix::fs::symlink(&file, dir.path().join("link"))?;
        assert!(!rs.allow_nofollow(&dir.path().join("link"), READ_FILE)?);
        Ok(())
    }
}
