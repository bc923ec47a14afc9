//! `make bench`: one turn with one shell call (`true`) against the mock model
//! server on loopback — two model requests, one subprocess — measured
//! in-process through `codeloop_core::Agent` and through the `codeloop exec`
//! binary (a new process per turn, as `@openai/codex-sdk` runs Codex).
//! Reports medians and the ratio; not part of the test run.

mod stats;

use stats::{median, pct};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use codeloop_core::protocol::{AgentOptions, SandboxMode};
use codeloop_core::Agent;
use codeloop_mock_server::{responses, MockServer};

const WARMUP: usize = 5;

fn script(server: &MockServer) {
    server.push(responses::function_call_turn(
        "resp_1",
        "call_1",
        "shell_command",
        r#"{"command":"true","login":false}"#,
    ));
    server.push(responses::text_turn("resp_2", "done"));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn in_process(server: &MockServer, dir: &Path, runs: usize) -> Result<Vec<Duration>> {
    let agent = Agent::new(AgentOptions {
        model: Some("bench".into()),
        base_url: Some(server.base_url()),
        api_key: Some("bench".into()),
        cwd: Some(dir.to_path_buf()),
        sandbox: Some(SandboxMode::DangerFullAccess),
        ephemeral: true,
        ..AgentOptions::default()
    })?;
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + WARMUP {
        script(server);
        let thread = agent.start_thread();
        let start = Instant::now();
        let result = thread.run("run true").await?;
        let elapsed = start.elapsed();
        if result.final_response != "done" {
            bail!("unexpected answer {:?}", result.final_response);
        }
        if i >= WARMUP {
            times.push(elapsed);
        }
    }
    Ok(times)
}

async fn through_binary(
    server: &MockServer,
    bin: &Path,
    dir: &Path,
    runs: usize,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + WARMUP {
        script(server);
        let mut cmd = Command::new(bin);
        cmd.env("OPENAI_BASE_URL", server.base_url())
            .env("OPENAI_API_KEY", "bench")
            .env("CODELOOP_HOME", dir.join(".home"))
            .args(["exec", "--json", "--ephemeral", "--skip-git-repo-check"])
            .args([
                "--sandbox",
                "danger-full-access",
                "--model",
                "bench",
                "--cd",
            ])
            .arg(dir)
            .arg("run true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
        let elapsed = start.elapsed();
        if !out.status.success() {
            bail!(
                "codeloop exec failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if i >= WARMUP {
            times.push(elapsed);
        }
    }
    Ok(times)
}

fn report(name: &str, times: &[Duration]) {
    println!(
        "{name:<28} n={:<4} median {:>7.2} ms   p90 {:>7.2} ms   min {:>7.2} ms",
        times.len(),
        ms(median(times)),
        ms(pct(times, 0.9)),
        ms(times.iter().copied().min().unwrap_or_default()),
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let bin = std::env::var_os("CODELOOP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.join("codeloop")))
                .unwrap_or_else(|| PathBuf::from("codeloop"))
        });
    if !bin.exists() {
        bail!("{} not found: build codeloop first", bin.display());
    }
    let server = MockServer::start().await?;
    let dir = tempfile::tempdir().context("temp dir")?;
    println!("one turn = 2 model requests over loopback SSE + 1 shell command (`bash -c true`)");
    let inproc = in_process(&server, dir.path(), runs).await?;
    report("in-process (Agent::run)", &inproc);
    let binary = through_binary(&server, &bin, dir.path(), runs).await?;
    report("codeloop exec --json", &binary);
    println!(
        "ratio exec / in-process (medians): {:.2}x",
        ms(median(&binary)) / ms(median(&inproc))
    );
    Ok(())
}
