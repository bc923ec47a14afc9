//! HTTP clients: every HTTP client core builds (model providers, MCP over
//! streamable HTTP, the OTLP exporter) starts here, so TLS is set up once.
//!
//! Certificates are checked against the platform's roots (corporate CAs
//! included), but the roots are loaded lazily, once per process, on the
//! first TLS handshake: a client that only talks plain HTTP on loopback (a
//! local model, a test) never reads the certificate store, and a thousand
//! agents share one loaded store.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};

/// Make rustls's ring provider the process default unless the embedding
/// program installed one already (reqwest is built without a provider, so
/// no C crypto library is compiled). Idempotent and cheap.
pub fn ensure_tls_provider() {
    if CryptoProvider::get_default().is_none() {
        // Losing the race to another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn provider() -> Arc<CryptoProvider> {
    ensure_tls_provider();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The platform verifier, made on first use (it reads the certificate store).
#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: Arc<CryptoProvider>,
    inner: OnceLock<std::result::Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl LazyPlatformVerifier {
    fn verifier(&self) -> std::result::Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.inner
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The process's TLS client configuration (one verifier, one lazily loaded
/// certificate store for every client).
fn tls_config() -> Result<rustls::ClientConfig> {
    static CONFIG: OnceLock<std::result::Result<rustls::ClientConfig, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = provider();
            let verifier = Arc::new(LazyPlatformVerifier {
                provider: provider.clone(),
                inner: OnceLock::new(),
            });
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| {
                    let mut config = b
                        .dangerous()
                        .with_custom_certificate_verifier(verifier)
                        .with_no_client_auth();
                    config.alpn_protocols = vec![b"http/1.1".to_vec()];
                    config
                })
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::Config(format!("cannot set up TLS: {e}")))
}

/// A reqwest client builder with codeloop's user agent and TLS setup.
pub fn http_client_builder() -> Result<reqwest::ClientBuilder> {
    Ok(reqwest::Client::builder()
        .user_agent(concat!("codeloop/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls_config()?))
}

/// Build `builder`, naming what the client was for when it fails.
pub fn build_http_client(builder: reqwest::ClientBuilder, what: &str) -> Result<reqwest::Client> {
    builder
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client for {what}: {e}")))
}
