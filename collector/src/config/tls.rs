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

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// `c.crt` with its key `c.key`, and `other.key`, a key of another
    /// certificate.
    fn write_pems(dir: &Path) {
        crate::tls::server::tests::write_cert(dir, "c");
        crate::tls::server::tests::write_cert(dir, "other");
    }

    /// The config error for these `[collector]` TLS lines, or `Ok`.
    fn check(dir: &Path, lines: &str) -> Result<Option<super::TlsSection>, String> {
        let file = dir.join("picket.toml");
        let text = format!(
            "[collector]\ndatabase = \"sqlite://x.db\"\n{lines}\n[agents]\nenrollment_token = \"t\"\n"
        );
        crate::config::parse(&file, &text)
            .map(|c| c.collector.tls)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn tls_keys_load_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        write_pems(dir.path());
        let tls = check(dir.path(), "tls_cert = \"c.crt\"\ntls_key = \"c.key\"")
            .unwrap()
            .expect("tls is on");
        assert_eq!(tls.cert, dir.path().join("c.crt"));
        assert!(!tls.http && tls.client_ca.is_none());
        assert_eq!(check(dir.path(), ""), Ok(None));
    }

    #[test]
    fn unusable_tls_files_are_refused_naming_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        write_pems(dir.path());
        let file = dir.path().join("picket.toml").display().to_string();
        let cases = [
            (
                "tls_cert = \"missing.crt\"\ntls_key = \"c.key\"",
                "tls_cert: cannot read ",
                "missing.crt",
            ),
            (
                "tls_cert = \"c.key\"\ntls_key = \"c.key\"",
                "tls_cert: no PEM certificate found in ",
                "c.key",
            ),
            (
                "tls_cert = \"c.crt\"\ntls_key = \"c.crt\"",
                "tls_key: no PEM private key",
                "c.crt",
            ),
            (
                "tls_cert = \"c.crt\"\ntls_key = \"other.key\"",
                "tls_key: ",
                "other.key does not match the certificate in ",
            ),
            (
                "tls_cert = \"c.crt\"\ntls_key = \"c.key\"\nclient_ca = \"nope.pem\"",
                "client_ca: cannot read ",
                "nope.pem",
            ),
        ];
        for (lines, key_and_reason, names) in cases {
            let err = check(dir.path(), lines).unwrap_err();
            assert!(
                err.starts_with(&format!("{file}: {key_and_reason}")),
                "{lines}: {err}"
            );
            assert!(err.contains(names), "{lines}: {err}");
        }
    }

    #[test]
    fn tls_keys_need_each_other() {
        let dir = tempfile::tempdir().unwrap();
        for (lines, reason) in [
            (
                "tls_cert = \"c.crt\"",
                "picket.toml:3: tls_cert is set without tls_key",
            ),
            (
                "tls_key = \"c.key\"",
                "picket.toml:3: tls_key is set without tls_cert",
            ),
            (
                "client_ca = \"ca.pem\"",
                "picket.toml:3: client_ca needs tls_cert",
            ),
            ("http_tls = true", "picket.toml:3: http_tls needs tls_cert"),
        ] {
            let err = check(dir.path(), lines).unwrap_err();
            assert!(err.contains(reason), "{lines}: {err}");
        }
    }
}
