//! TLS for Picket's gRPC link, shared by the agent, `picketctl` and the
//! collector: one rustls provider (ring) everywhere.
//!
//! - [`pem`]: certificate chains, private keys and roots from PEM files,
//!   with errors naming the file (parsed with `rustls-pki-types`).
//! - [`client`]: the client side of the link: a rustls configuration
//!   (platform roots plus extra roots, optional client certificate) and a
//!   connector for tonic's `Endpoint::connect_with_connector`, which waits
//!   for the server's first bytes so that a refusal of our certificate
//!   (sent after the handshake in TLS 1.3) surfaces as a typed error.
//! - [`failure`]: why a handshake failed ([`HandshakeFailure`]), found by
//!   typed `rustls::Error` values in an error's source chain, never by
//!   message text.
//!
//! The server side (hot-reloadable certificates) belongs to the collector.
//!
//! **Invariant: no crate turns on tonic's `tls-*` features.** With them,
//! tonic wraps every connector and refuses an `https://` URI that has no
//! `ClientTlsConfig`, so [`Connector`] would stop working; TLS here is
//! rustls through tokio-rustls only.

pub mod client;
pub mod failure;
pub mod pem;

pub use client::{ClientIdentity, ClientTls, Connector};
pub use failure::HandshakeFailure;
pub use pem::PemError;

/// The workspace's one rustls provider.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
