//! The HTTP clients probes use: one reqwest client per combination of
//! redirect policy and connection reuse, all sharing one rustls
//! configuration (ring provider, platform roots plus `--ca-cert`) and the
//! optional source address.
//!
//! Clients are built lazily and cached. Under every client sit the phase
//! timing hooks (`hooks.rs`) and the chain-expiry verifier (`chain.rs`),
//! whose cache of chain expiries is the other state here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use std::time::SystemTime;

use rustls::client::Resumption;
use rustls_pki_types::CertificateDer;

use super::chain::{ChainVerifier, ExpiryCache};
use super::hooks::{TimedResolver, TimedSessionStore, TimingLayer};

/// Failures building the TLS configuration or a client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The certificate verifier could not be built (e.g. a bad extra root,
    /// or no roots at all).
    #[error("failed to set up certificate verification: {0}")]
    Verifier(#[source] rustls::Error),
    /// The TLS configuration was refused.
    #[error("failed to set up TLS: {0}")]
    Tls(#[source] rustls::Error),
    /// reqwest refused the client settings.
    #[error("failed to build HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

/// What distinguishes one cached client from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// Follow redirects?
    pub follow_redirects: bool,
    /// At most this many.
    pub max_redirects: u32,
    /// Keep connections alive between probes?
    pub reuse_connections: bool,
}

/// Settings shared by every probe client.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Local address for outgoing probe connections.
    pub source_address: Option<IpAddr>,
    /// Trusted roots added to the platform's.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

/// The cache of probe clients.
pub struct Clients {
    tls: rustls::ClientConfig,
    source_address: Option<IpAddr>,
    cache: Mutex<HashMap<ClientKey, reqwest::Client>>,
    expiries: Arc<ExpiryCache>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("source_address", &self.source_address)
            .finish_non_exhaustive()
    }
}

impl Clients {
    /// Builds the shared TLS configuration.
    pub fn new(options: ClientOptions) -> Result<Clients, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
            options.extra_roots,
            provider.clone(),
        )
        .map_err(ClientError::Verifier)?;
        let expiries = Arc::new(ExpiryCache::default());
        let verifier = ChainVerifier::new(verifier, expiries.clone());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(ClientError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // rustls's default store and size, with the TLS-start mark.
        tls.resumption = Resumption::store(Arc::new(TimedSessionStore::new(256)));
        Ok(Clients {
            tls,
            source_address: options.source_address,
            cache: Mutex::new(HashMap::new()),
            expiries,
        })
    }

    /// The earliest `notAfter` of the chain presented with the leaf
    /// certificate `leaf` (DER), or the leaf's own when that chain was not
    /// seen by these clients.
    pub fn chain_expiry(&self, leaf: &[u8]) -> Option<SystemTime> {
        self.expiries.earliest(leaf)
    }

    /// The client for `key`, built on first use.
    pub fn get(&self, key: ClientKey) -> Result<reqwest::Client, ClientError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let client = self.build(key)?;
        cache.insert(key, client.clone());
        Ok(client)
    }

    fn build(&self, key: ClientKey) -> Result<reqwest::Client, ClientError> {
        let redirect = if key.follow_redirects {
            reqwest::redirect::Policy::limited(key.max_redirects as usize)
        } else {
            reqwest::redirect::Policy::none()
        };
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(self.tls.clone())
            .tls_info(true)
            .redirect(redirect)
            .no_proxy()
            .user_agent(concat!("picket-agent/", env!("CARGO_PKG_VERSION")))
            .local_address(self.source_address)
            .dns_resolver(Arc::new(TimedResolver))
            .connector_layer(TimingLayer);
        if !key.reuse_connections {
            builder = builder.pool_max_idle_per_host(0);
        }
        builder.build().map_err(ClientError::Build)
    }
}
