//! How an MCP server is reached: `AgentOptions::mcp_servers` and
//! `[mcp_servers.NAME]` in `config.toml` share this type and Codex's keys.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Default bound on a server's start (spawn or connect, handshake, tool list).
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on one tool call.
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// One MCP server: a command run over stdio (`command`, `args`, `env`,
/// `env_vars`, `cwd`) or a streamable HTTP endpoint (`url`,
/// `bearer_token_env_var`, `http_headers`, `env_http_headers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct McpServerConfig {
    /// stdio: the program to run (looked up on `PATH`).
    pub command: Option<String>,
    /// stdio: its arguments.
    pub args: Vec<String>,
    /// stdio: variables to set. The server otherwise gets only a minimal
    /// environment (HOME, PATH, USER, LANG, TMPDIR, ...), never this process's
    /// other variables.
    pub env: BTreeMap<String, String>,
    /// stdio: names of variables of this process passed through as they are.
    pub env_vars: Vec<String>,
    /// stdio: working directory (relative to the agent's cwd). Default: the agent's cwd.
    pub cwd: Option<PathBuf>,
    /// streamable HTTP: the endpoint URL.
    pub url: Option<String>,
    /// streamable HTTP: the variable holding a bearer token sent as
    /// `Authorization: Bearer <token>`.
    pub bearer_token_env_var: Option<String>,
    /// streamable HTTP: headers sent with every request.
    pub http_headers: BTreeMap<String, String>,
    /// streamable HTTP: headers whose values come from variables (header → variable
    /// name); a variable that is not set leaves its header out.
    pub env_http_headers: BTreeMap<String, String>,
    /// Start this server. Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// A server that fails to start fails the run instead of being left out
    /// with a warning.
    pub required: bool,
    /// Seconds the server may take to start and list its tools. Default 10.
    pub startup_timeout_sec: Option<f64>,
    /// Seconds one tool call may take. Default 60.
    pub tool_timeout_sec: Option<f64>,
    /// Offer only these tools of the server (their MCP names). Default: all.
    pub enabled_tools: Option<Vec<String>>,
    /// Never offer these tools of the server (applied after `enabled_tools`).
    pub disabled_tools: Vec<String>,
}

fn default_true() -> bool {
    true
}

impl Default for McpServerConfig {
    fn default() -> Self {
        McpServerConfig {
            command: None,
            args: Vec::new(),
            env: BTreeMap::new(),
            env_vars: Vec::new(),
            cwd: None,
            url: None,
            bearer_token_env_var: None,
            http_headers: BTreeMap::new(),
            env_http_headers: BTreeMap::new(),
            enabled: true,
            required: false,
            startup_timeout_sec: None,
            tool_timeout_sec: None,
            enabled_tools: None,
            disabled_tools: Vec::new(),
        }
    }
}

impl McpServerConfig {
    pub fn startup_timeout(&self) -> Duration {
        self.startup_timeout_sec
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_STARTUP_TIMEOUT)
    }

    pub fn tool_timeout(&self) -> Duration {
        self.tool_timeout_sec
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_TOOL_TIMEOUT)
    }

    /// Whether the server offers `tool` after `enabled_tools`/`disabled_tools`.
    pub fn tool_allowed(&self, tool: &str) -> bool {
        self.enabled_tools
            .as_ref()
            .is_none_or(|e| e.iter().any(|t| t == tool))
            && !self.disabled_tools.iter().any(|t| t == tool)
    }

    /// Check the entry named `name`; the error names the server and the key.
    pub fn validate(&self, name: &str) -> Result<()> {
        let bad =
            |key: &str, why: &str| Err(Error::Config(format!("mcp_servers.{name}.{key}: {why}")));
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Error::Config(format!(
                "MCP server name `{name}` must be non-empty and use only letters, digits, `_` and `-`"
            )));
        }
        for (key, value) in [
            ("startup_timeout_sec", self.startup_timeout_sec),
            ("tool_timeout_sec", self.tool_timeout_sec),
        ] {
            if let Some(v) = value {
                if !(v.is_finite() && v > 0.0 && v < 1.0e9) {
                    return bad(key, &format!("{v} is not a positive number of seconds"));
                }
            }
        }
        match (&self.command, &self.url) {
            (Some(_), Some(_)) => bad(
                "url",
                "set either `command` (stdio) or `url` (streamable HTTP), not both",
            ),
            (None, None) => Err(Error::Config(format!(
                "mcp_servers.{name}: set `command` (a stdio server) or `url` (a streamable HTTP server)"
            ))),
            (Some(command), None) => {
                if command.trim().is_empty() {
                    return bad("command", "is empty");
                }
                for (key, set) in [
                    ("bearer_token_env_var", self.bearer_token_env_var.is_some()),
                    ("http_headers", !self.http_headers.is_empty()),
                    ("env_http_headers", !self.env_http_headers.is_empty()),
                ] {
                    if set {
                        return bad(key, "applies to streamable HTTP servers (`url`), not stdio ones");
                    }
                }
                Ok(())
            }
            (None, Some(url)) => {
                match reqwest::Url::parse(url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    Ok(u) => return bad("url", &format!("scheme `{}` is not http or https", u.scheme())),
                    Err(e) => return bad("url", &format!("`{url}` is not a URL: {e}")),
                }
                for (key, set) in [
                    ("args", !self.args.is_empty()),
                    ("env", !self.env.is_empty()),
                    ("env_vars", !self.env_vars.is_empty()),
                    ("cwd", self.cwd.is_some()),
                ] {
                    if set {
                        return bad(key, "applies to stdio servers (`command`), not HTTP ones");
                    }
                }
                for (header, value) in &self.http_headers {
                    if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err()
                        || reqwest::header::HeaderValue::from_str(value).is_err()
                    {
                        return bad("http_headers", &format!("`{header}` is not a valid HTTP header"));
                    }
                }
                for header in self.env_http_headers.keys() {
                    if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                        return bad(
                            "env_http_headers",
                            &format!("`{header}` is not a valid HTTP header name"),
                        );
                    }
                }
                Ok(())
            }
        }
    }
}
