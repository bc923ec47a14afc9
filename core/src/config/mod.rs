//! `config.toml` and `--config key=value` overrides, in the Codex keys, turned
//! into [`AgentOptions`]. Lives in core so every front reads config the same way.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, IntoDeserializer};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::provider::{
    builtin_provider, builtin_provider_ids, requested_provider, DEFAULT_PROVIDER,
};
use crate::protocol::{
    AgentOptions, ApprovalPolicy, EnvPolicy, HooksConfig, ReasoningEffort, ReasoningSummaryMode,
    SandboxMode, WireApi,
};

pub mod agents_md;
pub mod hooks;
mod layers;
pub mod skills;
mod textfile;

pub(crate) use layers::project_context;
pub use layers::{find_project_root, resolve_options, Resolved};

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
    pub shell_environment_policy: Option<EnvPolicy>,
    /// Byte limit of the project's AGENTS.md files together (Codex's key).
    pub project_doc_max_bytes: Option<usize>,
    /// `[projects."<abs path>"] trust_level = "trusted"`: read only from the
    /// user's config.
    pub projects: BTreeMap<String, ProjectToml>,
    /// `[hooks]`: event → matcher groups, as in `hooks.json`.
    pub hooks: Option<HooksConfig>,
    /// `[mcp_servers.NAME]`: MCP servers (unknown keys in an entry are errors).
    pub mcp_servers: BTreeMap<String, crate::mcp::McpServerConfig>,
    /// Keys codeloop does not use, by dotted path (`profiles`,
    /// `model_providers.x.requires_openai_auth`); reported as warnings, not
    /// errors, so a Codex config file works unchanged. Filled by
    /// [`ConfigToml::load`]: a `flatten`ed catch-all would make serde buffer
    /// every value and lose the key path of a bad one.
    #[serde(skip)]
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
pub struct ProjectToml {
    /// `trusted` or `untrusted`.
    pub trust_level: Option<String>,
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
    /// A bad value is reported with its key path and where it came from
    /// (the file or the `--config` override).
    pub fn load(path: Option<&Path>, overrides: &[(String, toml::Value)]) -> Result<Self> {
        let mut file = None;
        let mut text = String::new();
        let table = match path {
            Some(p) if p.exists() => {
                text = std::fs::read_to_string(p)
                    .map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
                file = Some(p);
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| Error::Config(format!("{} is not valid TOML: {e}", p.display())))?
            }
            _ => toml::Table::new(),
        };
        Self::from_table(table, file, &text, overrides)
    }

    /// Deserialize `table` (read from `file`, whose text is `text`, if any)
    /// with `overrides` set over it.
    pub(crate) fn from_table(
        mut table: toml::Table,
        file: Option<&Path>,
        text: &str,
        overrides: &[(String, toml::Value)],
    ) -> Result<Self> {
        for (key, value) in overrides {
            set_dotted(&mut table, key, value.clone())?;
        }
        let ignored = RefCell::new(Vec::new());
        let located = Located {
            value: toml::Value::Table(table),
            path: KeyPath::default(),
            ignored: &ignored,
        };
        let mut config = ConfigToml::deserialize(located)
            .map_err(|e| Error::Config(e.describe(file, text, overrides)))?;
        config.unknown = ignored
            .into_inner()
            .into_iter()
            .map(|(path, value)| (path.to_string(), value))
            .collect();
        Ok(config)
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
        // A cassette given with no provider means replay, whatever provider
        // the config file names as its default.
        let provider_id = requested_provider(options)
            .map(String::from)
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
                    "model_provider `{id}` is neither built in ({}) nor defined under [model_providers.{id}]",
                    builtin_provider_ids()
                )));
            }
        }
        options.provider = provider_id;
        if options.provider.as_deref().unwrap_or(DEFAULT_PROVIDER) == DEFAULT_PROVIDER
            && options.base_url.is_none()
        {
            options.base_url = self.openai_base_url.clone();
        }
        options.approval_policy = options.approval_policy.or(self.approval_policy);
        options.sandbox = options.sandbox.or(self.sandbox_mode);
        if let Some(sww) = &self.sandbox_workspace_write {
            options.network_access = options.network_access.or(sww.network_access);
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
        // Options win per server name.
        for (name, server) in &self.mcp_servers {
            options
                .mcp_servers
                .entry(name.clone())
                .or_insert_with(|| server.clone());
        }
        if options.shell_environment_policy.is_none() {
            options.shell_environment_policy = self.shell_environment_policy.clone();
        }
        options.project_doc_max_bytes =
            options.project_doc_max_bytes.or(self.project_doc_max_bytes);
        Ok(warnings)
    }
}

fn is_builtin(id: &str) -> bool {
    builtin_provider(id).is_some()
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

// --- Deserializing with key paths ---
//
// `toml`'s own deserializers keep the key of a bad value only in the text of
// their error (and not at all under `flatten`), so the merged table is walked
// by this small deserializer instead: every value knows its path, and every
// value serde skips as an unknown field is recorded for the warnings.

/// Where a value sits in the configuration: `model_providers.mock.base_url`,
/// `sandbox_workspace_write.writable_roots[0]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    fn child(&self, segment: Segment) -> KeyPath {
        let mut path = self.0.clone();
        path.push(segment);
        KeyPath(path)
    }

    /// The table keys leading to this value, up to the first array index.
    fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map_while(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A bad value and, once known, its path.
#[derive(Debug)]
struct ValueError {
    path: Option<KeyPath>,
    message: String,
}

impl ValueError {
    /// The innermost value that failed names the path; outer ones keep it.
    fn at(mut self, path: &KeyPath) -> Self {
        if self.path.is_none() {
            self.path = Some(path.clone());
        }
        self
    }

    /// The message for the user: the key, where its value came from, what
    /// is wrong with it.
    fn describe(
        &self,
        file: Option<&Path>,
        text: &str,
        overrides: &[(String, toml::Value)],
    ) -> String {
        let path = self.path.clone().unwrap_or_default();
        let keys: Vec<&str> = path.keys().collect();
        // The override that set this value, or set something inside it
        // (a struct missing a field names the struct).
        let set_by = overrides.iter().rev().find(|(key, _)| {
            let parts: Vec<&str> = key_parts(key).collect();
            let n = parts.len().min(keys.len());
            n > 0 && parts[..n] == keys[..n]
        });
        let origin = match (set_by, file) {
            (Some((key, value)), _) => format!(" (from --config {key}={value})"),
            (None, Some(file)) => match line_of(text, &path) {
                Some(line) => format!(" in {}:{line}", file.display()),
                None => format!(" in {}", file.display()),
            },
            (None, None) => String::new(),
        };
        if path.0.is_empty() {
            format!("bad configuration{origin}: {}", self.message)
        } else {
            format!("`{path}`{origin}: {}", self.message)
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "`{path}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ValueError {}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        ValueError {
            path: None,
            message: message.to_string(),
        }
    }
}

/// The line (1-based) where the value at `path` is written in `text`: its
/// key, or its element for an array index; the deepest part found.
fn line_of(text: &str, path: &KeyPath) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    let mut offset = None;
    for segment in &path.0 {
        let value = match (segment, array) {
            (Segment::Key(key), None) => {
                let (k, v) = table.iter().find(|(k, _)| k.get_ref() == key)?;
                offset = Some(k.span().start);
                v
            }
            (Segment::Index(i), Some(items)) => {
                let v = items.get(*i)?;
                offset = Some(v.span().start);
                v
            }
            _ => break,
        };
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            DeValue::Array(items) => array = Some(items),
            _ => {}
        }
    }
    let offset = offset?;
    Some(text.get(..offset)?.matches('\n').count() + 1)
}

/// The parts of a dotted `--config` key, as [`set_dotted`] splits them.
fn key_parts(key: &str) -> impl Iterator<Item = &str> {
    key.split('.').map(|p| p.trim().trim_matches('"'))
}

/// A TOML value at a known path.
struct Located<'a> {
    value: toml::Value,
    path: KeyPath,
    /// Values serde skipped: keys no field of the target takes.
    ignored: &'a RefCell<Vec<(KeyPath, toml::Value)>>,
}

impl<'de> de::Deserializer<'de> for Located<'_> {
    type Error = ValueError;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        let Located {
            value,
            path,
            ignored,
        } = self;
        let result = match value {
            toml::Value::String(s) => visitor.visit_string(s),
            toml::Value::Integer(i) => visitor.visit_i64(i),
            toml::Value::Float(x) => visitor.visit_f64(x),
            toml::Value::Boolean(b) => visitor.visit_bool(b),
            toml::Value::Datetime(d) => visitor.visit_string(d.to_string()),
            toml::Value::Array(items) => visitor.visit_seq(Items {
                items: items.into_iter().enumerate(),
                path: &path,
                ignored,
            }),
            toml::Value::Table(table) => visitor.visit_map(Entries {
                entries: table.into_iter().collect::<Vec<_>>().into_iter(),
                next_value: None,
                path: &path,
                ignored,
            }),
        };
        result.map_err(|e| e.at(&path))
    }

    // TOML has no null: a value that is present is `Some`.
    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_some(self)
    }

    // The config's enums are unit variants written as strings.
    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.value {
            toml::Value::String(s) => visitor
                .visit_enum(s.into_deserializer())
                .map_err(|e: ValueError| e.at(&self.path)),
            other => Err(ValueError {
                path: Some(self.path),
                message: format!(
                    "invalid type: {}, expected one of {}",
                    other.type_str(),
                    variants.join(", ")
                ),
            }),
        }
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.ignored.borrow_mut().push((self.path, self.value));
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct Items<'a, 'p> {
    items: std::iter::Enumerate<std::vec::IntoIter<toml::Value>>,
    path: &'p KeyPath,
    ignored: &'a RefCell<Vec<(KeyPath, toml::Value)>>,
}

impl<'de> de::SeqAccess<'de> for Items<'_, '_> {
    type Error = ValueError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        seed.deserialize(Located {
            value,
            path: self.path.child(Segment::Index(index)),
            ignored: self.ignored,
        })
        .map(Some)
    }
}

struct Entries<'a, 'p> {
    entries: std::vec::IntoIter<(String, toml::Value)>,
    next_value: Option<(String, toml::Value)>,
    path: &'p KeyPath,
    ignored: &'a RefCell<Vec<(KeyPath, toml::Value)>>,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = ValueError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let parsed = seed.deserialize(key.clone().into_deserializer());
        self.next_value = Some((key, value));
        parsed.map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let (key, value) = self
            .next_value
            .take()
            .ok_or_else(|| de::Error::custom("a value was read before its key"))?;
        seed.deserialize(Located {
            value,
            path: self.path.child(Segment::Key(key)),
            ignored: self.ignored,
        })
    }
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

    fn load_error(file: Option<&Path>, overrides: &[&str]) -> anyhow::Result<String> {
        let overrides = overrides
            .iter()
            .map(|o| parse_override(o))
            .collect::<Result<Vec<_>>>()?;
        match ConfigToml::load(file, &overrides) {
            Ok(config) => anyhow::bail!("loaded: {config:?}"),
            Err(Error::Config(message)) => Ok(message),
            Err(other) => anyhow::bail!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn a_bad_override_names_its_key_path_and_the_override() -> anyhow::Result<()> {
        let err = load_error(
            None,
            &[
                "model_providers.mock.base_url=\"http://x/v1\"",
                "model_providers.mock.stream_max_retries=\"x\"",
            ],
        )?;
        assert_eq!(
            err,
            "`model_providers.mock.stream_max_retries` (from --config \
             model_providers.mock.stream_max_retries=\"x\"): invalid type: string \"x\", expected u32"
        );

        let err = load_error(None, &["approval_policy=\"sometimes\""])?;
        assert!(
            err.starts_with("`approval_policy` (from --config approval_policy=\"sometimes\"): "),
            "{err}"
        );
        assert!(
            err.contains("unknown variant `sometimes`") && err.contains("on-request"),
            "{err}"
        );

        let err = load_error(None, &["sandbox_mode=3"])?;
        assert!(
            err.starts_with("`sandbox_mode` (from --config sandbox_mode=3): invalid type: integer"),
            "{err}"
        );
        assert!(err.contains("workspace-write"), "{err}");
        Ok(())
    }

    #[test]
    fn a_bad_file_value_names_its_key_path_and_the_file() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "model = \"m\"\n\n[model_providers.mock]\nbase_url = \"http://x/v1\"\nstream_max_retries = -1\n\n\
             [sandbox_workspace_write]\nwritable_roots = [\"/a\", 3]\n",
        )?;
        // An override elsewhere in the same table does not take the blame.
        let err = load_error(Some(&file), &["model_providers.mock.env_key=\"K\""])?;
        assert!(
            err.starts_with(&format!(
                "`model_providers.mock.stream_max_retries` in {}:5: ",
                file.display()
            )),
            "{err}"
        );
        assert!(err.contains("-1") && err.contains("u32"), "{err}");

        // Array elements are named by index.
        let err = load_error(Some(&file), &["model_providers.mock.stream_max_retries=2"])?;
        assert!(
            err.starts_with(&format!(
                "`sandbox_workspace_write.writable_roots[1]` in {}:8: invalid type: integer `3`",
                file.display()
            )),
            "{err}"
        );

        // Fixed by overrides, the file loads.
        let fixed = [
            "model_providers.mock.stream_max_retries=2",
            "sandbox_workspace_write.writable_roots=[\"/a\"]",
        ]
        .iter()
        .map(|o| parse_override(o))
        .collect::<Result<Vec<_>>>()?;
        let config = ConfigToml::load(Some(&file), &fixed)?;
        assert_eq!(config.model.as_deref(), Some("m"));
        assert_eq!(config.model_providers["mock"].stream_max_retries, Some(2));
        assert_eq!(
            config.sandbox_workspace_write.map(|s| s.writable_roots),
            Some(vec![PathBuf::from("/a")])
        );
        Ok(())
    }

    #[test]
    fn unknown_keys_are_warned_about_by_path() -> anyhow::Result<()> {
        let overrides = [
            "model_provider=\"mock\"",
            "model_providers.mock.base_url=\"http://x/v1\"",
            "model_providers.mock.requires_openai_auth=true",
            "profiles.fast.model=\"m\"",
            "web_search=\"live\"",
        ]
        .iter()
        .map(|o| parse_override(o))
        .collect::<Result<Vec<_>>>()?;
        let config = ConfigToml::load(None, &overrides)?;
        assert_eq!(
            config.unknown.keys().collect::<Vec<_>>(),
            vec![
                "model_providers.mock.requires_openai_auth",
                "profiles",
                "web_search"
            ]
        );
        assert_eq!(
            config.model_providers["mock"].base_url.as_deref(),
            Some("http://x/v1")
        );
        let warnings = config.apply(&mut AgentOptions::default())?;
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("`model_providers.mock.requires_openai_auth`"),
            "{warnings:?}"
        );
        Ok(())
    }

    #[test]
    fn a_cassette_means_replay_over_the_configured_provider() -> anyhow::Result<()> {
        let overrides = [
            "model_provider=\"mock\"",
            "model_providers.mock.base_url=\"http://x/v1\"",
        ]
        .iter()
        .map(|o| parse_override(o))
        .collect::<Result<Vec<_>>>()?;
        let config = ConfigToml::load(None, &overrides)?;

        let mut replaying = AgentOptions {
            cassette: Some(PathBuf::from("run.json")),
            ..AgentOptions::default()
        };
        config.apply(&mut replaying)?;
        assert_eq!(replaying.provider.as_deref(), Some("replay"));
        assert_eq!(replaying.base_url, None, "mock's base_url must not leak");

        let mut live = AgentOptions::default();
        config.apply(&mut live)?;
        assert_eq!(live.provider.as_deref(), Some("mock"));
        assert_eq!(live.base_url.as_deref(), Some("http://x/v1"));
        Ok(())
    }

    #[test]
    fn explicit_network_access_and_env_policy_beat_the_config() -> anyhow::Result<()> {
        let overrides = [
            "sandbox_workspace_write.network_access=true",
            "shell_environment_policy.inherit=\"none\"",
        ]
        .iter()
        .map(|o| parse_override(o))
        .collect::<Result<Vec<_>>>()?;
        let config = ConfigToml::load(None, &overrides)?;

        // Unset: the config's values.
        let mut unset = AgentOptions::default();
        config.apply(&mut unset)?;
        assert_eq!(unset.network_access, Some(true));
        assert!(unset
            .shell_environment_policy
            .is_some_and(|p| p != EnvPolicy::default()));

        // Explicit, even when equal to the default: the explicit values.
        let mut explicit = AgentOptions {
            network_access: Some(false),
            shell_environment_policy: Some(EnvPolicy::default()),
            ..AgentOptions::default()
        };
        config.apply(&mut explicit)?;
        assert_eq!(explicit.network_access, Some(false));
        assert_eq!(
            explicit.shell_environment_policy,
            Some(EnvPolicy::default())
        );

        // Neither set: resolved to off and the default policy.
        let mut neither = AgentOptions::default();
        ConfigToml::load(None, &[])?.apply(&mut neither)?;
        assert_eq!(neither.network_access, None);
        assert_eq!(neither.shell_environment_policy, None);
        Ok(())
    }

    #[test]
    fn unknown_providers_list_the_built_in_ones() -> anyhow::Result<()> {
        let config = ConfigToml::load(None, &[parse_override("model_provider=\"nowhere\"")?])?;
        let err = config
            .apply(&mut AgentOptions::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains(&format!("neither built in ({})", builtin_provider_ids())),
            "{err}"
        );
        for builtin in crate::model::provider::BUILTIN_PROVIDERS {
            assert!(err.contains(builtin.id), "{err}");
            let config = ConfigToml::load(
                None,
                &[parse_override(&format!(
                    "model_provider=\"{}\"",
                    builtin.id
                ))?],
            )?;
            let mut options = AgentOptions::default();
            config.apply(&mut options)?;
            assert_eq!(options.provider.as_deref(), Some(builtin.id));
        }
        Ok(())
    }
}
