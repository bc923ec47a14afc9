//! Rollout files: every thread is written as it goes, one JSON record per
//! line, so it can be resumed by id later (`resume_thread`, `exec resume`).
//!
//! Layout follows the Codex CLI: `<root>/YYYY/MM/DD/rollout-<timestamp>-<thread id>.jsonl`,
//! records `{timestamp, type, payload}`. Each record is one `write` of a whole
//! line to a file opened for appending, so concurrent writers never interleave
//! within a line, and a process killed mid-write leaves at most one partial
//! last line, which loading skips.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
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
    TurnCompleted { usage: Usage },
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
}

/// What a rollout file holds, for resuming.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSession {
    pub meta: SessionMeta,
    pub history: Vec<ResponseItem>,
    pub usage: Usage,
    pub path: PathBuf,
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
        let rollout = Rollout::open(path)?;
        rollout.append(RolloutRecord::SessionMeta(meta))?;
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

    /// The most recently written rollout file, for `resume --last`.
    pub fn latest(&self) -> Option<PathBuf> {
        self.rollout_files().into_iter().max_by_key(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .unwrap_or(UNIX_EPOCH)
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
        let mut history = Vec::new();
        let mut usage = Usage::default();
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
                RolloutRecord::ResponseItem(item) => history.push(item),
                RolloutRecord::TurnCompleted { usage: u } => usage = u,
            }
        }
        let meta = meta.ok_or_else(|| {
            Error::Config(format!(
                "session {} has no session_meta record",
                path.display()
            ))
        })?;
        Ok(LoadedSession {
            meta,
            history,
            usage,
            path: path.to_path_buf(),
        })
    }
}

/// An open rollout file, appended to as the thread goes.
#[derive(Debug)]
pub struct Rollout {
    path: PathBuf,
    file: Mutex<File>,
}

impl Rollout {
    pub fn open(path: PathBuf) -> Result<Rollout> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(format!("opening session file {}", path.display()), e))?;
        drop_torn_tail(&path)
            .map_err(|e| Error::io(format!("repairing session file {}", path.display()), e))?;
        Ok(Rollout {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&self, record: RolloutRecord) -> Result<()> {
        let line = RolloutLine {
            timestamp: timestamp_now(),
            record,
        };
        let mut text = serde_json::to_string(&line)
            .map_err(|e| Error::Internal(format!("serializing a rollout record: {e}")))?;
        text.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| Error::Internal("rollout lock poisoned".into()))?;
        file.write_all(text.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| Error::io(format!("writing session file {}", self.path.display()), e))
    }
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
}
