//! The read-only file tools of Codex: `read_file`, `list_dir`, `grep_files`.
//! Reading is allowed in every sandbox mode. Walks respect `.gitignore` (also
//! outside a git repository) and other ignore files, as ripgrep would in a repo.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::FileType;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use grep_regex::RegexMatcherBuilder;
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder, Sink, SinkMatch};
use ignore::overrides::OverrideBuilder;
use ignore::WalkBuilder;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use super::{ToolCall, ToolContext, ToolOutput};
use crate::protocol::ToolSpec;
use crate::sandbox::normalize;

pub const NAMES: &[&str] = &["read_file", "list_dir", "grep_files"];

/// Longer lines are cut in `read_file` output, as in Codex.
const MAX_LINE_BYTES: usize = 500;
/// Longer entry names are cut in `list_dir` output.
const MAX_ENTRY_BYTES: usize = 500;
const TAB_WIDTH: usize = 4;
const COMMENT_PREFIXES: &[&str] = &["#", "//", "--"];
const CLOSING_KEYWORDS: &[&str] = &["end", "fi", "done", "esac"];
const GREP_DEFAULT_LIMIT: usize = 100;
const GREP_MAX_LIMIT: usize = 2000;
/// A grep over a huge tree gives up after this long, as Codex's `rg` call does.
const GREP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn specs() -> Vec<ToolSpec> {
    vec![read_file_spec(), list_dir_spec(), grep_files_spec()]
}

fn read_file_spec() -> ToolSpec {
    ToolSpec::Function {
        name: "read_file".into(),
        description: "Reads a local file with 1-indexed line numbers, supporting slice and \
                      indentation-aware block modes."
            .into(),
        strict: false,
        parameters: json!({
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "Absolute path to the file"},
                "offset": {
                    "type": "number",
                    "description": "The line number to start reading from. Must be 1 or greater.",
                },
                "limit": {"type": "number", "description": "The maximum number of lines to return."},
                "mode": {
                    "type": "string",
                    "description": "Optional mode selector: \"slice\" for simple ranges (default) or \"indentation\" to expand around an anchor line.",
                },
                "indentation": {
                    "type": "object",
                    "properties": {
                        "anchor_line": {
                            "type": "number",
                            "description": "Anchor line to center the indentation lookup on (defaults to offset).",
                        },
                        "max_levels": {
                            "type": "number",
                            "description": "How many parent indentation levels (smaller indents) to include.",
                        },
                        "include_siblings": {
                            "type": "boolean",
                            "description": "When true, include additional blocks that share the anchor indentation.",
                        },
                        "include_header": {
                            "type": "boolean",
                            "description": "Include doc comments or attributes directly above the selected block.",
                        },
                        "max_lines": {
                            "type": "number",
                            "description": "Hard cap on the number of lines returned when using indentation mode.",
                        },
                    },
                    "additionalProperties": false,
                },
            },
            "required": ["file_path"],
            "additionalProperties": false,
        }),
    }
}

fn list_dir_spec() -> ToolSpec {
    ToolSpec::Function {
        name: "list_dir".into(),
        description:
            "Lists entries in a local directory with 1-indexed entry numbers and simple type labels."
                .into(),
        strict: false,
        parameters: json!({
            "type": "object",
            "properties": {
                "dir_path": {"type": "string", "description": "Absolute path to the directory to list."},
                "offset": {
                    "type": "number",
                    "description": "The entry number to start listing from. Must be 1 or greater.",
                },
                "limit": {"type": "number", "description": "The maximum number of entries to return."},
                "depth": {
                    "type": "number",
                    "description": "The maximum directory depth to traverse. Must be 1 or greater.",
                },
            },
            "required": ["dir_path"],
            "additionalProperties": false,
        }),
    }
}

fn grep_files_spec() -> ToolSpec {
    ToolSpec::Function {
        name: "grep_files".into(),
        description: "Finds files whose contents match the pattern and lists them by modification \
                      time."
            .into(),
        strict: false,
        parameters: json!({
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "Regular expression pattern to search for."},
                "include": {
                    "type": "string",
                    "description": "Optional glob that limits which files are searched (e.g. \"*.rs\" or \"*.{ts,tsx}\").",
                },
                "path": {
                    "type": "string",
                    "description": "Directory or file path to search. Defaults to the session's working directory.",
                },
                "limit": {
                    "type": "number",
                    "description": "Maximum number of file paths to return (defaults to 100).",
                },
            },
            "required": ["pattern"],
            "additionalProperties": false,
        }),
    }
}

/// Run a file tool, reporting it as a `tool_call` item.
pub async fn handle(ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    super::as_tool_call_item(ctx, call, async {
        let result = match call.name.as_str() {
            "read_file" => read_file(ctx, call).await,
            "list_dir" => list_dir(ctx, call).await,
            "grep_files" => grep_files(ctx, call).await,
            other => Err(ToolOutput::error(format!("`{other}` is not a file tool"))),
        };
        result.unwrap_or_else(|e| e)
    })
    .await
}

fn fail<T>(message: impl Into<String>) -> Result<T, ToolOutput> {
    Err(ToolOutput::error(message))
}

// ---------------------------------------------------------------- read_file

#[derive(Debug, Deserialize)]
struct ReadFileArgs {
    file_path: String,
    #[serde(default = "one")]
    offset: usize,
    #[serde(default = "read_limit")]
    limit: usize,
    #[serde(default)]
    mode: ReadMode,
    #[serde(default)]
    indentation: Option<IndentationArgs>,
}

fn one() -> usize {
    1
}

fn read_limit() -> usize {
    2000
}

#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum ReadMode {
    #[default]
    Slice,
    Indentation,
}

#[derive(Debug, Deserialize, Clone)]
struct IndentationArgs {
    #[serde(default)]
    anchor_line: Option<usize>,
    /// 0 means no limit: everything around the anchor down to column 0.
    #[serde(default)]
    max_levels: usize,
    #[serde(default)]
    include_siblings: bool,
    #[serde(default = "yes")]
    include_header: bool,
    #[serde(default)]
    max_lines: Option<usize>,
}

fn yes() -> bool {
    true
}

impl Default for IndentationArgs {
    fn default() -> Self {
        IndentationArgs {
            anchor_line: None,
            max_levels: 0,
            include_siblings: false,
            include_header: true,
            max_lines: None,
        }
    }
}

async fn read_file(ctx: &ToolContext, call: &ToolCall) -> Result<ToolOutput, ToolOutput> {
    let args: ReadFileArgs = call.parse_args()?;
    if args.offset == 0 {
        return fail("offset must be a 1-indexed line number");
    }
    if args.limit == 0 {
        return fail("limit must be greater than zero");
    }
    if args.file_path.trim().is_empty() {
        return fail("file_path must not be empty");
    }
    let path = normalize(&ctx.resolve(&args.file_path));
    let lines = match args.mode {
        ReadMode::Slice => read_slice(&path, args.offset, args.limit).await?,
        ReadMode::Indentation => {
            let opts = args.indentation.unwrap_or_default();
            read_block(&path, args.offset, args.limit, &opts).await?
        }
    };
    Ok(ToolOutput::success(lines.join("\n")))
}

fn read_error(path: &Path, err: std::io::Error) -> ToolOutput {
    ToolOutput::error(format!("failed to read file {}: {err}", path.display()))
}

/// Read one line without its terminator; `None` at end of file.
async fn next_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<()>> {
    buf.clear();
    if reader.read_until(b'\n', buf).await? == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    Ok(Some(()))
}

async fn open(path: &Path) -> Result<BufReader<tokio::fs::File>, ToolOutput> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| read_error(path, e))?;
    if meta.is_dir() {
        return fail(format!(
            "{} is a directory; use list_dir to see its entries",
            path.display()
        ));
    }
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| read_error(path, e))?;
    Ok(BufReader::new(file))
}

async fn read_slice(path: &Path, offset: usize, limit: usize) -> Result<Vec<String>, ToolOutput> {
    let mut reader = open(path).await?;
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut number = 0usize;
    while out.len() < limit {
        match next_line(&mut reader, &mut buf).await {
            Ok(Some(())) => {}
            Ok(None) => break,
            Err(e) => return Err(read_error(path, e)),
        }
        number += 1;
        if number >= offset {
            out.push(format!("L{number}: {}", display_line(&buf)));
        }
    }
    if number < offset {
        return fail(format!(
            "offset exceeds file length ({number} lines in {})",
            path.display()
        ));
    }
    Ok(out)
}

fn display_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    cut_at_char_boundary(&text, MAX_LINE_BYTES).to_string()
}

fn cut_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

struct Line {
    number: usize,
    raw: String,
    display: String,
    indent: usize,
}

impl Line {
    fn is_blank(&self) -> bool {
        self.raw.trim().is_empty()
    }

    /// Whether the line closes a block: a bracket or a block-ending keyword.
    fn is_closer(&self) -> bool {
        let t = self.raw.trim_start();
        t.starts_with(['}', ')', ']'])
            || CLOSING_KEYWORDS.iter().any(|k| {
                t.strip_prefix(k).is_some_and(|rest| {
                    !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                })
            })
    }

    fn is_comment(&self) -> bool {
        let t = self.raw.trim();
        COMMENT_PREFIXES.iter().any(|p| t.starts_with(p))
    }
}

fn indent_width(line: &str) -> usize {
    line.chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .map(|c| if c == '\t' { TAB_WIDTH } else { 1 })
        .sum()
}

/// Indentation mode: the block around an anchor line. Lines are taken
/// outwards from the anchor while they are indented at least to the floor
/// (`max_levels` levels above the anchor, or column 0); at the floor itself
/// only the block's own opening line (plus comments above it when
/// `include_header`) and its closing line (`}`, `end`, ...) are taken unless
/// `include_siblings`.
/// Blank lines count as indented like the line before them.
async fn read_block(
    path: &Path,
    offset: usize,
    limit: usize,
    opts: &IndentationArgs,
) -> Result<Vec<String>, ToolOutput> {
    let anchor = opts.anchor_line.unwrap_or(offset);
    if anchor == 0 {
        return fail("anchor_line must be a 1-indexed line number");
    }
    let cap = opts.max_lines.unwrap_or(limit);
    if cap == 0 {
        return fail("max_lines must be greater than zero");
    }

    let mut reader = open(path).await?;
    let mut buf = Vec::new();
    let mut lines = Vec::new();
    loop {
        match next_line(&mut reader, &mut buf).await {
            Ok(Some(())) => {}
            Ok(None) => break,
            Err(e) => return Err(read_error(path, e)),
        }
        let raw = String::from_utf8_lossy(&buf).into_owned();
        lines.push(Line {
            number: lines.len() + 1,
            indent: indent_width(&raw),
            display: display_line(&buf),
            raw,
        });
    }
    if anchor > lines.len() {
        return fail(format!(
            "anchor_line exceeds file length ({} lines in {})",
            lines.len(),
            path.display()
        ));
    }

    let mut effective = Vec::with_capacity(lines.len());
    let mut previous = 0usize;
    for line in &lines {
        if !line.is_blank() {
            previous = line.indent;
        }
        effective.push(previous);
    }

    let a = anchor - 1;
    let floor = if opts.max_levels == 0 {
        0
    } else {
        effective[a].saturating_sub(opts.max_levels * TAB_WIDTH)
    };
    let want = limit.min(cap).min(lines.len());

    let mut start = a;
    let mut end = a; // inclusive
    let mut up_open = true;
    let mut down_open = true;
    let mut up_floor_lines = 0usize;
    let mut down_floor_lines = 0usize;
    while end - start + 1 < want && (up_open || down_open) {
        if up_open {
            match start.checked_sub(1) {
                Some(i) if effective[i] >= floor => {
                    let at_floor = effective[i] == floor && !opts.include_siblings;
                    let header_comment = opts.include_header && lines[i].is_comment();
                    if at_floor && up_floor_lines > 0 && !header_comment {
                        up_open = false;
                    } else {
                        start = i;
                        if at_floor {
                            up_floor_lines += 1;
                        }
                    }
                }
                _ => up_open = false,
            }
        }
        if end - start + 1 >= want {
            break;
        }
        if down_open {
            let j = end + 1;
            if j < lines.len() && effective[j] >= floor {
                let at_floor = effective[j] == floor && !opts.include_siblings;
                // Below the block only its closing line belongs to it; in
                // languages without one (Python) the next line at the floor
                // already starts a sibling.
                if at_floor && (down_floor_lines > 0 || !lines[j].is_closer()) {
                    down_open = false;
                } else {
                    end = j;
                    if at_floor {
                        down_floor_lines += 1;
                    }
                }
            } else {
                down_open = false;
            }
        }
    }

    let mut selected: VecDeque<&Line> = lines[start..=end].iter().collect();
    while selected.front().is_some_and(|l| l.is_blank()) {
        selected.pop_front();
    }
    while selected.back().is_some_and(|l| l.is_blank()) {
        selected.pop_back();
    }
    Ok(selected
        .into_iter()
        .map(|l| format!("L{}: {}", l.number, l.display))
        .collect())
}

// ----------------------------------------------------------------- list_dir

#[derive(Debug, Deserialize)]
struct ListDirArgs {
    dir_path: String,
    #[serde(default = "one")]
    offset: usize,
    #[serde(default = "list_limit")]
    limit: usize,
    #[serde(default = "list_depth")]
    depth: usize,
}

fn list_limit() -> usize {
    25
}

fn list_depth() -> usize {
    2
}

async fn list_dir(ctx: &ToolContext, call: &ToolCall) -> Result<ToolOutput, ToolOutput> {
    let args: ListDirArgs = call.parse_args()?;
    if args.offset == 0 {
        return fail("offset must be a 1-indexed entry number");
    }
    if args.limit == 0 {
        return fail("limit must be greater than zero");
    }
    if args.depth == 0 {
        return fail("depth must be greater than zero");
    }
    if args.dir_path.trim().is_empty() {
        return fail("dir_path must not be empty");
    }
    let path = normalize(&ctx.resolve(&args.dir_path));
    match tokio::fs::metadata(&path).await {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return fail(format!(
                "{} is not a directory; use read_file to read it",
                path.display()
            ))
        }
        Err(e) => return fail(format!("failed to read directory {}: {e}", path.display())),
    }
    let walk_path = path.clone();
    let (start, limit, depth) = (args.offset - 1, args.limit, args.depth);
    let listed =
        tokio::task::spawn_blocking(move || collect_entries(&walk_path, start, limit, depth))
            .await
            .map_err(|e| ToolOutput::error(format!("list_dir failed: {e}")))??;
    let mut out = vec![format!("Absolute path: {}", path.display())];
    out.extend(listed);
    Ok(ToolOutput::success(out.join("\n")))
}

/// Entries in tree order (each directory's children sorted by name, right
/// under it), `start`-th onwards, at most `limit`, plus a note when more exist.
fn collect_entries(
    root: &Path,
    start: usize,
    limit: usize,
    depth: usize,
) -> Result<Vec<String>, ToolOutput> {
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .max_depth(Some(depth))
        .sort_by_file_name(|a, b| a.cmp(b))
        // `.git` is listed but never entered: its internals only add noise.
        .filter_entry(|e| {
            e.depth() == 0
                || e.path().parent().and_then(Path::file_name) != Some(OsStr::new(".git"))
        })
        .build();
    let mut seen = 0usize;
    let mut out = Vec::new();
    let mut more = false;
    for entry in walker {
        let Ok(entry) = entry else { continue };
        if entry.depth() == 0 {
            continue;
        }
        seen += 1;
        if seen <= start {
            continue;
        }
        if out.len() == limit {
            more = true;
            break;
        }
        let name = entry.file_name().to_string_lossy();
        let mut line = "  ".repeat(entry.depth() - 1);
        line.push_str(cut_at_char_boundary(&name, MAX_ENTRY_BYTES));
        line.push_str(kind_suffix(entry.file_type()));
        out.push(line);
    }
    if seen <= start && seen > 0 {
        return fail(format!(
            "offset exceeds directory entry count ({seen} entries)"
        ));
    }
    if more {
        out.push(format!("More than {limit} entries found"));
    }
    Ok(out)
}

fn kind_suffix(file_type: Option<FileType>) -> &'static str {
    match file_type {
        Some(t) if t.is_symlink() => "@",
        Some(t) if t.is_dir() => "/",
        Some(t) if t.is_file() => "",
        _ => "?",
    }
}

// --------------------------------------------------------------- grep_files

#[derive(Debug, Deserialize)]
struct GrepArgs {
    pattern: String,
    #[serde(default)]
    include: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default = "grep_limit")]
    limit: usize,
}

fn grep_limit() -> usize {
    GREP_DEFAULT_LIMIT
}

async fn grep_files(ctx: &ToolContext, call: &ToolCall) -> Result<ToolOutput, ToolOutput> {
    let args: GrepArgs = call.parse_args()?;
    let pattern = args.pattern.trim().to_string();
    if pattern.is_empty() {
        return fail("pattern must not be empty");
    }
    if args.limit == 0 {
        return fail("limit must be greater than zero");
    }
    let limit = args.limit.min(GREP_MAX_LIMIT);
    let root = match args.path.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => normalize(&ctx.resolve(p)),
        _ => ctx.cwd.clone(),
    };
    if let Err(e) = tokio::fs::metadata(&root).await {
        return fail(format!("unable to access `{}`: {e}", root.display()));
    }
    let include = args
        .include
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let cancel = ctx.cancel.clone();
    let found = tokio::task::spawn_blocking(move || {
        search_files(&root, &pattern, include.as_deref(), &cancel)
    })
    .await
    .map_err(|e| ToolOutput::error(format!("grep_files failed: {e}")))??;
    if found.is_empty() {
        // Codex flags this as unsuccessful, but a search that found nothing
        // did its job; the item should not show a failure.
        return Ok(ToolOutput::success("No matches found."));
    }
    let paths: Vec<String> = found
        .into_iter()
        .take(limit)
        .map(|p| p.display().to_string())
        .collect();
    Ok(ToolOutput::success(paths.join("\n")))
}

/// Files under `root` with a line matching `pattern`, newest first.
fn search_files(
    root: &Path,
    pattern: &str,
    include: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Vec<PathBuf>, ToolOutput> {
    let matcher = RegexMatcherBuilder::new()
        .line_terminator(Some(b'\n'))
        .build(pattern)
        .map_err(|e| ToolOutput::error(format!("invalid regex pattern `{pattern}`: {e}")))?;
    let mut builder = WalkBuilder::new(root);
    builder.require_git(false).follow_links(false);
    if let Some(glob) = include {
        let base = if root.is_dir() {
            root
        } else {
            root.parent().unwrap_or(root)
        };
        let mut overrides = OverrideBuilder::new(base);
        overrides
            .add(glob)
            .map_err(|e| ToolOutput::error(format!("invalid include glob `{glob}`: {e}")))?;
        let overrides = overrides
            .build()
            .map_err(|e| ToolOutput::error(format!("invalid include glob `{glob}`: {e}")))?;
        builder.overrides(overrides);
    }
    let mut searcher: Searcher = SearcherBuilder::new()
        .binary_detection(BinaryDetection::quit(0))
        .line_number(false)
        .build();
    let started = Instant::now();
    let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
    for entry in builder.build() {
        if cancel.is_cancelled() {
            return fail("grep_files was interrupted");
        }
        if started.elapsed() > GREP_TIMEOUT {
            return fail(format!(
                "grep_files timed out after {} seconds; narrow `path` or `include`",
                GREP_TIMEOUT.as_secs()
            ));
        }
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let mut sink = FirstMatch(false);
        if searcher
            .search_path(&matcher, entry.path(), &mut sink)
            .is_err()
        {
            continue;
        }
        if sink.0 {
            let mtime = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            found.push((mtime, entry.into_path()));
        }
    }
    // Newest first, as `rg --sortr=modified`; ties by path for stable output.
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Stops a search at the first matching line.
struct FirstMatch(bool);

impl Sink for FirstMatch {
    type Error = std::io::Error;

    fn matched(&mut self, _: &Searcher, _: &SinkMatch<'_>) -> Result<bool, std::io::Error> {
        self.0 = true;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str, anchor: usize, opts: IndentationArgs) -> anyhow::Result<Vec<String>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("f");
        std::fs::write(&path, text)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(read_block(&path, anchor, 2000, &opts))
            .map_err(|e| anyhow::anyhow!(e.content))
    }

    const SRC: &str = "\
// helper
fn a() {
    let x = 1;
    if x > 0 {
        println!(\"hi\");
    }
}

fn b() {
    call();
}
";

    #[test]
    fn indentation_takes_the_enclosing_block() -> anyhow::Result<()> {
        let lines = block(SRC, 5, IndentationArgs::default())?;
        assert_eq!(
            lines,
            [
                "L1: // helper",
                "L2: fn a() {",
                "L3:     let x = 1;",
                "L4:     if x > 0 {",
                "L5:         println!(\"hi\");",
                "L6:     }",
                "L7: }",
            ]
        );
        Ok(())
    }

    #[test]
    fn indentation_max_levels_limits_the_climb() -> anyhow::Result<()> {
        let opts = IndentationArgs {
            max_levels: 1,
            ..IndentationArgs::default()
        };
        let lines = block(SRC, 5, opts)?;
        assert_eq!(
            lines,
            [
                "L4:     if x > 0 {",
                "L5:         println!(\"hi\");",
                "L6:     }",
            ]
        );
        Ok(())
    }

    #[test]
    fn indentation_siblings_extend_past_the_block() -> anyhow::Result<()> {
        let opts = IndentationArgs {
            include_siblings: true,
            ..IndentationArgs::default()
        };
        let lines = block(SRC, 10, opts)?;
        assert_eq!(lines.len(), 11);
        Ok(())
    }

    #[test]
    fn long_lines_are_cut_on_char_boundaries() {
        let line = "é".repeat(400);
        let shown = display_line(line.as_bytes());
        assert!(shown.len() <= MAX_LINE_BYTES);
        assert!(shown.chars().all(|c| c == 'é'));
    }
}
