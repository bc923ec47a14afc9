//! The sandbox policy, and the checks the core makes before it runs a command
//! or writes a file.
//!
//! Modes follow Codex: `read-only` (commands may read everything and write
//! nothing but `/dev/null` and the like), `workspace-write` (also write the
//! cwd, the configured writable roots and the temp dirs, except protected
//! paths such as `.git`), `danger-full-access` (no confinement). The network
//! is off in both confined modes unless `network_access` is set.
//!
//! Commands are confined by the kernel (see [`linux`]) and the confinement
//! fails closed: where the kernel cannot enforce a mode, the command is
//! refused with an error that names what is missing and how to choose
//! `danger-full-access` deliberately. File writes made by the core itself
//! (apply_patch) are checked here by [`SandboxPolicy::check_write`], against
//! the same roots and protected paths.

pub mod approval;
pub mod env;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub mod linux;

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::protocol::SandboxMode;
use crate::tools::exec::PreExecHook;

/// Names that stay read-only in every writable root: for commands at its
/// top (when they exist), for the core's own writes at any depth.
pub const PROTECTED_DIRS: &[&str] = &[".git", ".codeloop", ".agents", ".codex"];

/// Temp dirs writable in `workspace-write` besides `$TMPDIR`. `/dev/shm`
/// is where POSIX shared memory and semaphores live (Python's
/// multiprocessing needs it).
const TEMP_ROOTS: &[&str] = &["/tmp", "/dev/shm"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPolicy {
    pub mode: SandboxMode,
    /// Absolute writable roots for `workspace-write`: the cwd first, then the
    /// configured roots, then the temp dirs.
    pub writable_roots: Vec<PathBuf>,
    pub network_access: bool,
}

impl SandboxPolicy {
    pub fn new(
        mode: SandboxMode,
        cwd: &Path,
        extra_roots: &[PathBuf],
        network_access: bool,
    ) -> Self {
        let mut candidates = vec![normalize(cwd)];
        for root in extra_roots {
            candidates.push(normalize(&cwd.join(root)));
        }
        for temp in TEMP_ROOTS {
            candidates.push(PathBuf::from(temp));
        }
        candidates.push(normalize(&std::env::temp_dir()));
        let mut writable_roots: Vec<PathBuf> = Vec::new();
        for root in candidates {
            if !writable_roots.contains(&root) {
                writable_roots.push(root);
            }
        }
        SandboxPolicy {
            mode,
            writable_roots,
            network_access,
        }
    }

    pub fn full_access() -> Self {
        SandboxPolicy {
            mode: SandboxMode::DangerFullAccess,
            writable_roots: Vec::new(),
            network_access: true,
        }
    }

    /// Whether a command may be started under this policy on this system:
    /// always in `danger-full-access`; in the confined modes only where the
    /// kernel can enforce them. Cheap (the kernel is asked once); called
    /// before anyone is asked to approve a command that could not run.
    pub fn check_command(&self) -> Result<()> {
        if self.mode == SandboxMode::DangerFullAccess {
            return Ok(());
        }
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        {
            linux::check(self.mode, &linux::KernelSupport::detect())
        }
        #[cfg(not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        {
            Err(Error::Sandbox(format!(
                "commands cannot run in `{}` mode: codeloop can confine commands only on Linux \
                 (x86_64, aarch64) so far, and it does not run them unconfined. To run them \
                 without a sandbox, choose `danger-full-access` deliberately \
                 (`--sandbox danger-full-access`, or `sandbox=\"danger-full-access\"` in the SDK).",
                self.mode.as_str()
            )))
        }
    }

    /// The confinement of one command about to run in `cwd`, for
    /// [`crate::tools::exec::ExecRequest::confine`]: `None` in
    /// `danger-full-access`. Prepared now, from the file system as it is now
    /// (protected paths that exist, the entries of the writable roots), so
    /// call it right before spawning. An `Err` means the command must not run.
    pub fn confine(&self, cwd: &Path) -> Result<Option<PreExecHook>> {
        if self.mode == SandboxMode::DangerFullAccess {
            return Ok(None);
        }
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        {
            let confinement = linux::prepare(self, cwd, &linux::KernelSupport::detect())?;
            let hook: PreExecHook = std::sync::Arc::new(move || confinement.apply());
            Ok(Some(hook))
        }
        #[cfg(not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        {
            let _ = cwd;
            self.check_command().map(|()| None)
        }
    }

    /// The writable roots that exist, canonical (symlinks resolved), without
    /// duplicates. Empty unless the mode is `workspace-write`.
    pub fn existing_roots(&self) -> Vec<PathBuf> {
        if self.mode != SandboxMode::WorkspaceWrite {
            return Vec::new();
        }
        let mut roots: Vec<PathBuf> = Vec::new();
        for root in &self.writable_roots {
            if let Ok(canon) = root.canonicalize() {
                if !roots.contains(&canon) {
                    roots.push(canon);
                }
            }
        }
        roots
    }

    /// The paths that stay read-only inside the writable roots: each root's
    /// existing `.git`, `.codeloop`, `.agents` and `.codex`, and when `.git`
    /// is a file (a worktree or submodule), the git dir it names and that
    /// dir's common dir. Canonical; only those inside some writable root
    /// (the others are read-only anyway); none inside another.
    pub fn protected_paths(&self) -> Vec<PathBuf> {
        let roots = self.existing_roots();
        let mut found = Vec::new();
        for root in &roots {
            for name in PROTECTED_DIRS {
                let path = root.join(name);
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if let Ok(canon) = path.canonicalize() {
                    found.push(canon);
                }
                if *name == ".git" && meta.is_file() {
                    if let Some(gitdir) = read_gitdir(&path, root) {
                        if let Some(common) = read_commondir(&gitdir) {
                            found.push(common);
                        }
                        found.push(gitdir);
                    }
                }
            }
        }
        found.retain(|p| roots.iter().any(|r| p.starts_with(r)));
        found.sort();
        found.dedup();
        // A path inside another protected path is covered by it.
        let all = found.clone();
        found.retain(|p| !all.iter().any(|q| q != p && p.starts_with(q)));
        found
    }

    /// The protected names at the top of writable roots that are symlinks.
    /// Their targets are in [`SandboxPolicy::protected_paths`]; the links
    /// themselves must not be replaced either.
    pub fn protected_symlinks(&self) -> Vec<PathBuf> {
        let mut links = Vec::new();
        for root in self.existing_roots() {
            for name in PROTECTED_DIRS {
                let path = root.join(name);
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                    links.push(path);
                }
            }
        }
        links
    }

    /// Whether the core may write (create, change, delete) `path`.
    pub fn check_write(&self, path: &Path) -> Result<()> {
        match self.mode {
            SandboxMode::DangerFullAccess => Ok(()),
            SandboxMode::ReadOnly => Err(Error::Sandbox(format!(
                "cannot write {}: the sandbox is read-only",
                path.display()
            ))),
            SandboxMode::WorkspaceWrite => {
                let resolved = resolve_existing_prefix(&normalize(path));
                let roots = self.existing_roots();
                let Some(root) = roots.iter().find(|r| resolved.starts_with(r)) else {
                    return Err(Error::Sandbox(format!(
                        "cannot write {}: it is outside the writable roots ({})",
                        path.display(),
                        self.writable_roots
                            .iter()
                            .map(|r| r.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                };
                // By name, whether or not it exists yet, and at any depth
                // under the root: the core never creates a `.git`, nor the
                // project config, hooks and skills of `.codeloop`, `.agents`
                // or `.codex` (in a subdirectory they would be a deeper
                // project layer) for the model.
                if let Ok(rel) = resolved.strip_prefix(root) {
                    let protected = rel.components().find_map(|c| match c {
                        Component::Normal(name) if PROTECTED_DIRS.iter().any(|p| name == *p) => {
                            Some(name.to_string_lossy().into_owned())
                        }
                        _ => None,
                    });
                    if let Some(name) = protected {
                        return Err(Error::Sandbox(format!(
                            "cannot write {}: {name} stays read-only in workspace-write mode, \
                             wherever it is under a writable root (the model may not write \
                             git metadata nor project config, hooks or skills)",
                            path.display()
                        )));
                    }
                }
                // The same paths the kernel protects for commands: the git
                // dir a `.git` file names, and protected paths of a root
                // nested in another root.
                if let Some(protected) = self
                    .protected_paths()
                    .into_iter()
                    .find(|p| resolved.starts_with(p))
                {
                    return Err(Error::Sandbox(format!(
                        "cannot write {}: {} stays read-only in workspace-write mode",
                        path.display(),
                        protected.display()
                    )));
                }
                Ok(())
            }
        }
    }
}

/// The git dir a `.git` file names (`gitdir: <path>`, relative to the
/// file's directory), canonical.
fn read_gitdir(dot_git: &Path, root: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dot_git).ok()?;
    let target = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
    root.join(target).canonicalize().ok()
}

/// A worktree's git dir names the repository's shared dir in `commondir`.
fn read_commondir(gitdir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(gitdir.join("commondir")).ok()?;
    gitdir.join(text.trim()).canonicalize().ok()
}

/// Lexically resolve `.` and `..` in an absolute path.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Canonicalize the longest existing ancestor of `path` (following symlinks)
/// and append the rest, so a symlink inside a root cannot point a write outside.
fn resolve_existing_prefix(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(canon) = existing.canonicalize() {
            let mut out = canon;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_write_confines_writes() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join(".git"))?;
        let p = SandboxPolicy::new(SandboxMode::WorkspaceWrite, &ws, &[], false);
        assert!(p.check_write(&ws.join("a/b.txt")).is_ok());
        // The temp dir is itself a writable root, so escape to /etc.
        let depth = ws.components().count();
        let up = "../".repeat(depth);
        assert!(p
            .check_write(&ws.join(format!("{up}etc/outside.txt")))
            .is_err());
        assert!(p.check_write(Path::new("/etc/outside.txt")).is_err());
        assert!(p.check_write(&ws.join(".git/config")).is_err());
        assert!(p.check_write(&ws.join(".codeloop/x")).is_err());
        // Protected names are refused at any depth, existing or not.
        for nested in [
            "pkg/.codeloop/config.toml",
            "a/b/.agents/skills/x/SKILL.md",
            "sub/.codex/hooks.json",
            "vendor/dep/.git/config",
        ] {
            let err = p
                .check_write(&ws.join(nested))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("stays read-only"), "{nested}: {err}");
        }
        assert!(p.check_write(&ws.join("pkg/codeloop/x")).is_ok());
        assert!(p.check_write(&ws.join("pkg/.codeloop.toml")).is_ok());
        std::os::unix::fs::symlink("/etc", ws.join("link"))?;
        assert!(p.check_write(&ws.join("link/passwd")).is_err());
        Ok(())
    }

    #[test]
    fn temp_dirs_are_roots() {
        let p = SandboxPolicy::new(SandboxMode::WorkspaceWrite, Path::new("/w"), &[], false);
        assert_eq!(p.writable_roots[0], Path::new("/w"));
        assert!(p.writable_roots.contains(&PathBuf::from("/tmp")));
        assert!(p.writable_roots.contains(&normalize(&std::env::temp_dir())));
        let unique: std::collections::HashSet<_> = p.writable_roots.iter().collect();
        assert_eq!(unique.len(), p.writable_roots.len());
    }

    /// A `.git` file (worktree, submodule) protects the git dir it names,
    /// and a root nested in another root keeps its protected paths (the
    /// outer root's grant does not reopen them).
    #[test]
    fn protected_paths_follow_gitdir_files_and_nested_roots() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let top = dir.path().canonicalize()?;
        let ws = top.join("ws");
        let real = top.join("store/real.git");
        std::fs::create_dir_all(real.join("worktrees/ws"))?;
        std::fs::create_dir_all(&ws)?;
        std::fs::create_dir_all(ws.join(".agents"))?;
        std::fs::write(real.join("worktrees/ws/commondir"), "../..\n")?;
        std::fs::write(ws.join(".git"), "gitdir: ../store/real.git/worktrees/ws\n")?;
        let p = SandboxPolicy::new(
            SandboxMode::WorkspaceWrite,
            &ws,
            std::slice::from_ref(&top),
            false,
        );
        let protected = p.protected_paths();
        assert!(protected.contains(&ws.join(".git")), "{protected:?}");
        assert!(protected.contains(&ws.join(".agents")), "{protected:?}");
        // The common dir covers the worktree's git dir inside it.
        assert!(protected.contains(&real), "{protected:?}");
        assert!(
            !protected.contains(&real.join("worktrees/ws")),
            "{protected:?}"
        );

        // `top` is a root too, yet writes under the real git dir are refused.
        assert!(p.check_write(&real.join("config")).is_err());
        assert!(p.check_write(&real.join("worktrees/ws/HEAD")).is_err());
        assert!(p.check_write(&top.join("store/notes.txt")).is_ok());
        assert!(p.check_write(&ws.join("src.txt")).is_ok());
        Ok(())
    }

    #[test]
    fn full_access_needs_no_kernel_support() -> anyhow::Result<()> {
        let p = SandboxPolicy::full_access();
        assert!(p.check_command().is_ok());
        assert!(p.confine(Path::new("/"))?.is_none());
        Ok(())
    }
}
