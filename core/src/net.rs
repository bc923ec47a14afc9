//! HTTP clients: every HTTP client core builds (model providers, MCP over
//! streamable HTTP, the OTLP exporter) starts here, so TLS is set up once.

use crate::error::{Error, Result};

/// Make rustls's ring provider the process default unless the embedding
/// program installed one already (reqwest is built without a provider, so
/// no C crypto library is compiled). Idempotent and cheap.
pub fn ensure_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing the race to another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A reqwest client builder with codeloop's user agent and TLS provider.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    ensure_tls_provider();
    reqwest::Client::builder().user_agent(concat!("codeloop/", env!("CARGO_PKG_VERSION")))
}

/// Build `builder`, naming what the client was for when it fails.
pub fn build_http_client(builder: reqwest::ClientBuilder, what: &str) -> Result<reqwest::Client> {
    builder
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client for {what}: {e}")))
}
