//! Which provider an agent talks to, resolved from its options and the
//! environment the way every OpenAI client does it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::chat::ChatClient;
use super::replay::{Recorder, ReplayClient};
use super::responses::ResponsesClient;
use super::retry::RetryPolicy;
use super::ModelClient;
use crate::error::{Error, Result};
use crate::protocol::{AgentOptions, WireApi};

pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
pub const OLLAMA_BASE_URL: &str = "http://localhost:11434/v1";
pub const LMSTUDIO_BASE_URL: &str = "http://localhost:1234/v1";
pub const DEFAULT_MODEL: &str = "gpt-5.4";

/// A fully resolved provider: where to send requests, in which wire format,
/// with which credentials and retry budgets.
#[derive(Clone, PartialEq)]
pub struct ProviderConfig {
    pub id: String,
    pub wire_api: WireApi,
    pub base_url: String,
    pub api_key: Option<String>,
    /// The variable the key should come from, named in the error when it is missing.
    pub api_key_env: Option<String>,
    /// Whether a request without a key is refused before it is sent.
    pub requires_key: bool,
    pub http_headers: BTreeMap<String, String>,
    pub query_params: BTreeMap<String, String>,
    pub retry: RetryPolicy,
    /// Replay provider: the cassette to serve.
    pub cassette: Option<PathBuf>,
    /// Record every exchange into this cassette.
    pub record: Option<PathBuf>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("wire_api", &self.wire_api)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api_key_env", &self.api_key_env)
            .field("retry", &self.retry)
            .field("cassette", &self.cassette)
            .field("record", &self.record)
            .finish()
    }
}

impl ProviderConfig {
    /// Resolve the provider of `options`, reading `OPENAI_BASE_URL`,
    /// `OPENAI_API_KEY` (and `CODEX_API_KEY`, which the Codex SDK sets) or the
    /// variable named by `api_key_env`.
    pub fn from_options(options: &AgentOptions) -> Result<Self> {
        Self::resolve(options, &|name| std::env::var(name).ok())
    }

    /// As [`from_options`](Self::from_options), reading variables through `env`.
    pub fn resolve(options: &AgentOptions, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let id = options.provider.clone().unwrap_or_else(|| "openai".into());
        let non_empty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let (default_url, default_wire, default_key_env, requires_key) = match id.as_str() {
            "openai" => (
                Some(non_empty("OPENAI_BASE_URL").unwrap_or_else(|| OPENAI_BASE_URL.into())),
                WireApi::Responses,
                Some("OPENAI_API_KEY"),
                true,
            ),
            "ollama" => (Some(OLLAMA_BASE_URL.into()), WireApi::Chat, None, false),
            "lmstudio" => (Some(LMSTUDIO_BASE_URL.into()), WireApi::Chat, None, false),
            "replay" => (Some(String::new()), WireApi::Responses, None, false),
            _ => (None, WireApi::Responses, None, false),
        };
        let base_url = options
            .base_url
            .clone()
            .or(default_url)
            .ok_or_else(|| {
                Error::Config(format!(
                    "provider `{id}` is not built in (openai, ollama, lmstudio, replay); give its `base_url`"
                ))
            })?;
        let api_key_env = options
            .api_key_env
            .clone()
            .or(default_key_env.map(String::from));
        let api_key = options.api_key.clone().or_else(|| {
            let from_named = api_key_env.as_deref().and_then(non_empty);
            if id == "openai" {
                from_named.or_else(|| non_empty("CODEX_API_KEY"))
            } else {
                from_named
            }
        });
        if id == "replay" && options.cassette.is_none() {
            return Err(Error::Config(
                "the replay provider needs a cassette file (`cassette` option, `--cassette FILE`)"
                    .into(),
            ));
        }
        let defaults = RetryPolicy::default();
        Ok(ProviderConfig {
            wire_api: options.wire_api.unwrap_or(default_wire),
            base_url: base_url.trim_end_matches('/').to_string(),
            requires_key: requires_key && options.api_key_env.is_none(),
            api_key,
            api_key_env,
            http_headers: options.http_headers.clone(),
            query_params: options.query_params.clone(),
            retry: RetryPolicy {
                request_max_retries: options
                    .request_max_retries
                    .unwrap_or(defaults.request_max_retries),
                stream_max_retries: options
                    .stream_max_retries
                    .unwrap_or(defaults.stream_max_retries),
                idle_timeout: options
                    .stream_idle_timeout_ms
                    .map(Duration::from_millis)
                    .unwrap_or(defaults.idle_timeout),
                base_delay: defaults.base_delay,
            },
            cassette: options.cassette.clone(),
            record: options.record.clone(),
            id,
        })
    }

    /// The error for a request that needs a key and has none.
    pub fn missing_key_error(&self) -> Error {
        Error::Unauthorized(format!(
            "no API key for provider `{}`: set {}",
            self.id,
            self.api_key_env.as_deref().unwrap_or("OPENAI_API_KEY")
        ))
    }
}

/// Build the client for a resolved provider, wrapped in a recorder when
/// `record` is set.
pub fn build_client(config: &ProviderConfig) -> Result<Arc<dyn ModelClient>> {
    let client: Arc<dyn ModelClient> = if config.id == "replay" {
        let path = config.cassette.as_ref().ok_or_else(|| {
            Error::Config("the replay provider needs a cassette file (`cassette` option)".into())
        })?;
        Arc::new(ReplayClient::open(path)?.with_retry_policy(config.retry))
    } else {
        match config.wire_api {
            WireApi::Responses => Arc::new(ResponsesClient::new(config.clone())?),
            WireApi::Chat => Arc::new(ChatClient::new(config.clone())?),
        }
    };
    Ok(match &config.record {
        Some(path) => Arc::new(Recorder::new(client, path.clone())),
        None => client,
    })
}
