//! The HTTP clients probes use: one reqwest client per combination of
//! redirect policy and connection reuse, all sharing one rustls
//! configuration (ring provider, platform roots plus `--ca-cert`) and the
//! optional source address.
//!
//! Clients are built lazily and cached; the cache is the only state here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use rustls_pki_types::CertificateDer;

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
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(ClientError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Clients {
            tls,
            source_address: options.source_address,
            cache: Mutex::new(HashMap::new()),
        })
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
            .local_address(self.source_address);
        if !key.reuse_connections {
            builder = builder.pool_max_idle_per_host(0);
        }
        builder.build().map_err(ClientError::Build)
    }
}
