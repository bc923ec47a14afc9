//! The process runner every command of the agent goes through.
//!
//! Each command runs in a new session (so in its own process group), with
//! stdin on `/dev/null` and stdout/stderr piped back. On timeout, on
//! cancellation, and when the future is dropped half-way, the whole group is
//! killed, not only the direct child: a shell that started `sleep 1000 &` must
//! not leave the sleep behind. Output is kept in bounded head+tail buffers so
//! a command that prints gigabytes cannot exhaust memory.
//!
//! Confinement (Landlock, seccomp) slots in through [`ExecRequest::confine`],
//! which runs in the child between fork and exec.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::sandbox::env::{process_env, scrubbed};

/// Bytes of each output stream kept in memory by default (head and tail).
pub const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;

/// Default timeout of a command when the caller has no better value.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Exit code reported for a command that ran out of time, as `timeout(1)` does.
pub const TIMEOUT_EXIT_CODE: i32 = 124;

/// A shell reports a process killed by signal N as 128 + N.
const SIGNAL_EXIT_BASE: i32 = 128;

const READ_CHUNK: usize = 8192;

/// How long to keep reading the pipes once the child is gone. Grandchildren
/// that inherited stdout/stderr can hold them open indefinitely (a daemon
/// started with `&`); we stop waiting for their EOF after this.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs in the forked child just before `exec`. It must only make
/// async-signal-safe calls (no allocation, no locks): prepare everything in
/// the parent and only apply it here. An `Err` aborts the spawn with that error.
pub type PreExecHook = Arc<dyn Fn() -> io::Result<()> + Send + Sync>;

/// The environment a command starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ExecEnv {
    /// This process's environment without the variables that look like
    /// credentials ([`crate::sandbox::env::scrubbed`]). The default, so a
    /// caller that forgets to choose cannot leak the embedding program's API
    /// keys to a command the model wrote.
    #[default]
    Scrubbed,
    /// The environment of this process, unchanged, secrets included. Only
    /// for commands the user, not the model, chose.
    Inherit,
    /// Exactly these variables and nothing else.
    Exact(HashMap<String, String>),
}

/// One command to run.
#[derive(Clone)]
pub struct ExecRequest {
    /// Program and arguments; the program is looked up on `PATH`.
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub env: ExecEnv,
    /// After this long the process group is killed and the result is marked
    /// timed out (exit code 124).
    pub timeout: Duration,
    /// Bytes kept of each of stdout, stderr and the interleaved output; beyond
    /// that the first and last halves are kept and the middle is cut with a
    /// marker.
    pub output_cap: usize,
    /// Confinement applied in the child after it left our process group.
    pub confine: Option<PreExecHook>,
}

impl ExecRequest {
    pub fn new(argv: Vec<String>, cwd: PathBuf) -> Self {
        ExecRequest {
            argv,
            cwd,
            env: ExecEnv::default(),
            timeout: DEFAULT_TIMEOUT,
            output_cap: DEFAULT_OUTPUT_CAP,
            confine: None,
        }
    }
}

impl std::fmt::Debug for ExecRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecRequest")
            .field("argv", &self.argv)
            .field("cwd", &self.cwd)
            .field("env", &self.env)
            .field("timeout", &self.timeout)
            .field("output_cap", &self.output_cap)
            .field("confine", &self.confine.is_some())
            .finish()
    }
}

/// What a finished (or killed) command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code; 128 + N when killed by signal N; 124 when timed out.
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    /// stdout and stderr interleaved in the order the chunks arrived.
    pub aggregated: String,
    /// Size of the whole interleaved output, including any part cut from memory.
    pub total_output_bytes: u64,
    /// Lines of the whole interleaved output (counted as `str::lines` would),
    /// including any part cut from memory.
    pub total_output_lines: usize,
    pub duration: Duration,
    pub timed_out: bool,
    /// The cancellation token fired and the command was killed.
    pub interrupted: bool,
}

/// Run `req` to completion, calling `on_output` with every chunk of stdout or
/// stderr as it arrives. Returns once the child has exited and its pipes are
/// drained (bounded), or promptly after a timeout or cancellation killed it.
/// An `Err` means the command could not be started.
pub async fn run(
    req: ExecRequest,
    cancel: &CancellationToken,
    on_output: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<ExecOutput, Error> {
    let Some((program, args)) = req.argv.split_first() else {
        return Err(Error::io(
            "cannot run a command",
            io::Error::new(io::ErrorKind::InvalidInput, "the command is empty"),
        ));
    };
    if !req.cwd.is_dir() {
        return Err(Error::io(
            format!("cannot run `{program}`"),
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "working directory {} does not exist or is not a directory",
                    req.cwd.display()
                ),
            ),
        ));
    }

    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(&req.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match &req.env {
        ExecEnv::Scrubbed => {
            cmd.env_clear().envs(scrubbed(process_env()));
        }
        ExecEnv::Inherit => {}
        ExecEnv::Exact(vars) => {
            cmd.env_clear().envs(vars);
        }
    }
    let confine = req.confine.clone();
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed. `setsid` is one; `confine` is
    // documented to obey the same rule. Nothing here allocates or locks.
    unsafe {
        cmd.pre_exec(move || {
            // A new session makes the child leader of a new process group
            // (pgid == pid), which we kill as a whole, and detaches it from
            // our controlling terminal so it cannot read from or signal it.
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            match &confine {
                Some(hook) => hook(),
                None => Ok(()),
            }
        });
    }

    let start = Instant::now();
    // A confinement that fails in the child fails the spawn the same way a
    // missing program does; say where it happened.
    let where_ = if req.confine.is_some() {
        " in the sandbox"
    } else {
        ""
    };
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("failed to start `{program}`{where_}"), e))?;
    // Declared after `child` so it drops first: the group is signalled while
    // the unreaped child still holds its pid (and so the pgid) reserved.
    let mut group = GroupGuard {
        pgid: child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()),
    };
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        group.kill();
        return Err(Error::Internal(
            "a spawned command has no stdout/stderr pipe".into(),
        ));
    };

    let mut out_capture = HeadTail::new(req.output_cap);
    let mut err_capture = HeadTail::new(req.output_cap);
    let mut all_capture = HeadTail::new(req.output_cap);
    let mut out_buf = vec![0u8; READ_CHUNK];
    let mut err_buf = vec![0u8; READ_CHUNK];
    let mut stdout_open = true;
    let mut stderr_open = true;
    let mut status: Option<ExitStatus> = None;
    let mut timed_out = false;
    let mut interrupted = false;
    let mut drain_until: Option<Instant> = None;
    // A timeout too large to represent means no timeout at all.
    let deadline = start.checked_add(req.timeout);

    loop {
        if status.is_some() && !stdout_open && !stderr_open {
            break;
        }
        let killed = timed_out || interrupted;
        tokio::select! {
            biased;
            _ = cancel.cancelled(), if !killed => {
                interrupted = true;
                if status.is_some() {
                    // Only grandchildren's pipes are left; stop waiting for them.
                    break;
                }
                group.kill();
                drain_until = Some(Instant::now() + DRAIN_TIMEOUT);
            }
            _ = sleep_until_opt(deadline), if !killed && status.is_none() => {
                timed_out = true;
                group.kill();
                drain_until = Some(Instant::now() + DRAIN_TIMEOUT);
            }
            res = child.wait(), if status.is_none() => {
                match res {
                    Ok(st) => {
                        // Reaped: the pgid may now be reused, never signal it again.
                        group.disarm();
                        status = Some(st);
                    }
                    Err(e) => {
                        group.kill();
                        return Err(Error::io(format!("failed to wait for `{program}`"), e));
                    }
                }
                if drain_until.is_none() {
                    drain_until = Some(Instant::now() + DRAIN_TIMEOUT);
                }
            }
            res = stdout.read(&mut out_buf), if stdout_open => match res {
                Ok(n) if n > 0 => {
                    let chunk = &out_buf[..n];
                    out_capture.push(chunk);
                    all_capture.push(chunk);
                    on_output(chunk);
                }
                _ => stdout_open = false,
            },
            res = stderr.read(&mut err_buf), if stderr_open => match res {
                Ok(n) if n > 0 => {
                    let chunk = &err_buf[..n];
                    err_capture.push(chunk);
                    all_capture.push(chunk);
                    on_output(chunk);
                }
                _ => stderr_open = false,
            },
            _ = sleep_until_opt(drain_until), if drain_until.is_some() => break,
        }
    }

    let duration = start.elapsed();
    let exit_code = if timed_out {
        TIMEOUT_EXIT_CODE
    } else {
        match status {
            Some(st) => exit_code_of(st),
            // Killed but not reaped within the drain window (a process stuck
            // in the kernel); report the signal we sent.
            None => SIGNAL_EXIT_BASE + libc::SIGKILL,
        }
    };
    Ok(ExecOutput {
        exit_code,
        stdout: out_capture.to_string_lossy(),
        stderr: err_capture.to_string_lossy(),
        total_output_bytes: all_capture.total,
        total_output_lines: all_capture.line_count(),
        aggregated: all_capture.to_string_lossy(),
        duration,
        timed_out,
        interrupted,
    })
}

async fn sleep_until_opt(when: Option<Instant>) {
    match when {
        Some(when) => tokio::time::sleep_until(when).await,
        None => std::future::pending().await,
    }
}

fn exit_code_of(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => SIGNAL_EXIT_BASE + signal,
        (None, None) => -1,
    }
}

/// Kills the command's process group when dropped while the child is unreaped.
struct GroupGuard {
    pgid: Option<libc::pid_t>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid {
            if pgid > 0 {
                // SAFETY: kill(2) has no memory-safety preconditions. A
                // negative pid addresses the group; the leader is not reaped
                // yet, so the id cannot have been reused.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
        }
    }

    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A byte buffer that keeps the first and last `cap / 2` bytes of everything
/// pushed into it and counts what it dropped.
#[derive(Debug)]
struct HeadTail {
    head_cap: usize,
    tail_cap: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    omitted: u64,
    total: u64,
    newlines: usize,
    last: Option<u8>,
}

impl HeadTail {
    fn new(cap: usize) -> Self {
        let head_cap = cap / 2;
        HeadTail {
            head_cap,
            tail_cap: cap - head_cap,
            head: Vec::new(),
            tail: VecDeque::new(),
            omitted: 0,
            total: 0,
            newlines: 0,
            last: None,
        }
    }

    fn push(&mut self, mut data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.total += data.len() as u64;
        // memchr, not a byte loop: this runs over every byte a command
        // prints, gigabytes for some, and must stay fast in debug builds too.
        self.newlines += memchr::memchr_iter(b'\n', data).count();
        self.last = data.last().copied();

        let room = self.head_cap.saturating_sub(self.head.len());
        let take = room.min(data.len());
        self.head.extend_from_slice(&data[..take]);
        data = &data[take..];
        if data.is_empty() {
            return;
        }
        if data.len() >= self.tail_cap {
            self.omitted += (self.tail.len() + data.len() - self.tail_cap) as u64;
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + data.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.omitted += overflow as u64;
        self.tail.extend(data);
    }

    /// Lines as `str::lines` counts them over everything pushed.
    fn line_count(&self) -> usize {
        match self.last {
            None => 0,
            Some(b'\n') => self.newlines,
            Some(_) => self.newlines + 1,
        }
    }

    fn to_string_lossy(&self) -> String {
        let mut bytes = Vec::with_capacity(self.head.len() + self.tail.len() + 48);
        bytes.extend_from_slice(&self.head);
        if self.omitted > 0 {
            bytes.extend_from_slice(
                format!("\n[... {} bytes of output omitted ...]\n", self.omitted).as_bytes(),
            );
        }
        bytes.extend(self.tail.iter());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_tail_keeps_both_ends() {
        let mut b = HeadTail::new(8);
        b.push(b"abcd");
        b.push(b"efgh");
        assert_eq!(b.to_string_lossy(), "abcdefgh");
        b.push(b"ij");
        b.push(b"klmnopqrstuvwxyz");
        assert_eq!(b.omitted, 18);
        assert_eq!(b.total, 26);
        assert_eq!(
            b.to_string_lossy(),
            "abcd\n[... 18 bytes of output omitted ...]\nwxyz"
        );
        b.push(b"1");
        assert_eq!(
            b.to_string_lossy(),
            "abcd\n[... 19 bytes of output omitted ...]\nxyz1"
        );
    }

    #[test]
    fn head_tail_counts_lines_like_str_lines() {
        for text in ["", "a", "a\n", "a\nb", "a\n\nb\n", "\n"] {
            let mut b = HeadTail::new(2);
            b.push(text.as_bytes());
            assert_eq!(b.line_count(), text.lines().count(), "{text:?}");
        }
    }

    #[test]
    fn zero_cap_keeps_nothing() {
        let mut b = HeadTail::new(0);
        b.push(b"hello");
        assert_eq!(
            b.to_string_lossy(),
            "\n[... 5 bytes of output omitted ...]\n"
        );
    }

    #[tokio::test]
    async fn signal_exit_is_128_plus_signal() -> anyhow::Result<()> {
        let req = ExecRequest::new(
            vec!["sh".into(), "-c".into(), "kill -TERM $$".into()],
            std::env::temp_dir(),
        );
        let out = run(req, &CancellationToken::new(), &mut |_| {}).await?;
        assert_eq!(out.exit_code, 128 + libc::SIGTERM);
        Ok(())
    }

    #[tokio::test]
    async fn huge_timeouts_mean_none() -> anyhow::Result<()> {
        for ms in [u64::MAX, 1 << 50] {
            let mut req = ExecRequest::new(vec!["true".into()], std::env::temp_dir());
            req.timeout = Duration::from_millis(ms);
            let out = run(req, &CancellationToken::new(), &mut |_| {}).await?;
            assert_eq!(out.exit_code, 0);
        }
        Ok(())
    }

    /// A confinement that fails in the child makes the spawn fail: the
    /// command never runs without it.
    #[tokio::test]
    async fn a_failing_confinement_stops_the_command() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let marker = dir.path().join("ran");
        let mut req = ExecRequest::new(
            vec!["touch".into(), marker.display().to_string()],
            dir.path().to_path_buf(),
        );
        req.confine = Some(Arc::new(|| Err(io::Error::from_raw_os_error(libc::EPERM))));
        let err = run(req, &CancellationToken::new(), &mut |_| {})
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("in the sandbox"), "{err}");
        assert!(err.contains("Operation not permitted"), "{err}");
        assert!(!marker.exists());
        Ok(())
    }

    #[tokio::test]
    async fn missing_program_is_an_error() {
        let req = ExecRequest::new(
            vec!["codeloop-no-such-program".into()],
            std::env::temp_dir(),
        );
        let err = run(req, &CancellationToken::new(), &mut |_| {}).await;
        assert!(err.is_err());
    }
}
