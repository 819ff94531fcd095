//! `[collector]` TLS keys: `tls_cert`, `tls_key`, `client_ca`, `http_tls`.
//!
//! Relative paths are taken from the config file's directory. Validation
//! loads the files once (through [`crate::tls::ServerTls::load`]), so a
//! missing file, a key that does not match its certificate or an unusable
//! CA is refused at start as `FILE: key: reason`.

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::raw::{RawCollector, Sp};
use super::source::Source;

/// Where the collector's certificate, key and client CA are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSection {
    /// PEM certificate chain, leaf first (`tls_cert`).
    pub cert: PathBuf,
    /// PEM private key: PKCS#8, SEC1 or PKCS#1 (`tls_key`).
    pub key: PathBuf,
    /// PEM roots for client certificates (`client_ca`): mutual TLS on
    /// `grpc_listen` when set.
    pub client_ca: Option<PathBuf>,
    /// Whether `http_listen` serves the same certificate (`http_tls`).
    pub http: bool,
}

/// The TLS keys of `[collector]`: `None` when `tls_cert` is not set.
pub(super) fn validate(src: &Source, c: &RawCollector) -> Result<Option<TlsSection>, ConfigError> {
    let base = src.file.parent().unwrap_or(Path::new("."));
    let path = |v: &Sp<String>| base.join(v.get_ref());
    let section = match (&c.tls_cert, &c.tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(TlsSection {
            cert: path(cert),
            key: path(key),
            client_ca: c.client_ca.as_ref().map(path),
            http: c.http_tls.as_ref().is_some_and(|v| *v.get_ref()),
        }),
        (Some(cert), None) => {
            return src.err(&cert.span(), "tls_cert is set without tls_key");
        }
        (None, Some(key)) => return src.err(&key.span(), "tls_key is set without tls_cert"),
    };
    let Some(section) = section else {
        if let Some(ca) = &c.client_ca {
            return src.err(&ca.span(), "client_ca needs tls_cert and tls_key");
        }
        if let Some(http) = c.http_tls.as_ref().filter(|v| *v.get_ref()) {
            return src.err(&http.span(), "http_tls needs tls_cert and tls_key");
        }
        return Ok(None);
    };
    match crate::tls::ServerTls::load(&section) {
        Ok(_) => Ok(Some(section)),
        Err(e) => src.err_key(e.key, e.reason),
    }
}
