//! PEM files: certificate chains, private keys (PKCS#8, SEC1 or PKCS#1)
//! and trusted roots, parsed with `rustls-pki-types`' [`PemObject`].
//!
//! Every error names the file; callers add the flag or config key.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A PEM file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file holds something that is not valid PEM.
    #[error("{} is not valid PEM: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
    /// The file holds no certificate.
    #[error("no PEM certificate found in {}", path.display())]
    NoCertificate { path: PathBuf },
    /// The file holds no private key (PKCS#8, SEC1 or PKCS#1).
    #[error("no PEM private key (PKCS#8, SEC1 or PKCS#1) found in {}", path.display())]
    NoKey { path: PathBuf },
}

fn read(path: &Path) -> Result<Vec<u8>, PemError> {
    std::fs::read(path).map_err(|source| PemError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in the file (a chain, leaf first, or a set of roots);
/// at least one.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PemError::Parse {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(PemError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key in the file.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => PemError::NoKey {
            path: path.to_owned(),
        },
        other => PemError::Parse {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn certificates_and_keys_load_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cert_path = write(dir.path(), "cert.pem", &cert.pem());
        let key_path = write(dir.path(), "key.pem", &key.serialize_pem());
        assert_eq!(certificates(&cert_path).unwrap().len(), 1);
        assert!(private_key(&key_path).is_ok());

        let missing = dir.path().join("missing.pem");
        let err = certificates(&missing).unwrap_err();
        assert!(matches!(err, PemError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.pem"), "{err}");

        // A key file where a certificate belongs, and the other way round.
        let err = certificates(&key_path).unwrap_err();
        assert!(matches!(err, PemError::NoCertificate { .. }), "{err:?}");
        assert!(err.to_string().contains("key.pem"), "{err}");
        let err = private_key(&cert_path).unwrap_err();
        assert!(matches!(err, PemError::NoKey { .. }), "{err:?}");
        assert!(err.to_string().contains("cert.pem"), "{err}");

        let garbage = write(
            dir.path(),
            "bad.pem",
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        );
        let err = certificates(&garbage).unwrap_err();
        assert!(matches!(err, PemError::Parse { .. }), "{err:?}");
        let empty = write(dir.path(), "empty.pem", "");
        assert!(matches!(
            certificates(&empty).unwrap_err(),
            PemError::NoCertificate { .. }
        ));
    }
}
