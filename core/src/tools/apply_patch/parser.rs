//! The Codex patch grammar, parsed leniently: models pad markers with
//! whitespace, wrap the patch in a shell heredoc, leave out the first `@@`,
//! or stack several `@@ context` lines, and each of those is still a patch
//! whose meaning is clear. Anything else is rejected with the line number
//! and what was expected there, so the model can fix exactly that line.

use std::path::{Path, PathBuf};

use super::PatchError;

const BEGIN_PATCH: &str = "*** Begin Patch";
const END_PATCH: &str = "*** End Patch";
const ADD_FILE: &str = "*** Add File:";
const DELETE_FILE: &str = "*** Delete File:";
const UPDATE_FILE: &str = "*** Update File:";
const MOVE_TO: &str = "*** Move to:";
const END_OF_FILE: &str = "*** End of File";

const EXPECTED_HEADERS: &str =
    "expected '*** Add File: ', '*** Delete File: ' or '*** Update File: '";

/// A parsed patch: the file operations in the order they are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub hunks: Vec<Hunk>,
}

/// One file operation. `line` is the 1-based line of its header in the
/// patch text, so later errors can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hunk {
    /// Create the file, or replace it when it exists.
    Add {
        path: PathBuf,
        contents: String,
        line: usize,
    },
    /// Remove an existing regular file.
    Delete { path: PathBuf, line: usize },
    /// Change an existing file in place, and rename it when `move_to` is set.
    Update {
        path: PathBuf,
        move_to: Option<PathBuf>,
        chunks: Vec<Chunk>,
        line: usize,
    },
}

impl Hunk {
    /// The path named in the hunk header.
    pub fn path(&self) -> &Path {
        match self {
            Hunk::Add { path, .. } | Hunk::Delete { path, .. } | Hunk::Update { path, .. } => path,
        }
    }

    /// The 1-based line of the hunk header in the patch text.
    pub fn line(&self) -> usize {
        match self {
            Hunk::Add { line, .. } | Hunk::Delete { line, .. } | Hunk::Update { line, .. } => *line,
        }
    }
}

/// One replacement inside an updated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The `@@ text` headers before the chunk, each sought in turn (usually a
    /// class, then a method) to narrow down where the old lines are.
    pub context: Vec<String>,
    /// The chunk's lines in patch order. Kept in order, not split into old
    /// and new, so that context lines found by a lenient match can be kept
    /// as the file has them.
    pub lines: Vec<ChunkLine>,
    /// `*** End of File` closed the chunk: the old lines end the file.
    pub end_of_file: bool,
    /// The 1-based line where the chunk starts in the patch text.
    pub line: usize,
}

/// A line of a chunk, without its ` `, `-` or `+` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkLine {
    Context(String),
    Removed(String),
    Added(String),
}

impl Chunk {
    /// The lines to find in the file (context and `-` lines); empty for a
    /// pure addition.
    pub fn old_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                ChunkLine::Context(s) | ChunkLine::Removed(s) => Some(s.as_str()),
                ChunkLine::Added(_) => None,
            })
            .collect()
    }

    /// What replaces them (context and `+` lines).
    pub fn new_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                ChunkLine::Context(s) | ChunkLine::Added(s) => Some(s.as_str()),
                ChunkLine::Removed(_) => None,
            })
            .collect()
    }
}

/// Parse the patch text into its file operations.
pub fn parse_patch(text: &str) -> Result<Patch, PatchError> {
    let numbered: Vec<(usize, &str)> = text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
    let first = numbered.iter().position(|(_, l)| !l.trim().is_empty());
    let last = numbered.iter().rposition(|(_, l)| !l.trim().is_empty());
    let (Some(first), Some(last)) = (first, last) else {
        return Err(PatchError::InvalidPatch(
            "the patch is empty; it must start with '*** Begin Patch' and end with '*** End Patch'"
                .into(),
        ));
    };
    let lines = strip_heredoc(&numbered[first..=last]);
    check_envelope(lines)?;
    let body = &lines[1..lines.len() - 1];
    let hunks = Parser {
        lines: body,
        pos: 0,
    }
    .hunks()?;
    if hunks.is_empty() {
        return Err(PatchError::InvalidPatch(format!(
            "the patch has no file operations between '*** Begin Patch' (line {}) and \
             '*** End Patch' (line {}); {EXPECTED_HEADERS}",
            lines[0].0,
            lines[lines.len() - 1].0
        )));
    }
    Ok(Patch { hunks })
}

/// The delimiter of a heredoc opener such as `<<'EOF'`, `<<"EOF"`, `<<EOF`
/// or `<<-EOF`, when `text` is exactly that.
pub(crate) fn heredoc_delimiter(text: &str) -> Option<&str> {
    let rest = text.trim().strip_prefix("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    let word = match rest.chars().next()? {
        quote @ ('\'' | '"') => rest.strip_prefix(quote)?.strip_suffix(quote)?,
        _ => rest,
    };
    let valid = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then_some(word)
}

/// Models sometimes send the shell form they would type, `apply_patch
/// <<'EOF'` ... `EOF`, as the patch itself. A shell would have stripped
/// those lines before the tool ever saw the patch, so strip them here.
fn strip_heredoc<'a, 'b>(lines: &'b [(usize, &'a str)]) -> &'b [(usize, &'a str)] {
    let [(_, opener), .., (_, closer)] = lines else {
        return lines;
    };
    let opener = opener.trim();
    let opener = ["apply_patch", "applypatch"]
        .iter()
        .find_map(|cmd| {
            opener
                .strip_prefix(cmd)
                .filter(|rest| rest.starts_with(char::is_whitespace))
        })
        .unwrap_or(opener);
    match heredoc_delimiter(opener) {
        Some(delimiter) if closer.trim() == delimiter && lines.len() >= 4 => {
            &lines[1..lines.len() - 1]
        }
        _ => lines,
    }
}

fn check_envelope(lines: &[(usize, &str)]) -> Result<(), PatchError> {
    let (first_no, first) = lines[0];
    if first.trim() != BEGIN_PATCH {
        return Err(PatchError::InvalidPatch(format!(
            "line {first_no} is '{}'; the first line of a patch must be '{BEGIN_PATCH}'",
            first.trim()
        )));
    }
    let (last_no, last) = lines[lines.len() - 1];
    if lines.len() < 2 || last.trim() != END_PATCH {
        return Err(PatchError::InvalidPatch(format!(
            "line {last_no} is '{}'; the last line of a patch must be '{END_PATCH}'",
            last.trim()
        )));
    }
    Ok(())
}

/// The path after a file marker (`*** Add File: path`), when `line` is one.
fn marker_path<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.trim().strip_prefix(marker).map(str::trim)
}

fn is_file_header(line: &str) -> bool {
    [ADD_FILE, DELETE_FILE, UPDATE_FILE]
        .iter()
        .any(|m| line.trim().starts_with(m))
}

struct Parser<'a, 'b> {
    lines: &'b [(usize, &'a str)],
    pos: usize,
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Option<(usize, &'a str)> {
        self.lines.get(self.pos).copied()
    }

    fn skip_blank(&mut self) {
        while self.peek().is_some_and(|(_, l)| l.trim().is_empty()) {
            self.pos += 1;
        }
    }

    fn hunks(mut self) -> Result<Vec<Hunk>, PatchError> {
        let mut hunks = Vec::new();
        loop {
            self.skip_blank();
            let Some((line_no, line)) = self.peek() else {
                return Ok(hunks);
            };
            self.pos += 1;
            let hunk = if let Some(path) = marker_path(line, ADD_FILE) {
                let path = non_empty_path(path, line_no, ADD_FILE)?;
                self.add_file(path, line_no)
            } else if let Some(path) = marker_path(line, DELETE_FILE) {
                let path = non_empty_path(path, line_no, DELETE_FILE)?;
                Hunk::Delete {
                    path,
                    line: line_no,
                }
            } else if let Some(path) = marker_path(line, UPDATE_FILE) {
                let path = non_empty_path(path, line_no, UPDATE_FILE)?;
                self.update_file(path, line_no)?
            } else {
                return Err(invalid_header(line, line_no));
            };
            hunks.push(hunk);
        }
    }

    fn add_file(&mut self, path: PathBuf, line: usize) -> Hunk {
        let mut contents = String::new();
        while let Some((_, l)) = self.peek() {
            if let Some(text) = l.strip_prefix('+') {
                contents.push_str(text);
                contents.push('\n');
                self.pos += 1;
            } else if l.is_empty() && self.more_added_lines_follow() {
                // A blank line between `+` lines is an empty line of the file
                // whose `+` the model dropped; it cannot be anything else.
                contents.push('\n');
                self.pos += 1;
            } else {
                break;
            }
        }
        Hunk::Add {
            path,
            contents,
            line,
        }
    }

    fn more_added_lines_follow(&self) -> bool {
        self.lines[self.pos..]
            .iter()
            .find(|(_, l)| !l.is_empty())
            .is_some_and(|(_, l)| l.starts_with('+'))
    }

    fn update_file(&mut self, path: PathBuf, line: usize) -> Result<Hunk, PatchError> {
        let mut move_to = None;
        if let Some((move_no, move_line)) = self.peek() {
            if let Some(dest) = marker_path(move_line, MOVE_TO) {
                move_to = Some(non_empty_path(dest, move_no, MOVE_TO)?);
                self.pos += 1;
            }
        }
        let mut chunks = Vec::new();
        loop {
            self.skip_blank();
            let Some((line_no, l)) = self.peek() else {
                break;
            };
            if l.starts_with('*') || is_file_header(l) {
                break;
            }
            if !chunks.is_empty() && !l.starts_with("@@") {
                return Err(PatchError::InvalidHunk {
                    line: line_no,
                    message: format!(
                        "'{l}' is neither a '@@' chunk header nor a file header; every chunk \
                         after the first of an update starts with '@@' or '@@ context'"
                    ),
                });
            }
            chunks.push(self.chunk()?);
        }
        if chunks.is_empty() && move_to.is_none() {
            return Err(PatchError::InvalidHunk {
                line,
                message: format!(
                    "the update of '{}' has no changes; follow '*** Update File: ' with '@@' \
                     chunks of ' ', '-' and '+' lines (or '*** Move to: ' to rename the file)",
                    path.display()
                ),
            });
        }
        Ok(Hunk::Update {
            path,
            move_to,
            chunks,
            line,
        })
    }

    fn chunk(&mut self) -> Result<Chunk, PatchError> {
        let mut context = Vec::new();
        let start = self.peek().map_or(0, |(n, _)| n);
        while let Some((_, l)) = self.peek() {
            let Some(header) = l.strip_prefix("@@") else {
                break;
            };
            if let Some(text) = chunk_context(header) {
                context.push(text.to_string());
            }
            self.pos += 1;
        }
        let mut chunk = Chunk {
            context,
            lines: Vec::new(),
            end_of_file: false,
            line: start,
        };
        while let Some((line_no, l)) = self.peek() {
            if l.trim_end() == END_OF_FILE {
                if chunk.lines.is_empty() {
                    return Err(empty_chunk(start, line_no));
                }
                chunk.end_of_file = true;
                self.pos += 1;
                break;
            }
            if l.starts_with("@@") || l.starts_with('*') {
                break;
            }
            let line = match l.chars().next() {
                None => ChunkLine::Context(String::new()),
                Some(' ') => ChunkLine::Context(l[1..].to_string()),
                Some('-') => ChunkLine::Removed(l[1..].to_string()),
                Some('+') => ChunkLine::Added(l[1..].to_string()),
                // An indented blank line without the leading space: still a
                // blank context line, whatever its indentation.
                Some(_) if l.trim().is_empty() => ChunkLine::Context(l.to_string()),
                Some(_) => {
                    return Err(PatchError::InvalidHunk {
                        line: line_no,
                        message: format!(
                            "'{l}' is not a valid change line; every line of an update chunk \
                             starts with ' ' (context), '-' (removed) or '+' (added)"
                        ),
                    });
                }
            };
            chunk.lines.push(line);
            self.pos += 1;
        }
        if chunk.lines.is_empty() {
            let at = self.peek().map_or(start, |(n, _)| n);
            return Err(empty_chunk(start, at));
        }
        Ok(chunk)
    }
}

/// The context text of a chunk header (what follows `@@`), `None` for a bare
/// `@@`. A unified-diff range (`@@ -12,7 +12,8 @@ fn main()`) names no line
/// of the file; only the text after it, if any, is context.
fn chunk_context(header: &str) -> Option<&str> {
    let text = header.strip_prefix(' ').unwrap_or(header);
    let text = strip_unified_range(text).unwrap_or(text);
    (!text.trim().is_empty()).then_some(text)
}

fn strip_unified_range(text: &str) -> Option<&str> {
    fn range(s: &str, sign: char) -> Option<&str> {
        let s = s.strip_prefix(sign)?;
        let digits = s.find(|c: char| !c.is_ascii_digit() && c != ',')?;
        (digits > 0).then(|| &s[digits..])
    }
    let rest = range(text.trim_start(), '-')?;
    let rest = range(rest.strip_prefix(' ')?, '+')?;
    let rest = rest.strip_prefix(" @@")?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

fn non_empty_path(path: &str, line: usize, marker: &str) -> Result<PathBuf, PatchError> {
    if path.is_empty() {
        return Err(PatchError::InvalidHunk {
            line,
            message: format!("'{marker}' is not followed by a path"),
        });
    }
    Ok(PathBuf::from(path))
}

fn empty_chunk(start: usize, line: usize) -> PatchError {
    PatchError::InvalidHunk {
        line,
        message: format!(
            "the chunk that starts at line {start} has no lines; a chunk needs at least one \
             ' ', '-' or '+' line"
        ),
    }
}

fn invalid_header(line: &str, line_no: usize) -> PatchError {
    let found = line.trim();
    let hint = if found == END_PATCH {
        "'*** End Patch' must be the last line of the patch".to_string()
    } else if found == BEGIN_PATCH {
        "'*** Begin Patch' may appear only once, on the first line".to_string()
    } else if found.starts_with(MOVE_TO) {
        "'*** Move to: ' must directly follow an '*** Update File: ' line".to_string()
    } else if found.starts_with("@@")
        || found.starts_with(['+', '-'])
        || found.starts_with(END_OF_FILE)
    {
        format!("change lines belong after an '*** Update File: ' header; {EXPECTED_HEADERS}")
    } else {
        EXPECTED_HEADERS.to_string()
    };
    PatchError::InvalidHunk {
        line: line_no,
        message: format!("'{found}' is not a valid hunk header; {hint}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(text: &str) -> Result<Patch, PatchError> {
        parse_patch(text)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_operation() {
        let patch = parse(
            "*** Begin Patch\n*** Add File: a.txt\n+one\n+two\n*** Delete File: b.txt\n\
             *** Update File: c.txt\n*** Move to: d.txt\n@@ fn main\n ctx\n-old\n+new\n\
             *** End of File\n*** End Patch\n",
        )
        .unwrap();
        assert_eq!(
            patch.hunks,
            vec![
                Hunk::Add {
                    path: "a.txt".into(),
                    contents: "one\ntwo\n".into(),
                    line: 2
                },
                Hunk::Delete {
                    path: "b.txt".into(),
                    line: 5
                },
                Hunk::Update {
                    path: "c.txt".into(),
                    move_to: Some("d.txt".into()),
                    chunks: vec![Chunk {
                        context: vec!["fn main".into()],
                        lines: vec![
                            ChunkLine::Context("ctx".into()),
                            ChunkLine::Removed("old".into()),
                            ChunkLine::Added("new".into()),
                        ],
                        end_of_file: true,
                        line: 8,
                    }],
                    line: 6
                },
            ]
        );
    }

    #[test]
    fn first_chunk_may_omit_its_header() {
        let patch =
            parse("*** Begin Patch\n*** Update File: a\n-x\n+y\n@@\n-z\n*** End Patch").unwrap();
        let Hunk::Update { chunks, .. } = &patch.hunks[0] else {
            panic!("not an update")
        };
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].old_lines(), vec!["x"]);
        assert!(chunks[0].context.is_empty());
        assert_eq!(chunks[1].line, 5);
    }

    #[test]
    fn stacked_context_headers_are_kept_in_order() {
        let patch = parse(
            "*** Begin Patch\n*** Update File: a\n@@ class A\n@@ \t def f():\n-x\n+y\n*** End Patch",
        )
        .unwrap();
        let Hunk::Update { chunks, .. } = &patch.hunks[0] else {
            panic!("not an update")
        };
        assert_eq!(chunks[0].context, vec!["class A", "\t def f():"]);
    }

    #[test]
    fn unified_diff_ranges_are_not_context() {
        assert_eq!(chunk_context(" -1,3 +1,4 @@"), None);
        assert_eq!(
            chunk_context(" -12,7 +12,8 @@ fn main()"),
            Some("fn main()")
        );
        assert_eq!(chunk_context(" -1 +1 @@"), None);
        assert_eq!(chunk_context(" fn main()"), Some("fn main()"));
        assert_eq!(chunk_context(""), None);
        assert_eq!(chunk_context(" - not a range"), Some("- not a range"));
    }

    #[test]
    fn markers_tolerate_padding() {
        let patch =
            parse("  *** Begin Patch \n  *** Add File: a.txt  \n+x\n *** End Patch \n\n").unwrap();
        assert_eq!(patch.hunks[0].path(), Path::new("a.txt"));
    }

    #[test]
    fn heredoc_wrappers_are_stripped() {
        for opener in [
            "<<'EOF'",
            "<<EOF",
            "<<\"EOF\"",
            "apply_patch <<'EOF'",
            "applypatch <<EOF",
        ] {
            let text =
                format!("{opener}\n*** Begin Patch\n*** Delete File: a\n*** End Patch\nEOF\n");
            let patch = parse(&text).unwrap_or_else(|e| panic!("{opener}: {e}"));
            assert_eq!(patch.hunks[0].line(), 3, "{opener}");
        }
        assert!(
            err("<<'EOF'\n*** Begin Patch\n*** Delete File: a\n*** End Patch\nEND\n")
                .contains("line 1")
        );
    }

    #[test]
    fn blank_line_inside_added_file_is_an_empty_line() {
        let patch = parse("*** Begin Patch\n*** Add File: a\n+x\n\n+y\n\n*** End Patch").unwrap();
        let Hunk::Add { contents, .. } = &patch.hunks[0] else {
            panic!("not an add")
        };
        assert_eq!(contents, "x\n\ny\n");
    }

    #[test]
    fn pure_move_is_allowed() {
        let patch =
            parse("*** Begin Patch\n*** Update File: a\n*** Move to: b\n*** End Patch").unwrap();
        assert!(
            matches!(&patch.hunks[0], Hunk::Update { chunks, move_to: Some(_), .. } if chunks.is_empty())
        );
    }

    #[test]
    fn errors_name_the_line_and_what_was_expected() {
        assert_eq!(
            err("*** Begin Patch\n*** Frobnicate File: foo\n*** End Patch"),
            "invalid hunk at line 2: '*** Frobnicate File: foo' is not a valid hunk header; \
             expected '*** Add File: ', '*** Delete File: ' or '*** Update File: '"
        );
        assert!(err("").contains("empty"));
        assert!(err("*** Begin Patch\n*** End Patch").contains("no file operations"));
        assert!(err("hello\n*** End Patch").contains("line 1 is 'hello'"));
        assert!(err("*** Begin Patch\n*** Delete File: a\n").contains("line 2"));
        assert!(
            err("*** Begin Patch\n*** Update File: foo.txt\n*** End Patch")
                .starts_with("invalid hunk at line 2: the update of 'foo.txt' has no changes")
        );
        assert!(
            err("*** Begin Patch\n*** Update File: a\n@@\n-x\nbad\n*** End Patch")
                .starts_with("invalid hunk at line 5: 'bad' is not a valid change line")
        );
        assert!(
            err("*** Begin Patch\n*** Update File: a\n@@\n*** End Patch").starts_with(
                "invalid hunk at line 3: the chunk that starts at line 3 has no lines"
            )
        );
        assert!(
            err("*** Begin Patch\n*** Update File: a\n@@\n*** End of File\n*** End Patch")
                .starts_with("invalid hunk at line 4")
        );
        assert!(err("*** Begin Patch\n*** Add File: \n*** End Patch")
            .contains("'*** Add File:' is not followed by a path"));
        assert!(err("*** Begin Patch\n@@\n-x\n*** End Patch")
            .contains("change lines belong after an '*** Update File: ' header"));
        assert!(err("*** Begin Patch\n*** Delete File: a\n*** End Patch\n*** Delete File: b\n*** End Patch")
            .starts_with("invalid hunk at line 3: '*** End Patch' is not a valid hunk header; '*** End Patch' must be the last line"));
    }

    #[test]
    fn windows_line_endings_parse() {
        let patch =
            parse("*** Begin Patch\r\n*** Update File: a\r\n@@\r\n-x\r\n+y\r\n*** End Patch\r\n")
                .unwrap();
        let Hunk::Update { chunks, .. } = &patch.hunks[0] else {
            panic!("not an update")
        };
        assert_eq!(chunks[0].old_lines(), vec!["x"]);
    }
}
