//! Rollout files: every thread is written as it goes, one JSON record per
//! line, so it can be resumed by id later (`resume_thread`, `exec resume`).
//!
//! Layout follows the Codex CLI: `<root>/YYYY/MM/DD/rollout-<timestamp>-<thread id>.jsonl`,
//! records `{timestamp, type, payload}`. Each record is one `write` of a whole
//! line to a file opened for appending, straight to the kernel (no buffer in
//! this process), so concurrent writers never interleave within a line, and a
//! process killed mid-write leaves at most one partial last line, which
//! loading skips and reopening cuts. The end of each turn is also synced to
//! disk, so a machine that crashes loses at most the turn it was in.
//!
//! Many processes share one session directory with no directory lock: each thread
//! has its own file (named by its UUID v7 id, created with `create_new`), and
//! the most recent session is the file written last (its mtime).
//!
//! One thread, though, runs one turn at a time across processes too: a turn
//! holds an advisory `flock` on its rollout file from its `turn_started`
//! record to its end (the kernel drops it when a process dies, so a killed
//! process never leaves it behind). A second process (or a second object
//! resumed in the same process) that starts a turn meanwhile gets
//! [`Error::Busy`]; one whose history went stale because another wrote turns
//! since it loaded the file gets an error telling it to resume again,
//! instead of writing a history that forks inside one file. Writes outside a
//! turn (a manual compaction, context recorded before a turn starts) take
//! the same lock and check for their own length of time: [`Rollout::lock`]
//! for a span of work, or [`Rollout::append`] for the one record.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::protocol::{ResponseItem, Usage};

/// One line of a rollout file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutLine {
    pub timestamp: String,
    #[serde(flatten)]
    pub record: RolloutRecord,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum RolloutRecord {
    SessionMeta(SessionMeta),
    ResponseItem(ResponseItem),
    /// A turn began: the items after it belong to turn `turn` (1-based).
    /// Forks count turns by these.
    TurnStarted {
        turn: u64,
    },
    TurnCompleted {
        usage: Usage,
    },
    /// A turn ended with an error (interrupted, budget, model error): the
    /// items before it are kept, and `usage` counts its model requests too.
    TurnFailed {
        usage: Usage,
        error: crate::protocol::ThreadError,
    },
    /// The history was compacted (as Codex's `compacted` record): from here
    /// on it is `replacement_history`. `message` is the model's summary.
    Compacted {
        message: String,
        replacement_history: Vec<ResponseItem>,
    },
}

/// Where a forked thread came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkedFrom {
    /// The source thread's id.
    pub id: String,
    /// The last turn of the source that the fork holds; `None` for all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub id: String,
    pub cwd: String,
    pub model: String,
    #[serde(default)]
    pub originator: String,
    #[serde(default)]
    pub cli_version: String,
    #[serde(default)]
    pub extra: Value,
    /// Set when this thread was forked from another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkedFrom>,
}

/// What a rollout file holds, for resuming.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSession {
    pub meta: SessionMeta,
    pub history: Vec<ResponseItem>,
    pub usage: Usage,
    pub path: PathBuf,
    /// The number of turns the thread has begun.
    pub turns: u64,
    /// Every record after the meta, in order, for forks.
    pub records: Vec<RolloutRecord>,
}

impl LoadedSession {
    /// The records of the thread up to the end of turn `turn` (all of them
    /// when `None`), without the session meta.
    pub fn records_through(&self, turn: Option<u64>) -> Result<&[RolloutRecord]> {
        let Some(turn) = turn else {
            return Ok(&self.records);
        };
        if turn == 0 || turn > self.turns {
            return Err(Error::Config(format!(
                "thread {} has {} turn(s); cannot fork at turn {turn} (turns count from 1)",
                self.meta.id, self.turns
            )));
        }
        let mut seen = 0;
        let end = self
            .records
            .iter()
            .position(|r| {
                if let RolloutRecord::TurnStarted { .. } = r {
                    seen += 1;
                }
                seen > turn
            })
            .unwrap_or(self.records.len());
        Ok(&self.records[..end])
    }
}

/// The directory rollouts live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStore {
    root: PathBuf,
}

impl SessionStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SessionStore { root: root.into() }
    }

    /// `$CODELOOP_HOME/sessions`, default `~/.codeloop/sessions`.
    pub fn default_root() -> Option<PathBuf> {
        crate::config::codeloop_home().map(|h| h.join("sessions"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Start the rollout file of a new thread.
    pub fn create(&self, meta: SessionMeta) -> Result<Rollout> {
        self.create_with(meta, &[])
    }

    /// Start the rollout file of a new thread that begins with `records`
    /// (a fork), written before the file is handed out.
    pub fn create_with(&self, meta: SessionMeta, records: &[RolloutRecord]) -> Result<Rollout> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (y, m, d, hh, mm, ss) = civil(now.as_secs());
        let dir = self.root.join(format!("{y:04}/{m:02}/{d:02}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating session directory {}", dir.display()), e))?;
        let path = dir.join(format!(
            "rollout-{y:04}-{m:02}-{d:02}T{hh:02}-{mm:02}-{ss:02}-{}.jsonl",
            meta.id
        ));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(format!("creating session file {}", path.display()), e))?;
        let rollout = Rollout {
            path,
            writer: Arc::new(Mutex::new(Writer {
                file,
                len: 0,
                locked: false,
                in_turn: false,
            })),
        };
        let mut text = line_of(RolloutRecord::SessionMeta(meta))?;
        for record in records {
            text.push_str(&line_of(record.clone())?);
        }
        rollout.write(&text, !records.is_empty())?;
        Ok(rollout)
    }

    /// The rollout file of thread `id`.
    pub fn find(&self, id: &str) -> Result<PathBuf> {
        if id.is_empty() || id.contains(['/', '\\']) || id.contains("..") {
            return Err(Error::Config(format!("`{id}` is not a thread id")));
        }
        let suffix = format!("-{id}.jsonl");
        self.rollout_files()
            .into_iter()
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(&suffix))
            })
            .ok_or_else(|| {
                Error::Config(format!(
                    "no session with id {id} under {}",
                    self.root.display()
                ))
            })
    }

    /// The most recently written rollout file of any working directory
    /// (`resume --last --all`).
    pub fn latest(&self) -> Option<PathBuf> {
        self.rollout_files().into_iter().max_by_key(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .unwrap_or(UNIX_EPOCH)
        })
    }

    /// The most recently written rollout file of a thread that ran in `cwd`
    /// (its session meta says so), for `resume --last`: as in Codex, jobs
    /// in other directories sharing the session directory are not picked.
    /// Only the first line of each file is read.
    pub fn latest_in(&self, cwd: &Path) -> Option<PathBuf> {
        let mut files: Vec<(SystemTime, PathBuf)> = self
            .rollout_files()
            .into_iter()
            .map(|p| {
                let modified = std::fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .unwrap_or(UNIX_EPOCH);
                (modified, p)
            })
            .collect();
        files.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
        let canonical = cwd.canonicalize().ok();
        files.into_iter().map(|(_, p)| p).find(|p| {
            let Some(meta) = read_meta(p) else {
                return false;
            };
            let recorded = Path::new(&meta.cwd);
            recorded == cwd
                || canonical
                    .as_deref()
                    .is_some_and(|c| recorded.canonicalize().is_ok_and(|r| r == c))
        })
    }

    fn rollout_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("rollout-") && n.ends_with(".jsonl"))
                {
                    out.push(path);
                }
            }
        }
        out
    }

    /// Read a rollout file. A torn last line (the writer was killed) is skipped;
    /// a corrupt line elsewhere is an error naming it.
    pub fn load(path: &Path) -> Result<LoadedSession> {
        let file = File::open(path)
            .map_err(|e| Error::io(format!("opening session {}", path.display()), e))?;
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io(format!("reading session {}", path.display()), e))?;
        let mut meta = None;
        let mut records = Vec::new();
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed: RolloutLine = match serde_json::from_str(line) {
                Ok(p) => p,
                Err(_) if i == last => break,
                Err(e) => {
                    return Err(Error::Config(format!(
                        "session {} is corrupt at line {}: {e}",
                        path.display(),
                        i + 1
                    )))
                }
            };
            match parsed.record {
                RolloutRecord::SessionMeta(m) => meta = meta.or(Some(m)),
                record => records.push(record),
            }
        }
        let meta = meta.ok_or_else(|| {
            Error::Config(format!(
                "session {} has no session_meta record",
                path.display()
            ))
        })?;
        let Replayed {
            history,
            usage,
            turns,
        } = replay(&records);
        Ok(LoadedSession {
            meta,
            history,
            usage,
            path: path.to_path_buf(),
            turns,
            records,
        })
    }
}

/// The session meta of a rollout file, from its first line only.
fn read_meta(path: &Path) -> Option<SessionMeta> {
    let mut line = String::new();
    BufReader::new(File::open(path).ok()?)
        .read_line(&mut line)
        .ok()?;
    match serde_json::from_str::<RolloutLine>(&line).ok()?.record {
        RolloutRecord::SessionMeta(meta) => Some(meta),
        _ => None,
    }
}

/// The state of a thread after a run of its records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replayed {
    pub history: Vec<ResponseItem>,
    /// Cumulative usage as of the last finished turn.
    pub usage: Usage,
    /// Turns begun.
    pub turns: u64,
}

/// Rebuild a thread's state from its records (resume and fork both use this).
pub fn replay(records: &[RolloutRecord]) -> Replayed {
    let mut out = Replayed::default();
    for record in records {
        match record {
            RolloutRecord::SessionMeta(_) => {}
            RolloutRecord::ResponseItem(item) => out.history.push(item.clone()),
            RolloutRecord::TurnStarted { .. } => out.turns += 1,
            RolloutRecord::TurnCompleted { usage } | RolloutRecord::TurnFailed { usage, .. } => {
                out.usage = *usage
            }
            RolloutRecord::Compacted {
                replacement_history,
                ..
            } => out.history = replacement_history.clone(),
        }
    }
    out
}

/// An open rollout file, appended to as the thread goes.
#[derive(Debug)]
pub struct Rollout {
    path: PathBuf,
    writer: Arc<Mutex<Writer>>,
}

/// The thread's turn lock taken for writes outside a turn (see
/// [`Rollout::lock`]); released when dropped.
#[derive(Debug)]
#[must_use = "the lock is released when this is dropped"]
pub struct RolloutLock {
    writer: Arc<Mutex<Writer>>,
    /// Whether this guard took the lock (rather than finding it held by a
    /// turn of the same object), and so releases it.
    took: bool,
}

impl Drop for RolloutLock {
    fn drop(&mut self) {
        if self.took {
            let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            if !w.in_turn {
                Rollout::release(&mut w);
            }
        }
    }
}

#[derive(Debug)]
struct Writer {
    file: File,
    /// The file's length as of this object's last read or write: another
    /// length at the start of a turn means another writer continued it.
    len: u64,
    /// Whether this object holds the turn lock.
    locked: bool,
    /// Whether this object wrote `turn_started` and not yet the turn's end.
    in_turn: bool,
}

impl Rollout {
    /// Open an existing rollout file to continue it.
    pub fn open(path: PathBuf) -> Result<Rollout> {
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(format!("opening session file {}", path.display()), e))?;
        // A torn tail is cut only while no turn of another process runs:
        // a live writer's last line may simply not be finished yet.
        if flock(&file, libc::LOCK_EX | libc::LOCK_NB).is_ok() {
            let repaired = drop_torn_tail(&path);
            let _ = flock(&file, libc::LOCK_UN);
            repaired
                .map_err(|e| Error::io(format!("repairing session file {}", path.display()), e))?;
        }
        let len = file
            .metadata()
            .map_err(|e| Error::io(format!("reading session file {}", path.display()), e))?
            .len();
        Ok(Rollout {
            path,
            writer: Arc::new(Mutex::new(Writer {
                file,
                len,
                locked: false,
                in_turn: false,
            })),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take the thread's turn lock, as a turn does, for writes outside a
    /// turn (a manual compaction): [`Error::Busy`] while another object or
    /// process runs a turn of the thread, the stale error (resume it again)
    /// when another wrote to the file since this object read or wrote it.
    /// Held until the guard is dropped; a turn of this object holding it
    /// already is left holding it.
    pub fn lock(&self) -> Result<RolloutLock> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let took = !w.locked && !w.in_turn;
        if took {
            self.begin_turn(&mut w)?;
        }
        Ok(RolloutLock {
            writer: self.writer.clone(),
            took,
        })
    }

    /// Append one record. `turn_started` takes the thread's turn lock
    /// first (see the module docs); `turn_completed` is synced to disk and
    /// releases it. A record written outside a turn, with the lock not held
    /// (context recorded before a turn starts, steered input left by a turn
    /// that never began), takes the lock and the staleness check for itself.
    pub fn append(&self, record: RolloutRecord) -> Result<()> {
        let text = line_of(record.clone())?;
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let starts = matches!(record, RolloutRecord::TurnStarted { .. });
        let ends = matches!(
            record,
            RolloutRecord::TurnCompleted { .. } | RolloutRecord::TurnFailed { .. }
        );
        // A turn that failed before it began here (busy, stale) has nothing
        // to close, and must not write into another writer's turn.
        if matches!(record, RolloutRecord::TurnFailed { .. }) && !w.in_turn {
            Self::release(&mut w);
            return Ok(());
        }
        if starts {
            self.begin_turn(&mut w)?;
        } else if !w.locked && !w.in_turn {
            self.begin_turn(&mut w)?;
            let written = self.write_locked(&mut w, &text, false);
            Self::release(&mut w);
            return written;
        }
        let written = self.write_locked(&mut w, &text, ends);
        if ends {
            w.in_turn = false;
            Self::release(&mut w);
        }
        written?;
        if starts {
            w.in_turn = true;
        }
        Ok(())
    }

    /// Release the turn lock of a turn that ended without `turn_completed`
    /// (failed or interrupted).
    pub fn end_turn(&self) {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.in_turn = false;
        Self::release(&mut w);
    }

    fn begin_turn(&self, w: &mut Writer) -> Result<()> {
        if !w.locked {
            match flock(&w.file, libc::LOCK_EX | libc::LOCK_NB) {
                Ok(()) => w.locked = true,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Err(Error::Busy),
                // A file system without locks: run unlocked, as before.
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot lock the session file")
                }
            }
        }
        let len = w
            .file
            .metadata()
            .map_err(|e| Error::io(format!("reading session file {}", self.path.display()), e))?
            .len();
        if len != w.len {
            Self::release(w);
            return Err(Error::Config(format!(
                "session {} was continued by another process after this thread was loaded; \
                 resume it again to continue from its latest history",
                self.path.display()
            )));
        }
        Ok(())
    }

    fn release(w: &mut Writer) {
        if w.locked {
            let _ = flock(&w.file, libc::LOCK_UN);
            w.locked = false;
        }
    }

    /// One `write` of whole lines (O_APPEND: never interleaved with another
    /// writer's lines), then optionally `fdatasync`.
    fn write(&self, text: &str, sync: bool) -> Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.write_locked(&mut w, text, sync)
    }

    fn write_locked(&self, w: &mut Writer, text: &str, sync: bool) -> Result<()> {
        w.file
            .write_all(text.as_bytes())
            .and_then(|_| if sync { w.file.sync_data() } else { Ok(()) })
            .map_err(|e| Error::io(format!("writing session file {}", self.path.display()), e))?;
        w.len += text.len() as u64;
        Ok(())
    }
}

/// `flock(2)` on `file`.
fn flock(file: &File, op: libc::c_int) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: a plain syscall on a descriptor `file` keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A record as one line of JSON, newline included.
fn line_of(record: RolloutRecord) -> Result<String> {
    let line = RolloutLine {
        timestamp: timestamp_now(),
        record,
    };
    let mut text = serde_json::to_string(&line)
        .map_err(|e| Error::Internal(format!("serializing a rollout record: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// Cut a partial last line (a writer killed mid-record) so the next record
/// starts on a line of its own instead of being glued to the torn bytes.
fn drop_torn_tail(path: &Path) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    // Read backwards in blocks until the last newline.
    let mut end = len;
    let mut block = vec![0u8; 4096];
    loop {
        let start = end.saturating_sub(block.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        std::io::Read::read_exact(&mut file, &mut block[..n])?;
        if let Some(pos) = block[..n].iter().rposition(|&b| b == b'\n') {
            let keep = start + pos as u64 + 1;
            if keep != len {
                file.set_len(keep)?;
            }
            return Ok(());
        }
        if start == 0 {
            return file.set_len(0);
        }
        end = start;
    }
}

/// RFC 3339 UTC timestamp with milliseconds.
pub fn timestamp_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (y, m, d, hh, mm, ss) = civil(now.as_secs());
    format!(
        "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{:03}Z",
        now.subsec_millis()
    )
}

/// Calendar date and time of a Unix timestamp (UTC), by Howard Hinnant's
/// days-from-civil inverse.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_795_305_599), (2026, 11, 21, 23, 59, 59));
    }

    #[test]
    fn torn_last_line_is_skipped() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = SessionStore::new(dir.path());
        let rollout = store.create(SessionMeta {
            id: "t1".into(),
            cwd: "/".into(),
            model: "m".into(),
            originator: String::new(),
            cli_version: String::new(),
            extra: Value::Null,
            forked_from: None,
        })?;
        rollout.append(RolloutRecord::ResponseItem(ResponseItem::user_text("hi")))?;
        let path = store.find("t1")?;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)?
            .write_all(b"{\"timestamp\":\"x\",\"type\":\"response_it")?;
        let loaded = SessionStore::load(&path)?;
        assert_eq!(loaded.history, vec![ResponseItem::user_text("hi")]);
        assert_eq!(loaded.meta.id, "t1");
        assert_eq!(store.latest(), Some(path.clone()));
        // Reopening for resume cuts the torn tail, so later records stay readable.
        let reopened = Rollout::open(path.clone())?;
        reopened.append(RolloutRecord::ResponseItem(ResponseItem::user_text(
            "again",
        )))?;
        let loaded = SessionStore::load(&path)?;
        assert_eq!(
            loaded.history,
            vec![
                ResponseItem::user_text("hi"),
                ResponseItem::user_text("again")
            ]
        );
        Ok(())
    }

    #[test]
    fn writes_outside_a_turn_take_the_turn_lock_and_the_staleness_check() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = SessionStore::new(dir.path());
        let meta = SessionMeta {
            id: "t2".into(),
            cwd: "/".into(),
            model: "m".into(),
            originator: String::new(),
            cli_version: String::new(),
            extra: Value::Null,
            forked_from: None,
        };
        drop(store.create(meta)?);
        let path = store.find("t2")?;
        let item = |text: &str| RolloutRecord::ResponseItem(ResponseItem::user_text(text));
        let a = Rollout::open(path.clone())?;
        let b = Rollout::open(path.clone())?;
        b.append(RolloutRecord::TurnStarted { turn: 1 })?;
        // b's turn holds the thread.
        assert!(matches!(a.append(item("beside")), Err(Error::Busy)));
        assert!(matches!(a.lock(), Err(Error::Busy)));
        b.append(item("in b's turn"))?;
        b.append(RolloutRecord::TurnCompleted {
            usage: Usage::default(),
        })?;
        // a's copy is stale now: nothing it writes lands.
        let before = std::fs::read(&path)?;
        assert!(
            matches!(a.append(item("stale")), Err(Error::Config(m)) if m.contains("resume it again"))
        );
        assert!(matches!(a.lock(), Err(Error::Config(m)) if m.contains("resume it again")));
        assert_eq!(std::fs::read(&path)?, before);
        // A fresh copy holds the lock while its guard lives, and writes.
        let c = Rollout::open(path.clone())?;
        let guard = c.lock()?;
        c.append(item("compacted"))?;
        let d = Rollout::open(path.clone())?;
        assert!(matches!(
            d.append(RolloutRecord::TurnStarted { turn: 2 }),
            Err(Error::Busy)
        ));
        drop(guard);
        d.append(RolloutRecord::TurnStarted { turn: 2 })?;
        let loaded = SessionStore::load(&path)?;
        assert_eq!(
            loaded.history,
            vec![
                ResponseItem::user_text("in b's turn"),
                ResponseItem::user_text("compacted")
            ]
        );
        Ok(())
    }
}
