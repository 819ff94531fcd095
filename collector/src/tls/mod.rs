//! TLS in the collector, all with rustls and the ring provider.
//!
//! - [`client_config`]: outgoing TLS (webhooks), the platform's roots.
//! - [`server`]: [`ServerTls`], the certificate, key and client CA of the
//!   listeners, re-read on reload and swapped atomically (`ArcSwap`) so
//!   connections already open keep theirs.
//! - [`accept`]: the accept loops that hand TLS connections to tonic and
//!   axum; a TLS listener never answers plaintext.

pub mod accept;
pub mod server;

use std::sync::Arc;

pub use server::{ServerTls, TlsError};

/// A client config trusting the system roots.
pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}
