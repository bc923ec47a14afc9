//! `make bench-sandbox`: what the sandbox adds to starting a command.
//!
//! `/bin/true` is started many times through the agent's process runner
//! (`tools::exec::run`): unconfined, then confined as the shell tool does it
//! (`workspace-write` in a git repository, the confinement prepared for
//! every command), then with Landlock alone (the fallback layout, measured in
//! a child process started with `CODELOOP_SANDBOX_PROTECTION=landlock`), and
//! under `bwrap --ro-bind / / --dev /dev` when bubblewrap is installed.
//! Reports medians, the ratio against unconfined and the added latency.
//! Not part of the test run.

#[path = "../stats.rs"]
mod stats;

use stats::{median, pct};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use codeloop_core::protocol::SandboxMode;
use codeloop_core::sandbox::linux::{namespace_kind, KernelSupport, PROTECTION_ENV};
use codeloop_core::sandbox::SandboxPolicy;
use codeloop_core::tools::exec::{self, ExecRequest};
use tokio_util::sync::CancellationToken;

const WARMUP: usize = 20;
/// The child run measuring one layout prints its median on a line with this
/// prefix.
const CHILD_ARG: &str = "--confined-only";
const CHILD_LINE: &str = "confined-median-us ";

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Start `argv` `runs` times (after a warm-up); `confine` prepares the
/// confinement of each run, inside the timed span as in the shell tool.
async fn measure(
    argv: &[&str],
    dir: &Path,
    runs: usize,
    policy: Option<&SandboxPolicy>,
) -> Result<Vec<Duration>> {
    let cancel = CancellationToken::new();
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + WARMUP {
        let start = Instant::now();
        let mut req = ExecRequest::new(
            argv.iter().map(|s| s.to_string()).collect(),
            dir.to_path_buf(),
        );
        if let Some(policy) = policy {
            req.confine = policy.confine(dir)?;
        }
        let out = exec::run(req, &cancel, &mut |_| {}).await?;
        let elapsed = start.elapsed();
        if out.exit_code != 0 {
            bail!("{argv:?} exited with {}: {}", out.exit_code, out.aggregated);
        }
        if i >= WARMUP {
            times.push(elapsed);
        }
    }
    Ok(times)
}

fn prepare_times(policy: &SandboxPolicy, dir: &Path, runs: usize) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let confine = policy.confine(dir)?;
        times.push(start.elapsed());
        drop(confine);
    }
    Ok(times)
}

fn report(name: &str, times: &[Duration]) {
    println!(
        "{name:<40} median {:>8.1} µs   p90 {:>8.1} µs   min {:>8.1} µs",
        us(median(times)),
        us(pct(times, 0.9)),
        us(times.iter().copied().min().unwrap_or_default()),
    );
}

fn compare(name: &str, base: Duration, other: Duration) {
    println!(
        "{name:<40} {:+8.1} µs per command   ratio {:.2}x",
        us(other) - us(base),
        us(other) / us(base)
    );
}

/// A fresh repository, like a real workspace outside the temp dirs (a
/// workspace inside /tmp, itself a writable root, costs the Landlock-only
/// layout a walk of /tmp): under `target/` when run from the repository,
/// else in the temp dir; `BENCH_DIR` chooses.
fn git_repo() -> Result<tempfile::TempDir> {
    let parent = std::env::var_os("BENCH_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| Some(std::path::PathBuf::from("target")).filter(|t| t.is_dir()))
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("bench-sandbox-")
        .tempdir_in(&parent)
        .with_context(|| format!("temp dir in {}", parent.display()))?;
    let status = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .context("git init")?;
    if !status.success() {
        bail!("git init failed");
    }
    Ok(dir)
}

fn bwrap_available() -> bool {
    Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let repo = git_repo()?;
    let dir = repo.path().canonicalize()?;
    let policy = SandboxPolicy::new(SandboxMode::WorkspaceWrite, &dir, &[], false);
    let true_argv = ["/bin/true"];

    if std::env::args().any(|a| a == CHILD_ARG) {
        let confined = measure(&true_argv, &dir, runs, Some(&policy)).await?;
        println!("{CHILD_LINE}{}", us(median(&confined)));
        return Ok(());
    }

    policy.check_command()?;
    let support = KernelSupport::detect();
    let layout = match namespace_kind() {
        Some(kind) => format!("Landlock + mount namespace ({kind:?})"),
        None => "Landlock only".to_string(),
    };
    println!(
        "/bin/true started {runs} times each through tools::exec::run; workspace-write in a git \
         repository, network off"
    );
    println!(
        "kernel: Landlock ABI {}, seccomp {}; layout: {layout}",
        support.landlock_abi,
        if support.seccomp { "yes" } else { "no" }
    );

    let unconfined = measure(&true_argv, &dir, runs, None).await?;
    report("unconfined", &unconfined);
    let confined = measure(&true_argv, &dir, runs, Some(&policy)).await?;
    report("sandboxed (prepare + spawn + wait)", &confined);
    let prepare = prepare_times(&policy, &dir, runs)?;
    report("  of which prepare, in the parent", &prepare);

    let child = Command::new(std::env::current_exe()?)
        .arg(CHILD_ARG)
        .env("BENCH_RUNS", runs.to_string())
        .env(PROTECTION_ENV, "landlock")
        .output()
        .context("running the Landlock-only measurement")?;
    let landlock_only = String::from_utf8_lossy(&child.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix(CHILD_LINE)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|v| Duration::from_secs_f64(v / 1e6));
    match landlock_only {
        Some(value) => println!(
            "{:<40} median {:>8.1} µs",
            "sandboxed, Landlock only",
            us(value)
        ),
        None => println!(
            "sandboxed, Landlock only: failed: {}",
            String::from_utf8_lossy(&child.stderr).trim()
        ),
    }

    let bwrap = if bwrap_available() {
        let argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "/bin/true"];
        let times = measure(&argv, &dir, runs, None).await?;
        report("bwrap --ro-bind / / --dev /dev", &times);
        Some(times)
    } else {
        println!("bwrap: not installed (apt-get install bubblewrap), skipped");
        None
    };

    println!();
    let base = median(&unconfined);
    compare("added by the sandbox", base, median(&confined));
    if let Some(value) = landlock_only {
        compare("added by the sandbox, Landlock only", base, value);
    }
    if let Some(times) = bwrap {
        compare("added by bwrap", base, median(&times));
    }
    Ok(())
}
