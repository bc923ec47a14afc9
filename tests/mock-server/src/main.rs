//! `codeloop-mock-server [--port N] [--script FILE.json] [--ignore-stdin] [--verbose]`
//!
//! Prints one line, the base URL `http://127.0.0.1:PORT/v1`, once listening,
//! then serves until killed or until stdin closes (so a test harness that
//! dies takes the server with it; pass `--ignore-stdin` when stdin is
//! /dev/null).

use std::io::{Read, Write};

use anyhow::{bail, Context, Result};
use codeloop_mock_server::{parse_script, MockServer};

const USAGE: &str =
    "usage: codeloop-mock-server [--port N] [--script FILE.json] [--ignore-stdin] [--verbose]";

struct Args {
    port: u16,
    script: Option<String>,
    ignore_stdin: bool,
    verbose: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        port: 0,
        script: None,
        ignore_stdin: false,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                args.port = v.parse().with_context(|| format!("bad port: {v}"))?;
            }
            "--script" => args.script = Some(value("--script")?),
            "--ignore-stdin" => args.ignore_stdin = true,
            "--verbose" => args.verbose = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument: {other}\n{USAGE}"),
        }
    }
    Ok(args)
}

async fn run() -> Result<()> {
    let args = parse_args()?;
    let server = MockServer::bind(("127.0.0.1", args.port), args.verbose).await?;
    if let Some(path) = &args.script {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let replies = parse_script(&text).with_context(|| format!("parsing script {path}"))?;
        server.push_all(replies);
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", server.base_url())?;
    stdout.flush()?;
    drop(stdout);

    if !args.ignore_stdin {
        // A plain thread: blocking reads of stdin need no runtime support.
        std::thread::spawn(|| {
            let mut sink = [0u8; 1024];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            std::process::exit(0);
        });
    }
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let code = match run().await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("codeloop-mock-server: {e:#}");
            2
        }
    };
    std::process::exit(code);
}
