//! `NativeAgent`: options in (the JSON of core's `AgentOptions`; the package
//! maps camelCase names to it), threads out.

use std::sync::Arc;

use codeloop_core::protocol::AgentOptions;
use codeloop_core::{Agent, Error, Host};
use napi::bindgen_prelude::{Function, Object, Promise};
use napi::Env;
use napi_derive::napi;

use crate::host::NodeHost;
use crate::outcome::to_napi;
use crate::thread::{promise, NativeThread};

#[napi]
pub struct NativeAgent {
    inner: Agent,
}

#[napi]
impl NativeAgent {
    /// `optionsJson`: an `AgentOptions` object; hook callbacks are in its
    /// `hooks` as `{"type": "callback", "id"}` handlers. `dispatcher`
    /// answers host requests (tools, approvals, hook callbacks by id);
    /// `approvals` whether it decides approvals.
    #[napi(constructor)]
    pub fn new(
        options_json: String,
        dispatcher: Option<Function<(String, String), Promise<String>>>,
        approvals: bool,
    ) -> napi::Result<Self> {
        // Once per process: spans go to an OTLP collector when the OTEL_*
        // variables name one.
        if let Err(e) = codeloop_core::telemetry::init_from_env() {
            eprintln!("codeloop: warning: {e}");
        }
        let options: AgentOptions = serde_json::from_str(&options_json)
            .map_err(|e| to_napi(&Error::Config(format!("invalid agent options: {e}"))))?;
        let host: Option<Arc<dyn Host>> = match dispatcher {
            Some(d) => {
                let tsfn = d
                    .build_threadsafe_function::<(String, String)>()
                    .weak::<true>()
                    .callee_handled::<false>()
                    .build()?;
                Some(Arc::new(NodeHost::new(tsfn, approvals)))
            }
            None => None,
        };
        let inner = match host {
            Some(h) => Agent::with_host(options, h),
            None => Agent::new(options),
        }
        .map_err(|e| to_napi(&e))?;
        Ok(NativeAgent { inner })
    }

    /// The resolved working directory.
    #[napi(getter)]
    pub fn cwd(&self) -> String {
        self.inner.cwd().display().to_string()
    }

    /// The model name requests are sent with.
    #[napi(getter)]
    pub fn model(&self) -> String {
        self.inner.model().to_owned()
    }

    /// What the configuration layers reported (config files, hooks files);
    /// each is also sent as an `error` event when a thread starts.
    #[napi(getter)]
    pub fn config_warnings(&self) -> Vec<String> {
        self.inner.config_warnings().to_vec()
    }

    /// Shut the agent's MCP servers down now, even while its threads are
    /// alive. Calls in flight fail; later runs that need the servers fail
    /// with a config error saying the agent was closed. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        let agent = self.inner.clone();
        promise(env, async move {
            agent.close().await;
            Ok(())
        })
    }

    #[napi]
    pub fn start_thread(&self) -> NativeThread {
        NativeThread::new(self.inner.start_thread())
    }

    /// Continue thread `id` from its rollout file. Reads one local file;
    /// nothing is waited on.
    #[napi]
    pub fn resume_thread(&self, id: String) -> napi::Result<NativeThread> {
        self.inner
            .resume_thread(&id)
            .map(NativeThread::new)
            .map_err(|e| to_napi(&e))
    }

    /// A new thread starting from thread `id`'s history: all of it, or
    /// through the end of turn `atTurn` (counting from 1). Reads and writes
    /// local files only.
    #[napi]
    pub fn fork_thread(&self, id: String, at_turn: Option<i64>) -> napi::Result<NativeThread> {
        let at_turn = at_turn
            .map(|n| {
                u64::try_from(n).map_err(|_| {
                    to_napi(&Error::Config(format!(
                        "atTurn must be a turn number (from 1), not {n}"
                    )))
                })
            })
            .transpose()?;
        self.inner
            .fork_thread(&id, at_turn)
            .map(NativeThread::new)
            .map_err(|e| to_napi(&e))
    }
}
