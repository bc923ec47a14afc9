//! AGENTS.md, as the Codex CLI reads it: the global file of the codeloop home
//! (`AGENTS.override.md` or `AGENTS.md`), then in each directory from the
//! project root down to cwd the first of `AGENTS.override.md`, `AGENTS.md`,
//! joined root-first with blank lines within a byte budget, sent as one user
//! message when a thread starts. A repository is not trusted to name what is
//! read: only regular files, symlinks only into the project root (the home
//! for the global file), never `/proc`, `/sys`, `/dev` or a FIFO, and no
//! more than the budget left (see `textfile`); a refused file is a warning.

use std::path::{Path, PathBuf};

use super::layers::root_to_cwd;

/// Byte budget of the project's AGENTS.md files together (Codex's default).
pub const DEFAULT_PROJECT_DOC_MAX_BYTES: usize = 32 * 1024;

/// File names looked for in each directory, the first found wins.
pub const AGENTS_MD_NAMES: &[&str] = &["AGENTS.override.md", "AGENTS.md"];

/// Between the global instructions and the project's (Codex's separator).
pub const PROJECT_DOC_SEPARATOR: &str = "\n\n--- project-doc ---\n\n";

/// The most bytes read of the global instructions file.
pub const GLOBAL_DOC_MAX_BYTES: usize = 1024 * 1024;

/// A project doc and the directory its symlink (if it is one) must stay in;
/// `None` for a file the caller named (`instruction_files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocPath {
    pub path: PathBuf,
    pub boundary: Option<PathBuf>,
}

/// The first of `AGENTS_MD_NAMES` present in `dir` (whatever its kind: a
/// file that is refused is reported rather than silently passed over).
fn first_present(dir: &Path) -> Option<PathBuf> {
    AGENTS_MD_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| std::fs::symlink_metadata(p).is_ok())
}

/// The global instructions: the first non-empty of the home's
/// `AGENTS.override.md`, `AGENTS.md`, trimmed. A symlink must stay inside
/// the home; a file that cannot be read is reported in `warnings`.
pub fn global_instructions(home: &Path, warnings: &mut Vec<String>) -> Option<String> {
    AGENTS_MD_NAMES.iter().find_map(|name| {
        let path = home.join(name);
        std::fs::symlink_metadata(&path).ok()?;
        match super::textfile::read_capped(&path, Some(home), GLOBAL_DOC_MAX_BYTES) {
            Ok(read) => {
                if read.truncated {
                    warnings.push(format!(
                        "{} cut to {} bytes (the global instructions limit)",
                        path.display(),
                        read.text.len()
                    ));
                }
                Some(read.text.trim().to_string()).filter(|t| !t.is_empty())
            }
            Err(why) => {
                warnings.push(format!("{} not read: {why}", path.display()));
                None
            }
        }
    })
}

/// The project's AGENTS.md files, root first (each confined to `root`),
/// then `extra` files.
pub fn project_doc_paths(root: &Path, cwd: &Path, extra: &[PathBuf]) -> Vec<DocPath> {
    let mut paths: Vec<DocPath> = root_to_cwd(root, cwd)
        .into_iter()
        .filter_map(|dir| first_present(&dir))
        .map(|path| DocPath {
            path,
            boundary: Some(root.to_path_buf()),
        })
        .collect();
    paths.extend(extra.iter().map(|p| DocPath {
        path: if p.is_absolute() {
            p.clone()
        } else {
            cwd.join(p)
        },
        boundary: None,
    }));
    paths
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char
/// boundary.
fn truncate_at_char(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The project docs in `paths`, joined with blank lines, within `max_bytes`
/// in all; no more than the budget left is read of a file. Files that are
/// refused (see `textfile::check`) or unreadable are reported in `warnings`.
pub fn read_project_docs(
    paths: &[DocPath],
    max_bytes: usize,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let mut remaining = max_bytes;
    let mut parts = Vec::new();
    for DocPath { path, boundary } in paths {
        if remaining == 0 {
            warnings.push(format!(
                "{} not sent: the AGENTS.md budget ({max_bytes} bytes) is used up",
                path.display()
            ));
            continue;
        }
        let read = match super::textfile::read_capped(path, boundary.as_deref(), remaining) {
            Ok(read) => read,
            Err(why) => {
                warnings.push(format!("{} not read: {why}", path.display()));
                continue;
            }
        };
        let kept = truncate_at_char(&read.text, remaining);
        if read.truncated || kept.len() < read.text.len() {
            warnings.push(format!(
                "{} cut to {} bytes (project_doc_max_bytes = {max_bytes})",
                path.display(),
                kept.len()
            ));
        }
        if !kept.trim().is_empty() {
            remaining -= kept.len();
            parts.push(kept.to_string());
        }
    }
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// The user message that carries the instructions, as Codex sends it.
pub fn instructions_message(cwd: &Path, text: &str) -> String {
    format!(
        "# AGENTS.md instructions for {}\n\n<INSTRUCTIONS>\n{text}\n</INSTRUCTIONS>",
        cwd.display()
    )
}

/// The whole instructions text: global, separator, project docs.
pub fn user_instructions(
    home: Option<&Path>,
    root: &Path,
    cwd: &Path,
    extra: &[PathBuf],
    max_bytes: usize,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let global = home.and_then(|h| global_instructions(h, warnings));
    let project = read_project_docs(&project_doc_paths(root, cwd, extra), max_bytes, warnings);
    match (global, project) {
        (Some(g), Some(p)) => Some(format!("{g}{PROJECT_DOC_SEPARATOR}{p}")),
        (g, p) => g.or(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_chars() {
        assert_eq!(truncate_at_char("héllo", 2), "h");
        assert_eq!(truncate_at_char("héllo", 3), "hé");
        assert_eq!(truncate_at_char("abc", 10), "abc");
    }
}
