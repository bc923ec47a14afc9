//! The sandbox policy, and the checks the core makes before it runs a command
//! or writes a file.
//!
//! Kernel enforcement (Landlock + seccomp) is not built yet, so the policy
//! fails closed: a command runs only under `danger-full-access`, and every
//! other mode refuses commands with an error that says how to opt out. File
//! writes made by the core itself (apply_patch) are checked here against the
//! writable roots, so `workspace-write` already confines patches.

pub mod env;

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::protocol::SandboxMode;

/// Directories that stay read-only inside a writable root.
pub const PROTECTED_DIRS: &[&str] = &[".git", ".codeloop", ".agents", ".codex"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPolicy {
    pub mode: SandboxMode,
    /// Absolute writable roots for `workspace-write` (cwd first).
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
        let mut writable_roots = vec![normalize(cwd)];
        for root in extra_roots {
            writable_roots.push(normalize(&cwd.join(root)));
        }
        writable_roots.push(normalize(&std::env::temp_dir()));
        writable_roots.dedup();
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

    /// Whether a command may be started under this policy.
    pub fn check_command(&self) -> Result<()> {
        match self.mode {
            SandboxMode::DangerFullAccess => Ok(()),
            mode => Err(Error::Sandbox(format!(
                "commands cannot run in `{}` mode yet: this build of codeloop cannot confine them \
                 (kernel sandboxing is not implemented), and it will not run them unconfined. \
                 Choose `danger-full-access` (`--sandbox danger-full-access`, or \
                 `sandbox=\"danger-full-access\"` in the SDK) to run commands without a sandbox.",
                mode.as_str()
            ))),
        }
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
                let root = self
                    .writable_roots
                    .iter()
                    .map(|r| resolve_existing_prefix(r))
                    .find(|r| resolved.starts_with(r));
                let Some(root) = root else {
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
                if let Ok(rel) = resolved.strip_prefix(&root) {
                    if let Some(Component::Normal(first)) = rel.components().next() {
                        if PROTECTED_DIRS.iter().any(|p| first == *p) {
                            return Err(Error::Sandbox(format!(
                                "cannot write {}: {} stays read-only in workspace-write mode",
                                path.display(),
                                first.to_string_lossy()
                            )));
                        }
                    }
                }
                Ok(())
            }
        }
    }
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
        std::os::unix::fs::symlink("/etc", ws.join("link"))?;
        assert!(p.check_write(&ws.join("link/passwd")).is_err());
        Ok(())
    }

    #[test]
    fn confined_modes_refuse_commands() {
        let p = SandboxPolicy::new(SandboxMode::ReadOnly, Path::new("/x"), &[], false);
        let err = p
            .check_command()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("danger-full-access"), "{err}");
        assert!(SandboxPolicy::full_access().check_command().is_ok());
    }
}
