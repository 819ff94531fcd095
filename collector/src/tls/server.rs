//! [`ServerTls`]: the listeners' TLS configuration, built from the files
//! `[collector]` names and swappable while the collector runs.
//!
//! Each accepted connection takes the configuration current at that
//! moment ([`ServerTls::grpc`], [`ServerTls::http`]); [`ServerTls::reload`]
//! re-reads the files and, only if they all load, swaps in new
//! configurations (certificate resolver and client verifier together, so
//! a handshake never pairs a new certificate with an old CA). Open
//! connections keep the session they negotiated.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use picket_tls::pem::{self, PemError};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};

use crate::config::TlsSection;

/// A TLS file that cannot be used, named by its config key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct TlsError {
    /// `tls_cert`, `tls_key` or `client_ca`.
    pub key: &'static str,
    pub reason: String,
}

fn err(key: &'static str) -> impl Fn(PemError) -> TlsError {
    move |e| TlsError {
        key,
        reason: e.to_string(),
    }
}

/// The configurations of the gRPC and HTTP listeners, built together.
struct Configs {
    grpc: Arc<ServerConfig>,
    http: Arc<ServerConfig>,
}

/// The collector's server-side TLS (see the module docs).
pub struct ServerTls {
    section: TlsSection,
    current: ArcSwap<Configs>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("section", &self.section)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads the files `section` names.
    pub fn load(section: &TlsSection) -> Result<ServerTls, TlsError> {
        Ok(ServerTls {
            section: section.clone(),
            current: ArcSwap::from_pointee(build(section)?),
        })
    }

    /// Re-reads the files; on any error the current configuration stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.current.store(Arc::new(build(&self.section)?));
        Ok(())
    }

    /// The configuration for the next gRPC connection (ALPN `h2`, client
    /// certificates required when `client_ca` is set).
    pub fn grpc(&self) -> Arc<ServerConfig> {
        self.current.load().grpc.clone()
    }

    /// The configuration for the next HTTP connection (same certificate,
    /// no client certificate: health checkers have none).
    pub fn http(&self) -> Arc<ServerConfig> {
        self.current.load().http.clone()
    }

    /// Whether `http_listen` serves TLS too (`http_tls`).
    pub fn serves_http(&self) -> bool {
        self.section.http
    }
}

fn build(section: &TlsSection) -> Result<Configs, TlsError> {
    let chain = pem::certificates(&section.cert).map_err(err("tls_cert"))?;
    let key = pem::private_key(&section.key).map_err(err("tls_key"))?;
    let provider = picket_tls::provider();
    let certified = CertifiedKey::from_der(chain, key, &provider)
        .map_err(|e| key_error(&section.key, &section.cert, e))?;
    let resolver = Arc::new(SingleCertAndKey::from(certified));
    let verifier = match &section.client_ca {
        None => WebPkiClientVerifier::no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in pem::certificates(path).map_err(err("client_ca"))? {
                roots.add(cert).map_err(|e| TlsError {
                    key: "client_ca",
                    reason: format!("{}: {e}", path.display()),
                })?;
            }
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsError {
                    key: "client_ca",
                    reason: format!("{}: {e}", path.display()),
                })?
        }
    };
    let config = |verifier, alpn: &[u8]| -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError {
                key: "tls_cert",
                reason: e.to_string(),
            })?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(Arc::new(config))
    };
    Ok(Configs {
        grpc: config(verifier, b"h2")?,
        http: config(WebPkiClientVerifier::no_client_auth(), b"http/1.1")?,
    })
}

fn key_error(key: &Path, cert: &Path, e: rustls::Error) -> TlsError {
    let reason = match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "{} does not match the certificate in {}",
            key.display(),
            cert.display()
        ),
        other => format!("{}: {other}", key.display()),
    };
    TlsError {
        key: "tls_key",
        reason,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a self-signed certificate for `localhost` and its key to
    /// `dir/STEM.crt` and `dir/STEM.key`.
    pub(crate) fn write_cert(dir: &Path, stem: &str) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.join(format!("{stem}.crt")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem()).unwrap();
    }

    #[test]
    fn a_reload_swaps_good_files_and_keeps_the_current_ones_on_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        write_cert(dir.path(), "c");
        let section = TlsSection {
            cert: dir.path().join("c.crt"),
            key: dir.path().join("c.key"),
            client_ca: None,
            http: false,
        };
        let tls = ServerTls::load(&section).unwrap();
        let first = tls.grpc();
        assert_eq!(first.alpn_protocols, vec![b"h2".to_vec()]);

        write_cert(dir.path(), "c");
        tls.reload().unwrap();
        let second = tls.grpc();
        assert!(!Arc::ptr_eq(&first, &second), "a good reload swaps");

        std::fs::write(dir.path().join("c.crt"), "garbage").unwrap();
        let err = tls.reload().unwrap_err();
        assert_eq!(err.key, "tls_cert");
        assert!(Arc::ptr_eq(&second, &tls.grpc()), "a bad reload keeps");
    }
}
