//! `config.toml` and `--config key=value` overrides, in the Codex keys, turned
//! into [`AgentOptions`]. Lives in core so every front reads config the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::protocol::{
    AgentOptions, ApprovalPolicy, ReasoningEffort, ReasoningSummaryMode, SandboxMode, WireApi,
};

/// `$CODELOOP_HOME`, default `~/.codeloop`.
pub fn codeloop_home() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("CODELOOP_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".codeloop"))
}

/// The keys of `config.toml` codeloop understands (a subset of Codex's).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ConfigToml {
    pub model: Option<String>,
    pub model_provider: Option<String>,
    pub model_providers: BTreeMap<String, ProviderToml>,
    pub openai_base_url: Option<String>,
    pub approval_policy: Option<ApprovalPolicy>,
    pub sandbox_mode: Option<SandboxMode>,
    pub sandbox_workspace_write: Option<SandboxWorkspaceWrite>,
    pub model_reasoning_effort: Option<ReasoningEffort>,
    pub model_reasoning_summary: Option<ReasoningSummaryMode>,
    pub instructions: Option<String>,
    pub developer_instructions: Option<String>,
    /// Keys codeloop does not use; reported as warnings, not errors, so a
    /// Codex config file works unchanged.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ProviderToml {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub env_key: Option<String>,
    pub wire_api: Option<WireApi>,
    pub query_params: BTreeMap<String, String>,
    pub http_headers: BTreeMap<String, String>,
    pub request_max_retries: Option<u32>,
    pub stream_max_retries: Option<u32>,
    pub stream_idle_timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SandboxWorkspaceWrite {
    pub network_access: Option<bool>,
    pub writable_roots: Vec<PathBuf>,
}

/// Parse `key=value` as `--config` does: the value is a TOML literal, or a
/// plain string when it does not parse as one.
pub fn parse_override(text: &str) -> Result<(String, toml::Value)> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| Error::Config(format!("--config `{text}` is not of the form key=value")))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
        return Err(Error::Config(format!(
            "--config `{text}` has an empty key part"
        )));
    }
    let value = value.trim();
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    Ok((key.to_string(), parsed))
}

impl ConfigToml {
    /// Read `path` (missing is fine: an empty config), then apply `overrides`.
    pub fn load(path: Option<&Path>, overrides: &[(String, toml::Value)]) -> Result<Self> {
        let mut table = match path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| Error::Config(format!("{} is not valid TOML: {e}", p.display())))?
            }
            _ => toml::Table::new(),
        };
        for (key, value) in overrides {
            set_dotted(&mut table, key, value.clone())?;
        }
        ConfigToml::deserialize(toml::Value::Table(table))
            .map_err(|e| Error::Config(format!("bad configuration value: {e}")))
    }

    /// Apply this config to `options` (fields already set there win), and
    /// return warnings for keys that were ignored.
    pub fn apply(&self, options: &mut AgentOptions) -> Result<Vec<String>> {
        let warnings = self
            .unknown
            .keys()
            .map(|k| format!("config key `{k}` is not used by codeloop; ignored"))
            .collect();
        if options.model.is_none() {
            options.model = self.model.clone();
        }
        let provider_id = options
            .provider
            .clone()
            .or_else(|| self.model_provider.clone());
        if let Some(id) = &provider_id {
            if let Some(p) = self.model_providers.get(id) {
                options.base_url = options.base_url.take().or_else(|| p.base_url.clone());
                options.wire_api = options.wire_api.or(p.wire_api);
                options.api_key_env = options.api_key_env.take().or_else(|| p.env_key.clone());
                for (k, v) in &p.query_params {
                    options.query_params.entry(k.clone()).or_insert(v.clone());
                }
                for (k, v) in &p.http_headers {
                    options.http_headers.entry(k.clone()).or_insert(v.clone());
                }
                options.request_max_retries = options.request_max_retries.or(p.request_max_retries);
                options.stream_max_retries = options.stream_max_retries.or(p.stream_max_retries);
                options.stream_idle_timeout_ms =
                    options.stream_idle_timeout_ms.or(p.stream_idle_timeout_ms);
                if options.base_url.is_none() && !is_builtin(id) {
                    return Err(Error::Config(format!(
                        "model_providers.{id} has no base_url"
                    )));
                }
            } else if !is_builtin(id) {
                return Err(Error::Config(format!(
                    "model_provider `{id}` is neither built in (openai, ollama, lmstudio, replay) nor defined under [model_providers.{id}]"
                )));
            }
        }
        options.provider = provider_id;
        if options.provider.as_deref().unwrap_or("openai") == "openai" && options.base_url.is_none()
        {
            options.base_url = self.openai_base_url.clone();
        }
        if let Some(p) = self.approval_policy {
            options.approval_policy = p;
        }
        if let Some(m) = self.sandbox_mode {
            options.sandbox = m;
        }
        if let Some(sww) = &self.sandbox_workspace_write {
            if let Some(n) = sww.network_access {
                options.network_access = n;
            }
            options
                .writable_roots
                .extend(sww.writable_roots.iter().cloned());
        }
        options.reasoning_effort = options.reasoning_effort.or(self.model_reasoning_effort);
        options.reasoning_summary = options.reasoning_summary.or(self.model_reasoning_summary);
        if options.instructions.is_none() {
            options.instructions = self.instructions.clone();
        }
        if options.developer_instructions.is_none() {
            options.developer_instructions = self.developer_instructions.clone();
        }
        Ok(warnings)
    }
}

fn is_builtin(id: &str) -> bool {
    matches!(id, "openai" | "ollama" | "lmstudio" | "replay")
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    let mut current = table;
    for (i, part) in parts.iter().enumerate() {
        let part = part.trim_matches('"');
        if i + 1 == parts.len() {
            current.insert(part.to_string(), value);
            return Ok(());
        }
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(Error::Config(format!(
                    "--config {key}: `{}` is not a table",
                    parts[..=i].join(".")
                )))
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_as_toml_or_string() -> anyhow::Result<()> {
        let (k, v) = parse_override("sandbox_workspace_write.network_access=true")?;
        assert_eq!(k, "sandbox_workspace_write.network_access");
        assert_eq!(v, toml::Value::Boolean(true));
        let (_, v) = parse_override("openai_base_url=\"http://x/v1\"")?;
        assert_eq!(v, toml::Value::String("http://x/v1".into()));
        let (_, v) = parse_override("model=gpt-5.4")?;
        assert_eq!(v, toml::Value::String("gpt-5.4".into()));
        assert!(parse_override("novalue").is_err());
        Ok(())
    }

    #[test]
    fn custom_provider_from_overrides() -> anyhow::Result<()> {
        let overrides = [
            "model_provider=\"mock\"",
            "model_providers.mock.name=\"Mock\"",
            "model_providers.mock.base_url=\"http://127.0.0.1:9/v1\"",
            "model_providers.mock.wire_api=\"chat\"",
            "model_providers.mock.env_key=\"MOCK_KEY\"",
            "approval_policy=\"never\"",
            "model_reasoning_effort=\"high\"",
            "web_search=\"disabled\"",
        ]
        .iter()
        .map(|o| parse_override(o))
        .collect::<Result<Vec<_>>>()?;
        let cfg = ConfigToml::load(None, &overrides)?;
        let mut opts = AgentOptions::default();
        let warnings = cfg.apply(&mut opts)?;
        assert_eq!(opts.provider.as_deref(), Some("mock"));
        assert_eq!(opts.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(opts.wire_api, Some(WireApi::Chat));
        assert_eq!(opts.api_key_env.as_deref(), Some("MOCK_KEY"));
        assert_eq!(opts.reasoning_effort, Some(ReasoningEffort::High));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        Ok(())
    }

    #[test]
    fn bad_values_name_the_key() -> anyhow::Result<()> {
        let err = ConfigToml::load(None, &[parse_override("approval_policy=\"sometimes\"")?])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("sometimes"), "{err}");
        let cfg = ConfigToml::load(None, &[parse_override("model_provider=\"nowhere\"")?])?;
        assert!(cfg.apply(&mut AgentOptions::default()).is_err());
        Ok(())
    }
}
