//! The earliest `notAfter` in the certificate chain a server presents
//! (blackbox's `probe_ssl_earliest_cert_expiry`), not only the leaf's.
//!
//! [`ChainVerifier`] wraps the real verifier: before delegating, it reads
//! the `notAfter` of the leaf and of every intermediate the server sent and
//! remembers the earliest in an [`ExpiryCache`] keyed by the leaf's DER. A
//! probe looks its response's leaf (reqwest's `TlsInfo`) up there, which
//! also covers responses over a reused connection or a resumed session,
//! where no chain is verified. The cache is bounded: when full it starts
//! over, and a miss falls back to the leaf's own `notAfter`.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::cert;

/// Most leaves remembered before the cache starts over.
const CAPACITY: usize = 4096;

/// Leaf certificate → earliest `notAfter` of the chain it came with.
#[derive(Debug, Default)]
pub struct ExpiryCache {
    map: Mutex<HashMap<u64, SystemTime>>,
}

fn key(leaf: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    leaf.hash(&mut h);
    h.finish()
}

impl ExpiryCache {
    fn remember(&self, leaf: &[u8], earliest: SystemTime) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key(leaf), earliest);
    }

    /// The earliest expiry of the chain `leaf` (DER) was presented with,
    /// or the leaf's own when that chain was not seen.
    pub fn earliest(&self, leaf: &[u8]) -> Option<SystemTime> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&key(leaf))
            .copied()
            .or_else(|| cert::not_after(leaf))
    }
}

/// The earliest `notAfter` among certificates that parse.
pub fn earliest_not_after<'a>(chain: impl IntoIterator<Item = &'a [u8]>) -> Option<SystemTime> {
    chain.into_iter().filter_map(cert::not_after).min()
}

/// A verifier that records chain expiries, then delegates.
#[derive(Debug)]
pub struct ChainVerifier<V> {
    inner: V,
    cache: Arc<ExpiryCache>,
}

impl<V> ChainVerifier<V> {
    /// Wraps `inner`, recording into `cache`.
    pub fn new(inner: V, cache: Arc<ExpiryCache>) -> ChainVerifier<V> {
        ChainVerifier { inner, cache }
    }
}

impl<V: ServerCertVerifier> ServerCertVerifier for ChainVerifier<V> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref());
        if let Some(earliest) = earliest_not_after(chain) {
            self.cache.remember(end_entity, earliest);
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsable_certificates_are_skipped_and_misses_fall_back() {
        assert_eq!(earliest_not_after([b"junk".as_slice()]), None);
        let cache = ExpiryCache::default();
        assert_eq!(cache.earliest(b"junk"), None);
        let t = SystemTime::UNIX_EPOCH;
        cache.remember(b"junk", t);
        assert_eq!(cache.earliest(b"junk"), Some(t));
    }
}
