//! Which provider an agent talks to, resolved from its options and the
//! environment the way every OpenAI client does it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

/// The provider used when none is named.
pub const DEFAULT_PROVIDER: &str = "openai";
/// The provider that serves a recorded cassette instead of a server.
pub const REPLAY_PROVIDER: &str = "replay";

/// A provider that needs no `[model_providers.<id>]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinProvider {
    pub id: &'static str,
    pub base_url: &'static str,
    pub wire_api: WireApi,
    /// The variable the key is read from unless `api_key_env` names another.
    pub api_key_env: Option<&'static str>,
    /// Whether a request without a key is refused before it is sent.
    pub requires_key: bool,
}

/// Every built-in provider: the one list that resolution, config checks and
/// error messages read.
pub const BUILTIN_PROVIDERS: &[BuiltinProvider] = &[
    BuiltinProvider {
        id: DEFAULT_PROVIDER,
        base_url: OPENAI_BASE_URL,
        wire_api: WireApi::Responses,
        api_key_env: Some("OPENAI_API_KEY"),
        requires_key: true,
    },
    BuiltinProvider {
        id: "ollama",
        base_url: OLLAMA_BASE_URL,
        wire_api: WireApi::Chat,
        api_key_env: None,
        requires_key: false,
    },
    BuiltinProvider {
        id: "lmstudio",
        base_url: LMSTUDIO_BASE_URL,
        wire_api: WireApi::Chat,
        api_key_env: None,
        requires_key: false,
    },
    // Serves a cassette: no server, so no URL and no key.
    BuiltinProvider {
        id: REPLAY_PROVIDER,
        base_url: "",
        wire_api: WireApi::Responses,
        api_key_env: None,
        requires_key: false,
    },
];

/// The built-in provider `id`, if it is one.
pub fn builtin_provider(id: &str) -> Option<&'static BuiltinProvider> {
    BUILTIN_PROVIDERS.iter().find(|p| p.id == id)
}

/// The built-in ids as error messages list them: `openai, ollama, …`.
pub fn builtin_provider_ids() -> String {
    BUILTIN_PROVIDERS
        .iter()
        .map(|p| p.id)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The provider `options` ask for before any config file is consulted: the
/// named one, else `replay` when a cassette is given (a cassette is only
/// ever served by the replay provider), else `None`.
pub fn requested_provider(options: &AgentOptions) -> Option<&str> {
    match (&options.provider, &options.cassette) {
        (Some(id), _) => Some(id.as_str()),
        (None, Some(_)) => Some(REPLAY_PROVIDER),
        (None, None) => None,
    }
}

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
        let id = requested_provider(options)
            .unwrap_or(DEFAULT_PROVIDER)
            .to_string();
        let non_empty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let builtin = builtin_provider(&id);
        let default_url = builtin.map(|b| {
            if b.id == DEFAULT_PROVIDER {
                // Every OpenAI client reads this variable; so does Codex.
                non_empty("OPENAI_BASE_URL").unwrap_or_else(|| b.base_url.into())
            } else {
                b.base_url.to_string()
            }
        });
        let base_url = options.base_url.clone().or(default_url).ok_or_else(|| {
            Error::Config(format!(
                "provider `{id}` is not built in ({}); give its `base_url`",
                builtin_provider_ids()
            ))
        })?;
        let api_key_env = options
            .api_key_env
            .clone()
            .or(builtin.and_then(|b| b.api_key_env).map(String::from));
        let api_key = options.api_key.clone().or_else(|| {
            let from_named = api_key_env.as_deref().and_then(non_empty);
            if id == DEFAULT_PROVIDER {
                // The Codex SDK passes its `apiKey` in this variable.
                from_named.or_else(|| non_empty("CODEX_API_KEY"))
            } else {
                from_named
            }
        });
        let requires_key = builtin.is_some_and(|b| b.requires_key);
        let defaults = RetryPolicy::default();
        let config = ProviderConfig {
            wire_api: options
                .wire_api
                .unwrap_or(builtin.map_or(WireApi::Responses, |b| b.wire_api)),
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
        };
        // Checked here too so a bad combination fails when options are
        // resolved, before anything else of the agent is set up.
        config.replay_cassette()?;
        Ok(config)
    }

    /// The cassette to serve when this is the replay provider, `None` for a
    /// provider that talks to a server. The one check that the replay
    /// provider has a cassette and that only it has one.
    pub fn replay_cassette(&self) -> Result<Option<&Path>> {
        match (self.id == REPLAY_PROVIDER, &self.cassette) {
            (true, Some(path)) => Ok(Some(path)),
            (true, None) => Err(Error::Config(format!(
                "the {REPLAY_PROVIDER} provider needs a cassette file (`cassette` option, `--cassette FILE`)"
            ))),
            (false, Some(path)) => Err(Error::Config(format!(
                "provider `{}` cannot serve cassette {}: cassettes are served by the `{REPLAY_PROVIDER}` provider (leave the provider unset or set it to `{REPLAY_PROVIDER}`; to record a cassette, use `record`)",
                self.id,
                path.display()
            ))),
            (false, None) => Ok(None),
        }
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
    let client: Arc<dyn ModelClient> = match config.replay_cassette()? {
        Some(path) => Arc::new(ReplayClient::open(path)?.with_retry_policy(config.retry)),
        None => match config.wire_api {
            WireApi::Responses => Arc::new(ResponsesClient::new(config.clone())?),
            WireApi::Chat => Arc::new(ChatClient::new(config.clone())?),
        },
    };
    Ok(match &config.record {
        Some(path) => Arc::new(Recorder::new(client, path.clone())),
        None => client,
    })
}
