//! Kernel enforcement of the sandbox on Linux: Landlock for the file system,
//! seccomp-BPF for network and dangerous syscalls, and, where the kernel
//! lets us, a mount namespace private to the command.
//!
//! # Where things happen
//!
//! Everything is prepared in the parent ([`prepare`], called by the shell
//! tool right before each spawn): path fds are opened, the Landlock ruleset
//! is created and filled, the BPF program is built, the mount plan's strings
//! are made. The forked child ([`Confinement::apply`], run from `pre_exec`
//! after `setsid`) only makes raw syscalls on that memory, in this order:
//! every fd but stdio marked close-on-exec; mount namespace and mounts; for
//! root, dropping capabilities;
//! `PR_SET_NO_NEW_PRIVS`; `landlock_restrict_self`; the seccomp filter. Any
//! failure makes `spawn` return that error, so the command never execs
//! unconfined. Landlock domains and seccomp filters are inherited across
//! fork and exec: the command's children, daemons included, are confined too.
//!
//! The ruleset fd is close-on-exec (the kernel creates it so). It is owned by
//! the [`Confinement`] inside the pre-exec hook: a fork of any thread holds it
//! only until its exec, and the parent closes it when the command's
//! `Command` is dropped at the end of `exec::run`.
//!
//! # File system rules (Landlock)
//!
//! - read and execute everywhere (`/`);
//! - read, write and ioctl on `/dev/null`, `/dev/zero`, `/dev/full`,
//!   `/dev/random`, `/dev/urandom` and `/dev/tty`; no other device ioctls;
//! - in `workspace-write`, every right beneath each writable root (cwd,
//!   writable roots, `/tmp`, `$TMPDIR`, `/dev/shm`) except creating device
//!   nodes (a root-made block device would be a way around every rule).
//!
//! # Protected paths
//!
//! `.git` (and the git dir a `.git` file names, with its common dir),
//! `.codeloop`, `.agents` and `.codex` at the top of each writable root stay
//! read-only although they sit beneath a writable root. Landlock cannot
//! carve them out: it is allow-only, and granting "create files" on the
//! repository root grants it in `.git/hooks` too. Two layouts do it:
//!
//! 1. **Mount namespace** (preferred; see `mounts`). Landlock grants the
//!    roots whole, and in the command's own mount namespace every mount is
//!    read-only, the roots are bound back read-write and the protected paths
//!    bound read-only on top. Writes in a protected path fail with EROFS;
//!    `mv .git x`, `rm -r .git` fail with EBUSY (a mount point); links out of
//!    it with EXDEV. Every directory between a root and a protected path
//!    (`/tmp/work` when the repository is `/tmp/work/repo` and `/tmp` is a
//!    root) is bound too, so that no command can rename the repository away
//!    from the path the next command protects. The read-only mounts also stop
//!    what Landlock does not see: chmod, chown, utimes and xattrs outside the
//!    roots. Needs CAP_SYS_ADMIN (root) or unprivileged user namespaces,
//!    probed once per process.
//! 2. **Landlock only** (the fallback; also used for a command whenever a
//!    protected name is a symlink, which a mount cannot cover). Rights are
//!    granted *below* the protected paths' ancestors instead of on them:
//!    walking down from each writable root towards the protected paths,
//!    every directory on the way (the repository root, and e.g. `/tmp` when
//!    the repository is in `/tmp`) gets no rights of its own; each of its
//!    other entries gets full rights (a directory) or read/write/truncate (a
//!    file); protected entries get nothing. Rules bind to inodes, so renaming
//!    `.git` does not unprotect it, and nothing in those directories can be
//!    renamed anyway. **Limitations**: in those ancestor directories nothing
//!    can be created, removed or renamed (a new file at the top of the
//!    repository, `mktemp` in `/tmp` while the repository is in `/tmp`, or
//!    deleting a top-level file fail with EACCES; patches, written by the
//!    core itself, are not affected); metadata changes (chmod, utimes)
//!    outside the roots are not stopped.
//!
//! In both layouts only protected paths that exist when the command starts
//! are protected (a repository the command creates with `git init` is
//! writable), and a protected path that is a symlink protects its target.
//! `CODELOOP_SANDBOX_PROTECTION=landlock` forces layout 2 and `=userns`
//! forces the user-namespace variant of layout 1 (tests and diagnosis;
//! neither weakens the guarantee).
//!
//! # Landlock ABIs
//!
//! Rights a kernel does not know are not handled. ABI 1 has no REFER (moving
//! a file to another directory fails with EXDEV; tools fall back to
//! copying), and ABIs 1–2 cannot see truncation, so the filter then refuses
//! `truncate(2)` and read-only opens with `O_TRUNC`. ABI 4 adds a second
//! network layer (TCP bind/connect refused); ABI 6 scopes signals (the
//! command cannot signal processes outside its sandbox, such as the agent)
//! and abstract unix sockets (when the network is off).
//!
//! # Not covered
//!
//! - Unix sockets with a path stay usable (they are how local tools talk);
//!   one such as the Docker daemon's, writable by the user, is a way out that
//!   neither Landlock (before it mediates connect) nor seccomp can close.
//! - A process that leaves the command's process group (`setsid`) survives a
//!   timeout's group kill (still confined).
//! - For root, capabilities other than file and process ownership are
//!   dropped from the bounding set, so `reboot`, raw I/O, module loading and
//!   the like fail even where the filter does not list them.

mod landlock;
mod mounts;
mod seccomp;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::protocol::SandboxMode;

use super::SandboxPolicy;

pub use landlock::abi_version as landlock_abi_version;
pub use mounts::NamespaceKind;

/// The oldest Landlock ABI the sandbox can enforce its file rules with
/// (helped by the seccomp filter for what ABI 1 and 2 cannot see).
pub const MIN_LANDLOCK_ABI: u32 = 1;

/// Environment variable that chooses how protected paths are kept
/// read-only: `auto` (default), `landlock`, `userns`.
pub const PROTECTION_ENV: &str = "CODELOOP_SANDBOX_PROTECTION";

/// Device files commands may read, write and ioctl.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// What the running kernel offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSupport {
    /// 0 when Landlock is missing or disabled.
    pub landlock_abi: u32,
    pub seccomp: bool,
}

impl KernelSupport {
    /// Asked once per process.
    pub fn detect() -> KernelSupport {
        static SUPPORT: OnceLock<KernelSupport> = OnceLock::new();
        *SUPPORT.get_or_init(|| KernelSupport {
            landlock_abi: landlock::abi_version(),
            seccomp: seccomp::available(),
        })
    }
}

/// Whether `mode` can be enforced with `support`; the error names what is
/// missing and how to opt out. Separate from detection so that a missing
/// feature can be tested on a kernel that has it.
pub fn check(mode: SandboxMode, support: &KernelSupport) -> Result<()> {
    if mode == SandboxMode::DangerFullAccess {
        return Ok(());
    }
    let mut missing = Vec::new();
    if support.landlock_abi < MIN_LANDLOCK_ABI {
        missing.push(
            "Landlock is not available: it needs Linux 5.13 or later with Landlock enabled \
             (CONFIG_SECURITY_LANDLOCK, and `landlock` in the `lsm=` boot parameter)"
                .to_string(),
        );
    }
    if !support.seccomp {
        missing.push(
            "seccomp filters are not available (CONFIG_SECCOMP_FILTER), or this process \
             runs under a seccomp policy that forbids adding one"
                .to_string(),
        );
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(refusal(mode, &missing.join("; ")))
}

fn refusal(mode: SandboxMode, what: &str) -> Error {
    Error::Sandbox(format!(
        "commands cannot run in `{}` mode: this system cannot enforce it ({what}). codeloop \
         does not run commands unconfined. To run them without a sandbox, choose \
         `danger-full-access` deliberately (`--sandbox danger-full-access`, or \
         `sandbox=\"danger-full-access\"` in the SDK).",
        mode.as_str()
    ))
}

fn setup_failed(mode: SandboxMode, step: &str, e: io::Error) -> Error {
    refusal(mode, &format!("setting up the sandbox failed: {step}: {e}"))
}

/// How the file rules are laid out for one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Landlock on whole roots, plus a mount namespace: read-only
    /// everywhere but the roots, protected paths read-only again.
    Mounts(NamespaceKind),
    /// Landlock alone, granting around protected paths.
    LandlockOnly,
}

fn choose_layout(mode: SandboxMode) -> Result<Layout> {
    let setting = std::env::var(PROTECTION_ENV).unwrap_or_default();
    match setting.as_str() {
        "" | "auto" => {}
        "landlock" => return Ok(Layout::LandlockOnly),
        "userns" => return Ok(Layout::Mounts(NamespaceKind::UserAndMount)),
        other => {
            return Err(refusal(
                mode,
                &format!("{PROTECTION_ENV}={other:?} is not one of auto, landlock, userns"),
            ))
        }
    }
    Ok(match namespace_kind() {
        Some(kind) => Layout::Mounts(kind),
        None => Layout::LandlockOnly,
    })
}

/// How this process can give a command a mount namespace, if at all
/// (probed once).
pub fn namespace_kind() -> Option<NamespaceKind> {
    static PROBED: OnceLock<Option<NamespaceKind>> = OnceLock::new();
    *PROBED.get_or_init(mounts::probe)
}

/// One path the command may write: a whole tree, or a single file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WriteGrant {
    path: PathBuf,
    tree: bool,
}

/// The write grants of the Landlock-only layout: every writable root whole,
/// except that roots holding protected paths are granted entry by entry
/// around them (see the module comment). `roots` and `protected` must be
/// canonical. Symlinks are skipped: a write through one is checked at its
/// target.
fn split_grants(roots: &[PathBuf], protected: &[PathBuf]) -> io::Result<Vec<WriteGrant>> {
    let mut grants = Vec::new();
    for root in roots {
        if protected.iter().any(|p| root.starts_with(p)) {
            continue;
        }
        grant_around(root, protected, &mut grants)?;
    }
    Ok(grants)
}

fn grant_around(dir: &Path, protected: &[PathBuf], out: &mut Vec<WriteGrant>) -> io::Result<()> {
    let holds_protected = protected.iter().any(|p| p.starts_with(dir) && p != dir);
    if !holds_protected {
        out.push(WriteGrant {
            path: dir.to_path_buf(),
            tree: true,
        });
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if protected.contains(&path) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            grant_around(&path, protected, out)?;
        } else if !kind.is_symlink() {
            out.push(WriteGrant { path, tree: false });
        }
    }
    Ok(())
}

/// Every directory strictly between a root and a protected path below it.
fn pinned_ancestors(roots: &[PathBuf], protected: &[PathBuf]) -> Vec<PathBuf> {
    let mut pins = Vec::new();
    for path in protected {
        for dir in path.ancestors().skip(1) {
            // Roots are bound anyway.
            let inside_a_root =
                roots.iter().any(|r| dir.starts_with(r)) && !roots.iter().any(|r| r == dir);
            if inside_a_root && !pins.iter().any(|p: &PathBuf| p == dir) {
                pins.push(dir.to_path_buf());
            }
        }
    }
    pins
}

/// A confinement ready to be applied in a forked child.
#[derive(Debug)]
pub struct Confinement {
    ruleset: landlock::Ruleset,
    filter: Vec<libc::sock_filter>,
    mounts: Option<mounts::MountPlan>,
    caps: Option<CapDrop>,
}

/// Prepare the confinement of one command that runs in `cwd` under
/// `policy` (not `danger-full-access`), with the kernel `support` checked
/// by [`check`].
pub fn prepare(policy: &SandboxPolicy, cwd: &Path, support: &KernelSupport) -> Result<Confinement> {
    let mode = policy.mode;
    check(mode, support)?;
    let abi = support.landlock_abi;
    let handled = landlock::fs_rights(abi);
    let net = if !policy.network_access && abi >= 4 {
        landlock::NET_BIND_TCP | landlock::NET_CONNECT_TCP
    } else {
        0
    };
    let mut scoped = 0;
    if abi >= 6 {
        scoped |= landlock::SCOPE_SIGNAL;
        if !policy.network_access {
            scoped |= landlock::SCOPE_ABSTRACT_UNIX_SOCKET;
        }
    }
    let mut ruleset = landlock::Ruleset::new(handled, net, scoped)
        .map_err(|e| setup_failed(mode, "creating the Landlock ruleset", e))?;
    let read = landlock::READ_FILE | landlock::READ_DIR | landlock::EXECUTE;
    ruleset
        .allow(Path::new("/"), read)
        .map_err(|e| setup_failed(mode, "allowing reads", e))?;
    let device =
        landlock::READ_FILE | landlock::WRITE_FILE | landlock::TRUNCATE | landlock::IOCTL_DEV;
    for dev in DEVICES {
        // A device this system lacks (no /dev/tty in a container) is skipped;
        // one that exists but cannot be opened stays forbidden.
        let _ = ruleset.allow(Path::new(dev), device);
    }

    let mut layout = choose_layout(mode)?;
    // Empty in read-only mode.
    let roots = policy.existing_roots();
    let protected = policy.protected_paths();
    // A read-only mount cannot be put on a symlink, and a symlink in a
    // read-write root could be replaced by a directory of the command's
    // making. Landlock alone keeps the root's entries in place: the link
    // counts as a protected entry of its root.
    let links = policy.protected_symlinks();
    if !links.is_empty() {
        layout = Layout::LandlockOnly;
    }
    let tree = handled & !(landlock::MAKE_CHAR | landlock::MAKE_BLOCK | landlock::IOCTL_DEV);
    let file = landlock::READ_FILE | landlock::WRITE_FILE | landlock::EXECUTE | landlock::TRUNCATE;
    let grants = match layout {
        Layout::Mounts(_) => roots
            .iter()
            .map(|root| WriteGrant {
                path: root.clone(),
                tree: true,
            })
            .collect(),
        Layout::LandlockOnly => split_grants(&roots, &[protected.as_slice(), &links].concat())
            .map_err(|e| setup_failed(mode, "listing the writable roots", e))?,
    };
    for grant in &grants {
        let access = if grant.tree { tree } else { file };
        ruleset.allow_nofollow(&grant.path, access).map_err(|e| {
            setup_failed(
                mode,
                &format!("allowing writes to {}", grant.path.display()),
                e,
            )
        })?;
    }
    let mount_plan = match layout {
        Layout::Mounts(kind) => {
            // Directories between a root and a protected path become mount
            // points too: a mount point cannot be renamed, so no command can
            // move a repository away from the path later commands protect.
            let mut binds = roots.clone();
            binds.extend(pinned_ancestors(&roots, &protected));
            Some(
                mounts::MountPlan::new(kind, &binds, &protected, cwd)
                    .map_err(|e| setup_failed(mode, "planning the mount namespace", e))?,
            )
        }
        Layout::LandlockOnly => None,
    };

    let filter = seccomp::build(seccomp::FilterOptions {
        deny_network: !policy.network_access,
        deny_path_truncate: abi < 3,
    })
    .map_err(|e| setup_failed(mode, "building the seccomp filter", e))?;
    let caps = CapDrop::plan().map_err(|e| setup_failed(mode, "reading capabilities", e))?;
    Ok(Confinement {
        ruleset,
        filter,
        mounts: mount_plan,
        caps,
    })
}

impl Confinement {
    /// Confine the calling process. Runs in the forked child between fork
    /// and exec: raw syscalls on memory prepared by the parent only.
    pub fn apply(&self) -> io::Result<()> {
        // Landlock checks opens, not descriptors already open: a file the
        // host process left inheritable (no O_CLOEXEC) would reach the
        // command writable wherever it lives. Only stdio crosses the exec.
        // SAFETY: a plain syscall on integers; it changes flags, closes
        // nothing now (the ruleset fd is still needed below).
        let ret = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(plan) = &self.mounts {
            plan.apply()?;
        }
        if let Some(caps) = &self.caps {
            caps.apply()?;
        }
        // SAFETY: prctl with integer arguments.
        let ret = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        landlock::restrict_self(self.ruleset.raw_fd())?;
        seccomp::install(&self.filter)
    }
}

const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Capabilities a root command keeps: owning and reading files regardless
/// of their mode, and managing its own processes. The rest (CAP_SYS_ADMIN,
/// CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_BOOT, CAP_MKNOD,
/// CAP_SYS_PTRACE, ...) would let root act beyond the sandbox's rules.
const KEPT_CAPS: &[u32] = &[
    0,  // CAP_CHOWN
    1,  // CAP_DAC_OVERRIDE
    2,  // CAP_DAC_READ_SEARCH
    3,  // CAP_FOWNER
    4,  // CAP_FSETID
    5,  // CAP_KILL
    6,  // CAP_SETGID
    7,  // CAP_SETUID
    10, // CAP_NET_BIND_SERVICE
    29, // CAP_AUDIT_WRITE
];

/// Dropping the other capabilities of a process that has some (root): from
/// the bounding set (so exec cannot give them back), the inheritable set and
/// the ambient set.
#[derive(Debug)]
struct CapDrop {
    /// The process's sets as they are, inheritable masked to [`KEPT_CAPS`].
    data: [CapData; 2],
    /// Changing the bounding set needs CAP_SETPCAP, which a container's root
    /// may lack; its bounding set is then whatever the container allows.
    drop_bounding: bool,
}

const CAP_SETPCAP: u32 = 8;

impl CapDrop {
    /// `None` for a process without capabilities (any non-root user,
    /// normally): exec gives it none, `PR_SET_NO_NEW_PRIVS` ignores file
    /// capabilities.
    fn plan() -> io::Result<Option<CapDrop>> {
        let mut header = CapHeader {
            version: CAP_VERSION_3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        // SAFETY: version 3 takes two data structs, both valid and writable.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_capget,
                &mut header as *mut CapHeader,
                data.as_mut_ptr(),
            )
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        if data.iter().all(|d| d.permitted == 0 && d.inheritable == 0) {
            return Ok(None);
        }
        let drop_bounding = data[0].effective & (1 << CAP_SETPCAP) != 0;
        let mut keep = [0u32; 2];
        for cap in KEPT_CAPS {
            keep[(cap / 32) as usize] |= 1 << (cap % 32);
        }
        for (d, k) in data.iter_mut().zip(keep) {
            d.inheritable &= k;
        }
        Ok(Some(CapDrop {
            data,
            drop_bounding,
        }))
    }

    fn apply(&self) -> io::Result<()> {
        let bounding = if self.drop_bounding { 0..64u32 } else { 0..0 };
        for cap in bounding {
            if KEPT_CAPS.contains(&cap) {
                continue;
            }
            // SAFETY: prctl with integer arguments.
            let ret = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if ret != 0 {
                let err = io::Error::last_os_error();
                // EINVAL: past the last capability this kernel knows.
                if err.raw_os_error() == Some(libc::EINVAL) {
                    break;
                }
                return Err(err);
            }
        }
        let header = CapHeader {
            version: CAP_VERSION_3,
            pid: 0,
        };
        // SAFETY: version 3 reads two data structs, both valid.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_capset,
                &header as *const CapHeader,
                self.data.as_ptr(),
            )
        };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: prctl with integer arguments. Kernels before 4.3 have no
        // ambient set (EINVAL), and then nothing to clear.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_kernel_features_are_refused_with_a_way_out() {
        for support in [
            KernelSupport {
                landlock_abi: 0,
                seccomp: true,
            },
            KernelSupport {
                landlock_abi: 7,
                seccomp: false,
            },
        ] {
            for mode in [SandboxMode::ReadOnly, SandboxMode::WorkspaceWrite] {
                let err = check(mode, &support).err().map(|e| e.to_string());
                let err = err.unwrap_or_default();
                assert!(err.contains("danger-full-access"), "{err}");
                assert!(err.contains(mode.as_str()), "{err}");
                let named = if support.landlock_abi == 0 {
                    "Landlock"
                } else {
                    "seccomp"
                };
                assert!(err.contains(named), "{err}");
            }
            assert!(check(SandboxMode::DangerFullAccess, &support).is_ok());
        }
        let full = KernelSupport {
            landlock_abi: 1,
            seccomp: true,
        };
        assert!(check(SandboxMode::WorkspaceWrite, &full).is_ok());
    }

    #[test]
    fn prepare_refuses_before_touching_the_kernel() {
        let policy = SandboxPolicy::new(SandboxMode::WorkspaceWrite, Path::new("/"), &[], false);
        let none = KernelSupport {
            landlock_abi: 0,
            seccomp: true,
        };
        let err = prepare(&policy, Path::new("/"), &none)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("Landlock is not available"), "{err}");
    }

    #[test]
    fn ancestors_of_nested_protected_paths_are_pinned() {
        let roots = vec![PathBuf::from("/tmp"), PathBuf::from("/tmp/a/ws")];
        let protected = vec![
            PathBuf::from("/tmp/a/ws/.git"),
            PathBuf::from("/tmp/store/x/real.git"),
        ];
        let mut pins = pinned_ancestors(&roots, &protected);
        pins.sort();
        // `/tmp/a/ws` is a root (bound anyway); `/tmp` is a root.
        assert_eq!(
            pins,
            ["/tmp/a", "/tmp/store", "/tmp/store/x"].map(PathBuf::from)
        );
    }

    #[test]
    fn split_grants_go_around_protected_paths() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let top = dir.path().canonicalize()?;
        let ws = top.join("ws");
        std::fs::create_dir_all(ws.join(".git/hooks"))?;
        std::fs::create_dir_all(ws.join("src/deep"))?;
        std::fs::write(ws.join("README"), "x")?;
        std::fs::create_dir_all(top.join("other"))?;
        std::os::unix::fs::symlink("/etc", ws.join("etc-link"))?;
        let elsewhere = tempfile::tempdir()?;
        let elsewhere = elsewhere.path().canonicalize()?;

        let roots = vec![ws.clone(), top.clone(), elsewhere.clone()];
        let protected = vec![ws.join(".git")];
        let mut grants = split_grants(&roots, &protected)?;
        grants.sort_by(|a, b| a.path.cmp(&b.path));
        let mut want = vec![
            WriteGrant {
                path: ws.join("src"),
                tree: true,
            },
            WriteGrant {
                path: ws.join("README"),
                tree: false,
            },
            WriteGrant {
                path: top.join("other"),
                tree: true,
            },
            WriteGrant {
                path: elsewhere.clone(),
                tree: true,
            },
        ];
        // `top` holds `ws`, which holds `.git`: both are walked, and `ws`
        // is walked twice (as a root and under `top`).
        want.push(want[0].clone());
        want.push(want[1].clone());
        want.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(grants, want);
        // No grant covers the protected path or its ancestors.
        for g in &grants {
            assert!(!ws.join(".git").starts_with(&g.path), "{g:?}");
        }

        // A protected link keeps its root from being granted whole.
        let linked = top.join("linked");
        std::fs::create_dir_all(linked.join("src"))?;
        std::os::unix::fs::symlink(elsewhere.join("real.git"), linked.join(".git"))?;
        let grants = split_grants(std::slice::from_ref(&linked), &[linked.join(".git")])?;
        assert_eq!(
            grants,
            [WriteGrant {
                path: linked.join("src"),
                tree: true
            }]
        );
        Ok(())
    }
}
