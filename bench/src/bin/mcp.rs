//! `make bench-mcp`: what an MCP server costs an agent. Against the mock
//! model server on loopback and the real `@modelcontextprotocol/server-everything`
//! over stdio (from tests/mcp, `make mcp-deps`):
//! - start: a new agent's first turn (text only) with the server configured,
//!   vs without — the difference is starting the server and listing its tools;
//! - call: one turn whose model calls the server's `echo` tool, vs one turn
//!   whose model runs `true` through the shell tool, on a warm agent.

#[path = "../stats.rs"]
mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use codeloop_core::mcp::McpServerConfig;
use codeloop_core::protocol::{AgentOptions, SandboxMode};
use codeloop_core::Agent;
use codeloop_mock_server::{responses, MockServer};
use stats::{median, pct};

const WARMUP: usize = 3;

fn everything() -> Result<McpServerConfig> {
    let entry = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if !entry.is_file() {
        bail!("{} is missing: run `make mcp-deps`", entry.display());
    }
    Ok(McpServerConfig {
        command: Some("node".into()),
        args: vec![entry.display().to_string(), "stdio".into()],
        ..McpServerConfig::default()
    })
}

fn options(server: &MockServer, dir: &Path, mcp: Option<McpServerConfig>) -> AgentOptions {
    AgentOptions {
        model: Some("bench".into()),
        base_url: Some(server.base_url()),
        api_key: Some("bench".into()),
        cwd: Some(dir.to_path_buf()),
        sandbox: Some(SandboxMode::DangerFullAccess),
        ephemeral: true,
        codeloop_home: Some(dir.join(".home")),
        mcp_servers: mcp
            .map(|c| BTreeMap::from([("everything".to_string(), c)]))
            .unwrap_or_default(),
        ..AgentOptions::default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(name: &str, times: &[Duration]) {
    println!(
        "{name:<40} n={:<4} median {:>8.2} ms   p90 {:>8.2} ms",
        times.len(),
        ms(median(times)),
        ms(pct(times, 0.9)),
    );
}

/// A new agent per run; its first turn is a plain text answer.
async fn first_turn(
    server: &MockServer,
    dir: &Path,
    mcp: Option<McpServerConfig>,
    runs: usize,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + WARMUP {
        server.push(responses::text_turn("resp_1", "done"));
        let start = Instant::now();
        let agent = Agent::new(options(server, dir, mcp.clone()))?;
        let result = agent.start_thread().run("hi").await?;
        let elapsed = start.elapsed();
        if result.final_response != "done" {
            bail!("unexpected answer {:?}", result.final_response);
        }
        drop(agent);
        if i >= WARMUP {
            times.push(elapsed);
        }
    }
    Ok(times)
}

/// One warm agent; each run is a turn with one tool call.
async fn tool_turns(
    server: &MockServer,
    agent: &Agent,
    tool: &str,
    args: &str,
    runs: usize,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + WARMUP {
        server.push(responses::function_call_turn(
            "resp_1", "call_1", tool, args,
        ));
        server.push(responses::text_turn("resp_2", "done"));
        let start = Instant::now();
        let result = agent.start_thread().run("go").await?;
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

#[tokio::main]
async fn main() -> Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let starts = (runs / 5).max(5);
    let server = MockServer::start().await?;
    let dir = tempfile::tempdir().context("temp dir")?;
    let dir: PathBuf = dir.path().to_path_buf();
    let mcp = everything()?;

    println!("server-everything over stdio (node); mock model on loopback");
    let bare = first_turn(&server, &dir, None, starts).await?;
    report("first turn, no MCP server", &bare);
    let with = first_turn(&server, &dir, Some(mcp.clone()), starts).await?;
    report("first turn, server-everything", &with);
    println!(
        "  server start + tools/list ≈ {:.1} ms (difference of medians)",
        ms(median(&with)) - ms(median(&bare))
    );

    let agent = Agent::new(options(&server, &dir, Some(mcp)))?;
    let echo = tool_turns(
        &server,
        &agent,
        "mcp__everything__echo",
        r#"{"message":"hi"}"#,
        runs,
    )
    .await?;
    report("turn with one MCP call (echo)", &echo);
    let shell = tool_turns(
        &server,
        &agent,
        "shell_command",
        r#"{"command":"true","login":false}"#,
        runs,
    )
    .await?;
    report("turn with one shell call (true)", &shell);
    println!(
        "  ratio MCP / shell (medians): {:.2}x",
        ms(median(&echo)) / ms(median(&shell))
    );
    Ok(())
}
