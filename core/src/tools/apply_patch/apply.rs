//! Applying a parsed patch atomically. Every resulting file is computed in
//! memory and every hunk verified before the first write; the writes then
//! run with a journal, and if the OS fails one of them midway the journal
//! puts back what was already changed. A patch either applies whole or
//! leaves the tree as it was.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::parser::{Chunk, ChunkLine, Hunk, Patch};
use super::seek::seek_sequence;
use super::{PatchError, RestoreFailure};
use crate::protocol::{FileUpdateChange, PatchChangeKind};
use crate::sandbox::normalize;

/// The outcome of a patch that applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPatch {
    /// What changed, one entry per hunk, with absolute paths (as in the
    /// `file_change` items of `codex exec --json`).
    pub changes: Vec<FileUpdateChange>,
    /// The text the model gets back: `Success. Updated the following
    /// files:` and an `A`/`M`/`D` line per hunk.
    pub summary: String,
}

/// The changes a patch makes, with paths as the patch wrote them (a moved
/// file is an update of its source, as in Codex).
pub fn changes_of(patch: &Patch) -> Vec<FileUpdateChange> {
    collect_changes(patch, |p| p.display().to_string())
}

/// The changes a patch makes, with paths resolved against `cwd`.
pub fn resolved_changes(patch: &Patch, cwd: &Path) -> Vec<FileUpdateChange> {
    collect_changes(patch, |p| resolve(cwd, p).display().to_string())
}

fn collect_changes(patch: &Patch, show: impl Fn(&Path) -> String) -> Vec<FileUpdateChange> {
    let mut changes: Vec<FileUpdateChange> = Vec::new();
    for hunk in &patch.hunks {
        let kind = match hunk {
            Hunk::Add { .. } => PatchChangeKind::Add,
            Hunk::Delete { .. } => PatchChangeKind::Delete,
            Hunk::Update { .. } => PatchChangeKind::Update,
        };
        let change = FileUpdateChange {
            path: show(hunk.path()),
            kind,
        };
        if !changes.contains(&change) {
            changes.push(change);
        }
    }
    changes
}

/// Codex's success text: added, then modified (a move shows its new path),
/// then deleted files, each as the patch named it.
pub fn summary_of(patch: &Patch) -> String {
    let mut added = String::new();
    let mut modified = String::new();
    let mut deleted = String::new();
    for hunk in &patch.hunks {
        match hunk {
            Hunk::Add { path, .. } => added.push_str(&format!("A {}\n", path.display())),
            Hunk::Update { path, move_to, .. } => modified.push_str(&format!(
                "M {}\n",
                move_to.as_deref().unwrap_or(path).display()
            )),
            Hunk::Delete { path, .. } => deleted.push_str(&format!("D {}\n", path.display())),
        }
    }
    format!("Success. Updated the following files:\n{added}{modified}{deleted}")
}

/// Resolve a patch path against `cwd`, with `.` and `..` removed so that two
/// spellings of one file are one file, and the path written is the path the
/// write check saw.
fn resolve(cwd: &Path, path: &Path) -> PathBuf {
    normalize(&cwd.join(path))
}

/// Apply `patch` under `cwd`. `check_write` is asked about every path the
/// patch would create, change or delete before anything is written.
pub fn apply_parsed(
    patch: &Patch,
    cwd: &Path,
    check_write: &dyn Fn(&Path) -> crate::error::Result<()>,
) -> Result<AppliedPatch, PatchError> {
    let plan = Plan::build(patch, cwd, check_write)?;
    plan.commit()?;
    Ok(AppliedPatch {
        changes: resolved_changes(patch, cwd),
        summary: summary_of(patch),
    })
}

/// A file as it was before the patch, kept to put it back.
#[derive(Debug, Clone)]
enum Original {
    Missing,
    File {
        bytes: Vec<u8>,
        permissions: fs::Permissions,
    },
    /// A symbolic link the patch deleted (writes go to link targets, so a
    /// link is only ever deleted, or deleted and then replaced by a file).
    Link {
        target: PathBuf,
    },
}

static MISSING: Original = Original::Missing;

/// What a path holds once the patch is applied.
#[derive(Debug, Clone)]
enum Final {
    Write(Vec<u8>),
    Delete,
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    original: Original,
    result: Final,
    /// The patch line that last decided `result`, for error messages.
    line: usize,
    /// A hunk deleted the path. When it is a link and a later hunk writes
    /// the path again, the link goes and a file takes its place.
    unlinked: bool,
}

impl Entry {
    fn replaces_link(&self) -> bool {
        self.unlinked && matches!(self.original, Original::Link { .. })
    }
}

/// Every path the patch touches, in first-touch order, with its state before
/// and after. Later hunks see the results of earlier ones.
#[derive(Debug, Default)]
struct Plan {
    entries: Vec<Entry>,
    index: HashMap<PathBuf, usize>,
}

impl Plan {
    fn build(
        patch: &Patch,
        cwd: &Path,
        check_write: &dyn Fn(&Path) -> crate::error::Result<()>,
    ) -> Result<Plan, PatchError> {
        let mut plan = Plan::default();
        let check = |shown: &Path, abs: &Path| {
            check_write(abs).map_err(|e| PatchError::Refused {
                path: shown.display().to_string(),
                reason: e.to_string(),
            })
        };
        // Where a write to `abs` lands, checked as well as `abs` itself.
        let write_key = |plan: &Plan, shown: &Path, abs: &Path| {
            let key = plan.write_key(abs);
            if key != abs {
                check(shown, &key)?;
            }
            Ok::<_, PatchError>(key)
        };
        for hunk in &patch.hunks {
            match hunk {
                Hunk::Add {
                    path,
                    contents,
                    line,
                } => {
                    let abs = resolve(cwd, path);
                    check(path, &abs)?;
                    let key = write_key(&plan, path, &abs)?;
                    let contents = Final::Write(contents.clone().into_bytes());
                    plan.set(&key, path, *line, contents)?;
                }
                Hunk::Delete { path, line } => {
                    let abs = resolve(cwd, path);
                    check(path, &abs)?;
                    plan.check_existing(&abs, path, *line, "delete")?;
                    plan.set(&abs, path, *line, Final::Delete)?;
                }
                Hunk::Update {
                    path,
                    move_to,
                    chunks,
                    line,
                } => {
                    let abs = resolve(cwd, path);
                    check(path, &abs)?;
                    let key = write_key(&plan, path, &abs)?;
                    let old = plan.current_text(&key, path, *line)?;
                    let new = Final::Write(apply_chunks(&old, chunks, path)?.into_bytes());
                    match move_to {
                        Some(dest) => {
                            let dest_abs = resolve(cwd, dest);
                            check(dest, &dest_abs)?;
                            let dest_key = write_key(&plan, dest, &dest_abs)?;
                            // The source goes (a link itself, not its target),
                            // unless the move writes onto that very path.
                            if dest_key != abs {
                                plan.set(&abs, path, *line, Final::Delete)?;
                            }
                            plan.set(&dest_key, dest, *line, new)?;
                        }
                        None => plan.set(&key, path, *line, new)?,
                    }
                }
            }
        }
        plan.check_parents()?;
        Ok(plan)
    }

    /// The path a write to `abs` changes: the target of a symbolic link (so
    /// the link stays a link, and hunks naming the link and its target
    /// share one state), unless this patch already deleted the link.
    fn write_key(&self, abs: &Path) -> PathBuf {
        let is_link = fs::symlink_metadata(abs).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link || self.index.contains_key(abs) {
            return abs.to_path_buf();
        }
        fs::canonicalize(abs).unwrap_or_else(|_| abs.to_path_buf())
    }

    fn entry(&self, abs: &Path) -> Option<&Entry> {
        self.index.get(abs).map(|&i| &self.entries[i])
    }

    /// Check that a file to update or delete exists and is a regular file,
    /// as earlier hunks left it.
    fn check_existing(
        &self,
        abs: &Path,
        shown: &Path,
        line: usize,
        action: &'static str,
    ) -> Result<(), PatchError> {
        let problem = match self.entry(abs).map(|e| &e.result) {
            Some(Final::Write(_)) => return Ok(()),
            Some(Final::Delete) => "an earlier hunk of this patch deletes or moves it",
            None => match fs::metadata(abs) {
                Ok(meta) if meta.is_file() => return Ok(()),
                Ok(meta) if meta.is_dir() => "it is a directory",
                Ok(_) => "it is not a regular file",
                Err(e) if is_missing(&e) => "the file does not exist",
                Err(source) => {
                    return Err(PatchError::Io {
                        context: format!("cannot read {}", shown.display()),
                        source,
                    })
                }
            },
        };
        let only_files = if problem.starts_with("it is") {
            format!("; apply_patch only {action}s files")
        } else {
            String::new()
        };
        Err(PatchError::Mismatch {
            line,
            message: format!("cannot {action} {}: {problem}{only_files}", shown.display()),
        })
    }

    /// The text of a file to update, as earlier hunks left it.
    fn current_text(&self, abs: &Path, shown: &Path, line: usize) -> Result<String, PatchError> {
        self.check_existing(abs, shown, line, "update")?;
        let bytes = match self.entry(abs).map(|e| &e.result) {
            Some(Final::Write(bytes)) => bytes.clone(),
            _ => fs::read(abs).map_err(|source| PatchError::Io {
                context: format!("cannot read {}", shown.display()),
                source,
            })?,
        };
        String::from_utf8(bytes).map_err(|_| PatchError::Mismatch {
            line,
            message: format!(
                "cannot update {}: it is not UTF-8 text; apply_patch edits text files only",
                shown.display()
            ),
        })
    }

    /// Record the final state of `abs`, remembering the original the first
    /// time the path is touched.
    fn set(
        &mut self,
        abs: &Path,
        shown: &Path,
        line: usize,
        result: Final,
    ) -> Result<(), PatchError> {
        let deletes = matches!(result, Final::Delete);
        if let Some(&i) = self.index.get(abs) {
            let entry = &mut self.entries[i];
            entry.unlinked |= deletes;
            entry.result = result;
            entry.line = line;
            return Ok(());
        }
        let original = read_original(abs, shown, line, !deletes)?;
        self.index.insert(abs.to_path_buf(), self.entries.len());
        self.entries.push(Entry {
            path: abs.to_path_buf(),
            original,
            result,
            line,
            unlinked: deletes,
        });
        Ok(())
    }

    /// A file cannot be written below something that is not a directory:
    /// find that before writing, so the usual case never needs a rollback.
    fn check_parents(&self) -> Result<(), PatchError> {
        for entry in &self.entries {
            if !matches!(entry.result, Final::Write(_)) {
                continue;
            }
            for ancestor in entry.path.ancestors().skip(1) {
                match self.entry(ancestor).map(|e| &e.result) {
                    Some(Final::Write(_)) => {
                        return Err(PatchError::Mismatch {
                            line: entry.line,
                            message: format!(
                                "cannot write {}: this patch also writes {} as a file",
                                entry.path.display(),
                                ancestor.display()
                            ),
                        })
                    }
                    // Deleted before anything is written; directories are
                    // created in its place.
                    Some(Final::Delete) => break,
                    None => {}
                }
                match fs::metadata(ancestor) {
                    Ok(meta) if meta.is_dir() => break,
                    Ok(_) => {
                        return Err(PatchError::Mismatch {
                            line: entry.line,
                            message: format!(
                                "cannot write {}: {} is a file, not a directory",
                                entry.path.display(),
                                ancestor.display()
                            ),
                        })
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Perform the plan: deletions first (a deleted file may stand where a
    /// directory is needed), then writes in patch order.
    fn commit(&self) -> Result<(), PatchError> {
        let mut journal = Journal::default();
        // A link the patch deleted and then wrote again must go first, or the
        // write would land in the link's target.
        let deletes = self
            .entries
            .iter()
            .filter(|e| matches!(e.result, Final::Delete) || e.replaces_link());
        for entry in deletes {
            if let Err(source) = fs::remove_file(&entry.path) {
                return Err(
                    journal.roll_back(format!("cannot delete {}", entry.path.display()), source)
                );
            }
            journal
                .undo
                .push(Undo::Restore(&entry.path, &entry.original));
        }
        for entry in &self.entries {
            let Final::Write(bytes) = &entry.result else {
                continue;
            };
            if let Some(parent) = entry.path.parent() {
                if let Err(source) = journal.create_dirs(parent) {
                    return Err(journal.roll_back(
                        format!("cannot create directory {}", parent.display()),
                        source,
                    ));
                }
            }
            if let Err(source) = write_file(&entry.path, bytes) {
                return Err(
                    journal.roll_back(format!("cannot write {}", entry.path.display()), source)
                );
            }
            let before = if entry.replaces_link() {
                &MISSING
            } else {
                &entry.original
            };
            journal.undo.push(Undo::Restore(&entry.path, before));
        }
        Ok(())
    }
}

/// Whether a lookup failed because nothing is there: not found, or a
/// parent is a file (which `check_parents` then reports clearly).
fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn read_original(
    abs: &Path,
    shown: &Path,
    line: usize,
    will_write: bool,
) -> Result<Original, PatchError> {
    let io_err = |source| PatchError::Io {
        context: format!("cannot read {}", shown.display()),
        source,
    };
    match fs::symlink_metadata(abs) {
        Err(e) if is_missing(&e) => return Ok(Original::Missing),
        Err(e) => return Err(io_err(e)),
        Ok(meta) if meta.file_type().is_symlink() => {
            return fs::read_link(abs)
                .map(|target| Original::Link { target })
                .map_err(io_err)
        }
        Ok(_) => {}
    }
    let not_writable = |what: &str| PatchError::Mismatch {
        line,
        message: format!("cannot write {}: {what}", shown.display()),
    };
    match fs::metadata(abs) {
        Err(e) => Err(io_err(e)),
        Ok(meta) if meta.is_file() => Ok(Original::File {
            bytes: fs::read(abs).map_err(io_err)?,
            permissions: meta.permissions(),
        }),
        Ok(meta) if will_write && meta.is_dir() => Err(not_writable("it is a directory")),
        Ok(_) if will_write => Err(not_writable("it is not a regular file")),
        // A deletion was checked to be of a regular file; nothing else gets here.
        Ok(_) => Ok(Original::Missing),
    }
}

/// Apply the chunks of an update to `original`, returning the new text.
/// Lines keep the file's line endings, and the result ends with one.
pub(crate) fn apply_chunks(
    original: &str,
    chunks: &[Chunk],
    shown: &Path,
) -> Result<String, PatchError> {
    let crlf = original.contains("\r\n")
        && original.matches('\n').count() == original.matches("\r\n").count();
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut lines: Vec<&str> = original
        .split('\n')
        .map(|l| {
            if crlf {
                l.strip_suffix('\r').unwrap_or(l)
            } else {
                l
            }
        })
        .collect();
    // `split` yields an empty last element for the final newline; it is not a line.
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }

    // (where, how many file lines it replaces, the chunk lines to apply there)
    let mut replacements: Vec<(usize, usize, &[ChunkLine])> = Vec::new();
    let mut cursor = 0;
    for chunk in chunks {
        for context in &chunk.context {
            match seek_sequence(&lines, std::slice::from_ref(context), cursor, false) {
                Some(at) => cursor = at + 1,
                None => {
                    return Err(PatchError::Mismatch {
                        line: chunk.line,
                        message: format!(
                            "failed to find the context line '{context}' in {}",
                            shown.display()
                        ),
                    })
                }
            }
        }
        let mut body: &[ChunkLine] = &chunk.lines;
        let mut old = chunk.old_lines();
        if old.is_empty() {
            // Nothing to match: under an `@@ context` header the lines go
            // right after that context, otherwise at the end of the file.
            let at = if chunk.context.is_empty() || chunk.end_of_file {
                lines.len()
            } else {
                cursor
            };
            replacements.push((at, 0, body));
            continue;
        }
        let mut found = seek_sequence(&lines, &old, cursor, chunk.end_of_file);
        // Blank lines a model leaves before the next header parse as empty
        // context lines the file may not have; retry without them.
        while found.is_none() {
            let Some((ChunkLine::Context(last), rest)) = body.split_last() else {
                break;
            };
            if !last.is_empty() || old.len() == 1 {
                break;
            }
            body = rest;
            old.pop();
            found = seek_sequence(&lines, &old, cursor, chunk.end_of_file);
        }
        let Some(at) = found else {
            return Err(PatchError::Mismatch {
                line: chunk.line,
                message: format!(
                    "failed to find the expected lines in {}:\n{}",
                    shown.display(),
                    chunk.old_lines().join("\n")
                ),
            });
        };
        replacements.push((at, old.len(), body));
        cursor = at + old.len();
    }
    // Chunks are sought in order, so replacements never overlap; appends at
    // the end of the file may come from any chunk and sort after the rest.
    replacements.sort_by_key(|(at, _, _)| *at);

    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    let mut next = 0;
    for (at, len, body) in replacements {
        let at = at.max(next);
        out.extend(&lines[next..at]);
        let mut file_line = at;
        for line in body {
            match line {
                // The file's own line: the match may have forgiven
                // whitespace or punctuation the patch got wrong.
                ChunkLine::Context(_) => {
                    out.push(lines[file_line]);
                    file_line += 1;
                }
                ChunkLine::Removed(_) => file_line += 1,
                ChunkLine::Added(text) => out.push(text.as_str()),
            }
        }
        next = (at + len).min(lines.len());
    }
    out.extend(&lines[next..]);

    let mut text = out.join(eol);
    if !out.is_empty() {
        text.push_str(eol);
    }
    Ok(text)
}

/// Write `bytes` to `path` so that it holds either the old or the new
/// content, never a part: write a sibling temporary file, then rename it
/// over the target. (Writes go to link targets, not links: see `write_key`.)
fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    // A short name: the target's own name may already be at the length limit.
    let tmp = dir.join(format!(
        ".codeloop-patch-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        fs::write(&tmp, bytes)?;
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&tmp, meta.permissions())?;
        }
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

enum Undo<'a> {
    /// Put a path back as it was (remove it when it did not exist).
    Restore(&'a Path, &'a Original),
    /// Remove a directory the commit created.
    RemoveDir(PathBuf),
}

#[derive(Default)]
struct Journal<'a> {
    undo: Vec<Undo<'a>>,
}

impl Journal<'_> {
    /// Create the missing ancestors of `dir`, outermost first, journaling each.
    fn create_dirs(&mut self, dir: &Path) -> io::Result<()> {
        let missing: Vec<&Path> = dir
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && fs::symlink_metadata(d).is_err())
            .collect();
        for d in missing.into_iter().rev() {
            match fs::create_dir(d) {
                Ok(()) => self.undo.push(Undo::RemoveDir(d.to_path_buf())),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Undo everything done so far, newest first, and build the error that
    /// reports the failure and whether the tree is back as it was.
    fn roll_back(self, context: String, source: io::Error) -> PatchError {
        let mut failures = Vec::new();
        for undo in self.undo.into_iter().rev() {
            let (path, result) = match undo {
                Undo::RemoveDir(dir) => {
                    let result = fs::remove_dir(&dir);
                    (dir, result)
                }
                Undo::Restore(path, original) => (path.to_path_buf(), restore(path, original)),
            };
            if let Err(error) = result {
                failures.push(RestoreFailure { path, error });
            }
        }
        if failures.is_empty() {
            PatchError::WriteFailed { context, source }
        } else {
            PatchError::RollbackFailed {
                context,
                source,
                failures,
            }
        }
    }
}

fn restore(path: &Path, original: &Original) -> io::Result<()> {
    match original {
        Original::Missing => match fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
        Original::File { bytes, permissions } => {
            write_file(path, bytes)?;
            fs::set_permissions(path, permissions.clone())
        }
        Original::Link { target } => match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => Ok(()),
            Ok(_) => {
                fs::remove_file(path)?;
                restore_link(target, path)
            }
            Err(e) if is_missing(&e) => restore_link(target, path),
            Err(e) => Err(e),
        },
    }
}

#[cfg(unix)]
fn restore_link(target: &Path, path: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, path)
}

#[cfg(not(unix))]
fn restore_link(target: &Path, path: &Path) -> io::Result<()> {
    fs::copy(target, path).map(|_| ())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A chunk from unified-diff-like lines: ` ctx`, `-old`, `+new`.
    fn chunk(context: &[&str], body: &[&str], end_of_file: bool) -> Chunk {
        let lines = body
            .iter()
            .map(|l| match l.split_at(1) {
                (" ", s) => ChunkLine::Context(s.into()),
                ("-", s) => ChunkLine::Removed(s.into()),
                ("+", s) => ChunkLine::Added(s.into()),
                _ => panic!("bad test line {l:?}"),
            })
            .collect();
        Chunk {
            context: context.iter().map(|s| s.to_string()).collect(),
            lines,
            end_of_file,
            line: 3,
        }
    }

    fn apply(original: &str, chunks: &[Chunk]) -> String {
        apply_chunks(original, chunks, Path::new("f")).unwrap()
    }

    #[test]
    fn replaces_in_order_and_keeps_a_final_newline() {
        let chunks = [
            chunk(&[], &["-b", "+B"], false),
            chunk(&[], &["-d", "+D", "+D2"], false),
        ];
        assert_eq!(apply("a\nb\nc\nd", &chunks), "a\nB\nc\nD\nD2\n");
    }

    #[test]
    fn keeps_trailing_blank_lines_and_crlf() {
        assert_eq!(
            apply("a\nb\n\n", &[chunk(&[], &["-a", "+x"], false)]),
            "x\nb\n\n"
        );
        assert_eq!(
            apply("a\r\nb\r\n", &[chunk(&[], &["-b", "+c"], false)]),
            "a\r\nc\r\n"
        );
        // Mixed endings are left alone; the `\r` is part of the line.
        assert_eq!(
            apply("a\r\nb\n", &[chunk(&[], &["-b", "+c"], false)]),
            "a\r\nc\n"
        );
    }

    #[test]
    fn context_lines_keep_the_file_text() {
        let quoted = [chunk(&[], &[" a", "-b", "+B", " \"c\""], false)];
        assert_eq!(apply("  a  \nb\n\t“c”\n", &quoted), "  a  \nB\n\t“c”\n");
    }

    #[test]
    fn pure_additions_append_or_follow_their_context() {
        assert_eq!(apply("a\nb\n", &[chunk(&[], &["+c"], false)]), "a\nb\nc\n");
        assert_eq!(
            apply("a\nb\n", &[chunk(&["a"], &["+x"], false)]),
            "a\nx\nb\n"
        );
        assert_eq!(apply("", &[chunk(&[], &["+x"], false)]), "x\n");
    }

    #[test]
    fn context_headers_narrow_the_search() {
        let text = "fn a() {\n    x\n}\nfn b() {\n    x\n}\n";
        let chunks = [chunk(&["fn b() {"], &["-    x", "+    y"], false)];
        assert_eq!(
            apply(text, &chunks),
            "fn a() {\n    x\n}\nfn b() {\n    y\n}\n"
        );
        let nested = [chunk(&["impl B", "fn f"], &["-x", "+y"], false)];
        assert_eq!(
            apply("fn f\nx\nimpl B\nfn f\nx\n", &nested),
            "fn f\nx\nimpl B\nfn f\ny\n"
        );
    }

    #[test]
    fn end_of_file_anchors_at_the_end() {
        let chunks = [chunk(&[], &["-x", "+y"], true)];
        assert_eq!(apply("x\nmid\nx\n", &chunks), "x\nmid\ny\n");
    }

    #[test]
    fn trailing_blank_context_is_dropped_when_missing() {
        let chunks = [chunk(&[], &["-a", "+b", " ", " "], false)];
        assert_eq!(apply("a\n", &chunks), "b\n");
        let kept = [chunk(&[], &["-a", "+b", " "], false)];
        assert_eq!(apply("a\n\nc\n", &kept), "b\n\nc\n");
    }

    #[test]
    fn deleting_every_line_leaves_an_empty_file() {
        assert_eq!(apply("a\nb\n", &[chunk(&[], &["-a", "-b"], false)]), "");
    }

    #[test]
    fn mismatches_name_the_chunk_line() {
        let err = apply_chunks(
            "a\n",
            &[chunk(&[], &["-zz", "+y"], false)],
            Path::new("f.txt"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "patch does not apply at line 3: failed to find the expected lines in f.txt:\nzz"
        );
        let err = apply_chunks(
            "a\n",
            &[chunk(&["nope"], &["-a", "+y"], false)],
            Path::new("f.txt"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("context line 'nope'"), "{err}");
    }
}
