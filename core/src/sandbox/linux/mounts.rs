//! The mount-namespace layer: the command sees the file system read-only,
//! except its writable roots, and protected paths (`.git`, ...) inside those
//! roots read-only again.
//!
//! Landlock cannot take back, beneath `.git`, a right it grants on the
//! directory that holds it, and it does not mediate metadata changes at all
//! (chmod, chown, utimes, xattrs); read-only mounts do both. The command
//! gets its own mount namespace (its children share it; it disappears with
//! the last of them). Propagation is cut so nothing leaks back to the host;
//! every mount is made read-only (`mount_setattr`, recursive); each writable
//! root is bound onto itself read-write; each protected path is bound onto
//! itself read-only. Writes and metadata changes outside the roots and in
//! protected paths fail with EROFS; renaming or removing a protected path
//! fails with EBUSY (a mount point); links and renames across these mounts
//! fail with EXDEV (`mv` falls back to copying). Writing device files such as
//! `/dev/null` is unaffected by a read-only mount. The command cannot undo
//! any of it: Landlock forbids mount changes to a sandboxed process and the
//! seccomp filter refuses the mount syscalls.
//!
//! A mount namespace needs CAP_SYS_ADMIN: root has it, and other users get
//! it inside a new user namespace that maps only their own uid and gid, where
//! the kernel allows unprivileged user namespaces. [`probe`] finds out once
//! which works; where neither does, the caller falls back to Landlock alone
//! (see the module comment of `linux`).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How the command gets a mount namespace of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceKind {
    /// unshare(CLONE_NEWNS): the process has CAP_SYS_ADMIN (root).
    Mount,
    /// unshare(CLONE_NEWUSER | CLONE_NEWNS) with the caller's uid and gid
    /// mapped to themselves. Files of other users look owned by `nobody`
    /// inside; nothing else changes.
    UserAndMount,
}

/// Everything the child needs, prepared in the parent so that applying it
/// is raw syscalls only.
#[derive(Debug)]
pub struct MountPlan {
    kind: NamespaceKind,
    maps: Option<IdMaps>,
    /// Each writable root with the flags to remount its bind with: those
    /// its mount has (read-only included, if it is), which a user namespace
    /// may not change.
    writable: Vec<(CString, libc::c_ulong)>,
    /// Each protected path with its remount flags, read-only added, and the
    /// (device, inode) it had when the plan was made.
    protected: Vec<(CString, libc::c_ulong, (u64, u64))>,
    /// The command's working directory, entered again after the binds so
    /// that a cwd inside a protected path is on the read-only mount.
    cwd: CString,
    root: CString,
}

#[derive(Debug)]
struct IdMaps {
    setgroups_path: CString,
    uid_map_path: CString,
    gid_map_path: CString,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl MountPlan {
    pub fn new(
        kind: NamespaceKind,
        writable: &[PathBuf],
        protected: &[PathBuf],
        cwd: &Path,
    ) -> io::Result<Self> {
        let maps = match kind {
            NamespaceKind::Mount => None,
            NamespaceKind::UserAndMount => {
                // SAFETY: getters without preconditions.
                let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
                Some(IdMaps {
                    setgroups_path: cstring(Path::new("/proc/self/setgroups"))?,
                    uid_map_path: cstring(Path::new("/proc/self/uid_map"))?,
                    gid_map_path: cstring(Path::new("/proc/self/gid_map"))?,
                    uid_map: format!("{uid} {uid} 1\n").into_bytes(),
                    gid_map: format!("{gid} {gid} 1\n").into_bytes(),
                })
            }
        };
        // Outer roots first, so a root nested in another is bound on top.
        let mut writable = writable.to_vec();
        writable.sort_by_key(|p| p.components().count());
        let writable = writable
            .iter()
            .map(|path| Ok((cstring(path)?, remount_flags(path)?)))
            .collect::<io::Result<Vec<_>>>()?;
        let protected = protected
            .iter()
            .map(|path| {
                let meta = std::fs::metadata(path)?;
                Ok((
                    cstring(path)?,
                    remount_flags(path)? | libc::MS_RDONLY,
                    (meta.dev(), meta.ino()),
                ))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(MountPlan {
            kind,
            maps,
            writable,
            protected,
            cwd: cstring(cwd)?,
            root: cstring(Path::new("/"))?,
        })
    }

    /// In the forked child, before Landlock and seccomp (both forbid mounts).
    pub fn apply(&self) -> io::Result<()> {
        let flags = match self.kind {
            NamespaceKind::Mount => libc::CLONE_NEWNS,
            NamespaceKind::UserAndMount => libc::CLONE_NEWUSER | libc::CLONE_NEWNS,
        };
        // SAFETY: unshare takes an integer; the child is single-threaded, as
        // a new user namespace requires.
        check(unsafe { libc::unshare(flags) })?;
        if let Some(maps) = &self.maps {
            // Without "deny" an unprivileged process may not write gid_map.
            write_file(&maps.setgroups_path, b"deny")?;
            write_file(&maps.uid_map_path, &maps.uid_map)?;
            write_file(&maps.gid_map_path, &maps.gid_map)?;
        }
        // Mounts are shared with the host's namespace by default on systemd
        // machines: make ours a one-way copy first, or the read-only binds
        // below would propagate back to the host.
        // SAFETY: valid NUL-terminated strings; null fs type and data are
        // allowed for a propagation change.
        check(unsafe {
            libc::mount(
                std::ptr::null(),
                self.root.as_ptr(),
                std::ptr::null(),
                libc::MS_SLAVE | libc::MS_REC,
                std::ptr::null(),
            )
        })?;
        // Everything read-only, in one call over the whole tree.
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: valid path and attribute struct of the size passed.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                self.root.as_ptr(),
                libc::AT_RECURSIVE as libc::c_uint,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        // Roots first, protected paths after: a protected path inside a
        // root ends up on top, read-only.
        for (path, flags) in &self.writable {
            bind_onto_itself(path, *flags)?;
        }
        for (path, flags, id) in &self.protected {
            bind_onto_itself(path, *flags)?;
            // The read-only mount must cover the very file the plan was made
            // for (and Landlock's rules see), not one put at its path since.
            if identity(path)? != *id {
                return Err(io::Error::from_raw_os_error(libc::ESTALE));
            }
        }
        // SAFETY: a valid NUL-terminated path.
        check(unsafe { libc::chdir(self.cwd.as_ptr()) })?;
        Ok(())
    }
}

/// (device, inode) of `path`, by a raw stat(2).
fn identity(path: &CString) -> io::Result<(u64, u64)> {
    // SAFETY: plain data the call fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a writable stat buffer.
    check(unsafe { libc::stat(path.as_ptr(), &mut st) })?;
    Ok((st.st_dev, st.st_ino))
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// Bind `path` onto itself and set the new mount's flags to `flags`.
fn bind_onto_itself(path: &CString, flags: libc::c_ulong) -> io::Result<()> {
    // SAFETY: valid NUL-terminated strings; source and target are the same
    // path; null fs type and data are allowed for a bind.
    check(unsafe {
        libc::mount(
            path.as_ptr(),
            path.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    })?;
    // SAFETY: as above; a bind remount takes no source.
    check(unsafe {
        libc::mount(
            std::ptr::null(),
            path.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REMOUNT | flags,
            std::ptr::null(),
        )
    })
}

/// The per-mount flags `path`'s mount has, as mount(2) flags, which a bind
/// remount must repeat (a user namespace may not change locked ones).
fn remount_flags(path: &Path) -> io::Result<libc::c_ulong> {
    let c = cstring(path)?;
    // SAFETY: `st` is plain data the call fills; `c` is a valid path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    check(unsafe { libc::statvfs(c.as_ptr(), &mut st) })?;
    let f = st.f_flag;
    let mut flags: libc::c_ulong = 0;
    for (st_flag, ms_flag) in [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    // Without an atime flag mount(2) would default to relatime, which a
    // user namespace may not change from strictatime.
    if f & (libc::ST_NOATIME | libc::ST_RELATIME) == 0 {
        flags |= libc::MS_STRICTATIME;
    }
    Ok(flags)
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path contains a NUL byte: {}", path.display()),
        )
    })
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// open, write all, close: raw syscalls for the child.
fn write_file(path: &CString, data: &[u8]) -> io::Result<()> {
    // SAFETY: a valid NUL-terminated path; the fd is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `data` is valid for `data.len()` bytes.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let result = if n < 0 {
        Err(io::Error::last_os_error())
    } else if n as usize != data.len() {
        Err(io::Error::from_raw_os_error(libc::EIO))
    } else {
        Ok(())
    };
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(fd) };
    result
}

/// Which namespace kind works here, trying the cheaper one first; `None`
/// when neither does. Forks a child that makes the calls of
/// [`MountPlan::apply`] (with the temp dir as both a writable and a
/// protected path) and exits; costs about a millisecond, so the caller
/// caches the answer.
pub fn probe() -> Option<NamespaceKind> {
    let dir = std::env::temp_dir();
    let dir = dir.canonicalize().unwrap_or(dir);
    // SAFETY: a getter without preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let kinds: &[NamespaceKind] = if root {
        &[NamespaceKind::Mount, NamespaceKind::UserAndMount]
    } else {
        &[NamespaceKind::UserAndMount]
    };
    kinds.iter().copied().find(|kind| {
        let dirs = std::slice::from_ref(&dir);
        MountPlan::new(*kind, dirs, dirs, Path::new("/"))
            .map(|plan| works_in_child(&plan))
            .unwrap_or(false)
    })
}

fn works_in_child(plan: &MountPlan) -> bool {
    // SAFETY: the child only makes raw syscalls (`apply`) and leaves with
    // _exit, so a fork of this multi-threaded process is sound.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return false;
    }
    if pid == 0 {
        let code = if plan.apply().is_ok() { 0 } else { 1 };
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    loop {
        // SAFETY: waits for the child forked above; `status` is valid.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if ret < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return false;
        }
    }
}
