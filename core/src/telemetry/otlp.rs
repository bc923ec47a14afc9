//! OTLP/HTTP (protobuf) export of core's spans, configured like every
//! OpenTelemetry SDK: by the `OTEL_*` variables.
//!
//! The exporter's HTTP client is core's reqwest client (`net`), and its
//! requests run on core's runtime: the SDK's batch processor exports from a
//! thread of its own, which has no tokio runtime, so each request is handed
//! to [`crate::runtime::global`] and awaited from there.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::error::{Error, Result};

/// Where and how spans are exported. [`OtlpConfig::from_env`] reads the
/// standard variables; tests and hosts with their own configuration build
/// one directly.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// The full URL spans are POSTed to (`…/v1/traces`).
    pub endpoint: String,
    /// Extra request headers (authentication for a hosted collector).
    pub headers: Vec<(String, String)>,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Other resource attributes.
    pub resource_attributes: Vec<(String, String)>,
    /// Timeout of one export request.
    pub timeout: Duration,
}

impl OtlpConfig {
    /// The configuration the process environment describes; `None` when
    /// tracing export is not configured or is turned off.
    pub fn from_env() -> Result<Option<OtlpConfig>> {
        OtlpConfig::from_vars(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// [`OtlpConfig::from_env`] over any source of variables.
    ///
    /// Honors `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER`,
    /// `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `…_HEADERS`, `…_TIMEOUT`,
    /// `…_PROTOCOL` (only `http/protobuf`), `OTEL_SERVICE_NAME` and
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<OtlpConfig>> {
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        if let Some(exporters) = get("OTEL_TRACES_EXPORTER") {
            if !exporters.split(',').any(|e| e.trim() == "otlp") {
                return Ok(None);
            }
        }
        let endpoint = match (
            get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) => traces.trim().to_string(),
            (None, Some(base)) => format!("{}/v1/traces", base.trim().trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        let signal = |name: &str| {
            get(&format!("OTEL_EXPORTER_OTLP_TRACES_{name}"))
                .or_else(|| get(&format!("OTEL_EXPORTER_OTLP_{name}")))
        };
        if let Some(protocol) = signal("PROTOCOL") {
            if protocol.trim() != "http/protobuf" {
                return Err(Error::Config(format!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL `{protocol}` is not supported: codeloop exports \
                     traces over http/protobuf only"
                )));
            }
        }
        let timeout = match signal("TIMEOUT") {
            Some(ms) => Duration::from_millis(ms.trim().parse().map_err(|_| {
                Error::Config(format!(
                    "OTEL_EXPORTER_OTLP_TIMEOUT `{ms}` is not a number of milliseconds"
                ))
            })?),
            None => Duration::from_secs(10),
        };
        let headers = signal("HEADERS")
            .map(|h| key_values(&h))
            .unwrap_or_default();
        let mut resource_attributes = get("OTEL_RESOURCE_ATTRIBUTES")
            .map(|a| key_values(&a))
            .unwrap_or_default();
        let from_attributes = resource_attributes
            .iter()
            .position(|(k, _)| k == "service.name")
            .map(|i| resource_attributes.remove(i).1);
        let service_name = get("OTEL_SERVICE_NAME")
            .or(from_attributes)
            .unwrap_or_else(|| "codeloop".into());
        Ok(Some(OtlpConfig {
            endpoint,
            headers,
            service_name,
            resource_attributes,
            timeout,
        }))
    }
}

/// `k1=v1,k2=v2` with percent-encoded values (the W3C baggage format the
/// OTEL header and resource variables use); malformed entries are skipped.
fn key_values(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// core's reqwest client, its requests run on core's runtime.
#[derive(Debug)]
struct RuntimeClient(reqwest::Client);

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(
        &self,
        request: Request<Bytes>,
    ) -> std::result::Result<Response<Bytes>, HttpError> {
        let client = self.0.clone();
        let runtime = crate::runtime::global()?;
        runtime
            .spawn(async move { client.send_bytes(request).await })
            .await?
    }
}

/// A tracer provider that batches spans and exports them to `config`'s
/// endpoint. Shut it down (or drop its last clone) to flush.
pub fn otlp_provider(config: &OtlpConfig) -> Result<SdkTracerProvider> {
    let client = crate::net::build_http_client(
        crate::net::http_client_builder()?.timeout(config.timeout),
        "the OTLP trace exporter",
    )?;
    let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(RuntimeClient(client))
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(config.endpoint.clone())
        .with_timeout(config.timeout)
        .with_headers(headers)
        .build()
        .map_err(|e| Error::Config(format!("cannot build the OTLP trace exporter: {e}")))?;
    let resource = Resource::builder_empty()
        .with_service_name(config.service_name.clone())
        .with_attributes(
            config
                .resource_attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// A `tracing` layer that sends codeloop's spans (INFO and above, targets
/// `codeloop*`) to `provider`. For hosts that install their own subscriber:
/// add this layer to it.
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let tracer = provider.tracer("codeloop");
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            // Only ours: the HTTP stack's own spans (the exporter's requests
            // among them) would otherwise be exported too.
            meta.target().starts_with("codeloop") && *meta.level() <= tracing::Level::INFO
        }))
}

/// The exporter installed for the process, flushed by [`Telemetry::shutdown`]
/// or [`super::shutdown`].
#[derive(Debug, Clone)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Export what is buffered and stop exporting.
    pub fn shutdown(&self) -> Result<()> {
        self.provider
            .shutdown()
            .map_err(|e| Error::Internal(format!("flushing the OTLP trace exporter: {e}")))
    }
}

/// Install an exporter to `config` as the process's global tracing
/// subscriber. Fails, leaving everything as it was, when the host program
/// installed a global subscriber first: `tracing` allows one per process and
/// replacing the host's would silently drop its logs, so the host should add
/// [`otel_layer`] to its own instead.
pub fn init(config: &OtlpConfig) -> Result<Telemetry> {
    let provider = otlp_provider(config)?;
    let subscriber = tracing_subscriber::registry().with(otel_layer(&provider));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        let _ = provider.shutdown();
        return Err(Error::Config(
            "cannot install the OTLP trace exporter: this process already has a global tracing \
             subscriber; add codeloop_core::telemetry::otel_layer to it instead"
                .into(),
        ));
    }
    Ok(Telemetry { provider })
}

static GLOBAL: Mutex<Option<Telemetry>> = Mutex::new(None);
static TRIED: std::sync::Once = std::sync::Once::new();

pub(super) fn init_from_env() -> Result<bool> {
    let mut outcome = Ok(false);
    TRIED.call_once(|| {
        outcome = (|| {
            let Some(config) = OtlpConfig::from_env()? else {
                return Ok(false);
            };
            let telemetry = init(&config)?;
            *GLOBAL.lock().unwrap_or_else(|p| p.into_inner()) = Some(telemetry);
            // Flush at exit even when the front never calls `shutdown`
            // (a Python or Node process that just ends): exit() runs this
            // while the exporter's threads still live.
            // SAFETY: registers a plain `extern "C"` function that never unwinds.
            unsafe { libc::atexit(flush_at_exit) };
            Ok(true)
        })();
    });
    outcome
}

extern "C" fn flush_at_exit() {
    let _ = std::panic::catch_unwind(shutdown_global);
}

pub(super) fn shutdown_global() {
    let telemetry = GLOBAL.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(t) = telemetry {
        if let Err(e) = t.shutdown() {
            eprintln!("codeloop: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn config_from_the_standard_variables() -> anyhow::Result<()> {
        assert_eq!(OtlpConfig::from_vars(vars(&[]))?, None);
        let c = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=a%20b,bad, x-team = t1",
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs,deployment.environment=ci",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
        ]))?
        .ok_or_else(|| anyhow::anyhow!("no config"))?;
        assert_eq!(c.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(
            c.headers,
            [
                ("x-api-key".into(), "a b".into()),
                ("x-team".into(), "t1".into())
            ]
        );
        assert_eq!(c.service_name, "from-attrs");
        assert_eq!(
            c.resource_attributes,
            [("deployment.environment".into(), "ci".into())]
        );
        assert_eq!(c.timeout, Duration::from_millis(2500));
        let c = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9999/traces"),
            ("OTEL_SERVICE_NAME", "jobs"),
        ]))?
        .ok_or_else(|| anyhow::anyhow!("no config"))?;
        assert_eq!(c.endpoint, "http://b:9999/traces");
        assert_eq!(c.service_name, "jobs");
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            let got = OtlpConfig::from_vars(vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
                off,
            ]))?;
            assert_eq!(got, None, "{off:?}");
        }
        let err = OtlpConfig::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]));
        assert!(
            matches!(&err, Err(Error::Config(m)) if m.contains("grpc")),
            "{err:?}"
        );
        Ok(())
    }
}
