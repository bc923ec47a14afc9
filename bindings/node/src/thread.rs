//! `NativeThread` and `NativeRun`, the events of one run.
//!
//! A run is core's `RunReader` (its event stream and the rules of
//! `Thread::run`), behind an async mutex. JavaScript pulls events with
//! `next()`, which returns a Promise settled from core's runtime: the event
//! loop never waits. Events cross in batches — the first is waited for, the
//! ones already queued after it come along — so a fast stream costs one
//! trip to the JavaScript thread per batch rather than per event.

use std::future::Future;
use std::sync::Arc;

use codeloop_core::protocol::RunOptions;
use codeloop_core::{Error, Input, RunInterrupt, RunReader, Thread};
use napi::bindgen_prelude::{Object, ToNapiValue};
use napi::Env;
use napi_derive::napi;

use crate::outcome::{outcome_json, to_napi};

#[napi]
pub struct NativeThread {
    inner: Thread,
}

impl NativeThread {
    pub fn new(inner: Thread) -> Self {
        NativeThread { inner }
    }
}

#[napi]
impl NativeThread {
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// Cumulative usage as of the last finished turn, as JSON.
    #[napi]
    pub fn usage(&self) -> String {
        serde_json::to_string(&self.inner.usage()).unwrap_or_else(|_| "null".into())
    }

    /// Start a turn. `inputJson`: a JSON string (the prompt) or a list of
    /// user inputs (`{"type": "text", "text"}`, `{"type": "local_image", "path"}`).
    /// `optionsJson`: core's `RunOptions` (budgets, output schema) for this
    /// run only.
    #[napi]
    pub fn run_streamed(
        &self,
        input_json: String,
        options_json: Option<String>,
    ) -> napi::Result<NativeRun> {
        let input = parse_input(&input_json)?;
        let options: RunOptions = match options_json {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| to_napi(&Error::Config(format!("invalid run options: {e}"))))?,
            None => RunOptions::default(),
        };
        // The turn is spawned on core's runtime: make sure it can start.
        codeloop_core::runtime::global().map_err(|e| to_napi(&e))?;
        let stream = self.inner.run_streamed_with(input, options);
        let interrupter = stream.interrupter();
        Ok(NativeRun {
            state: Arc::new(tokio::sync::Mutex::new(RunReader::new(
                stream,
                self.inner.id(),
            ))),
            interrupter,
        })
    }

    /// Add input (as `runStreamed` takes it) to the running turn; it reaches
    /// the model with the turn's next request. Only queues: nothing waits.
    #[napi]
    pub fn steer(&self, input_json: String) -> napi::Result<()> {
        let input = parse_input(&input_json)?;
        self.inner.steer(input).map_err(|e| to_napi(&e))
    }

    /// Compact the history now; the `Compaction` as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn compact<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        let thread = self.inner.clone();
        promise(env, async move {
            let compaction = thread.compact().await.map_err(|e| to_napi(&e))?;
            serde_json::to_string(&compaction)
                .map_err(|e| napi::Error::from_reason(format!("cannot serialize: {e}")))
        })
    }

    /// Interrupt the running turn, if any (it ends with `turn.failed`, code
    /// `interrupted`).
    #[napi]
    pub fn interrupt(&self) {
        self.inner.interrupt();
    }
}

/// A run's input: a JSON string (the prompt) or a list of user inputs.
fn parse_input(input_json: &str) -> napi::Result<Input> {
    match serde_json::from_str::<serde_json::Value>(input_json) {
        Ok(serde_json::Value::String(text)) => Ok(Input::from(text)),
        Ok(value) => serde_json::from_value(value)
            .map_err(|e| to_napi(&Error::Config(format!("invalid input: {e}")))),
        Err(e) => Err(to_napi(&Error::Config(format!("invalid input: {e}")))),
    }
}

/// A Promise for what `work` computes on core's runtime; the JavaScript
/// thread only settles it.
pub(crate) fn promise<'env, T, F>(env: &'env Env, work: F) -> napi::Result<Object<'env>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = napi::Result<T>> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    let task = async move {
        match work.await {
            Ok(value) => deferred.resolve(move |_| Ok(value)),
            Err(e) => deferred.reject(e),
        }
    };
    // On failure the task (and the deferred in it) is dropped, which rejects
    // nothing: say why instead.
    codeloop_core::runtime::spawn(task).map_err(|e| to_napi(&e))?;
    Ok(promise)
}

/// One run's events, pulled from JavaScript.
#[napi]
pub struct NativeRun {
    state: Arc<tokio::sync::Mutex<RunReader>>,
    /// Interrupts this run's turn only: the JavaScript object may outlive
    /// the turn while its thread runs another.
    interrupter: RunInterrupt,
}

#[napi]
impl NativeRun {
    /// The next events (at most `max`) as a JSON array; `null` once the run ended.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn next<'env>(&self, env: &'env Env, max: u32) -> napi::Result<Object<'env>> {
        let state = self.state.clone();
        promise(env, async move {
            let batch = state.lock().await.next_batch(max as usize).await;
            if batch.is_empty() {
                return Ok(None);
            }
            serde_json::to_string(&batch)
                .map(Some)
                .map_err(|e| napi::Error::from_reason(format!("cannot serialize events: {e}")))
        })
    }

    /// Read the run to its end; its outcome as JSON: `{"result": ...}` or
    /// `{"error": {code, message, status}}`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn outcome<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        let state = self.state.clone();
        promise(env, async move {
            let mut state = state.lock().await;
            state.drain().await;
            Ok(outcome_json(state.take_outcome()))
        })
    }

    /// Interrupt this run's turn if it still runs.
    #[napi]
    pub fn interrupt(&self) {
        self.interrupter.interrupt();
    }
}
