//! One probe of one check: send the request, read a bounded body, judge the
//! outcome, classify any failure. Never panics and never outlives the
//! check's timeout. Phases are measured by the hooks under reqwest
//! (`hooks.rs`) into the probe's [`phases::Recorder`]; the certificate
//! expiry is the earliest in the presented chain (`chain.rs`).
//!
//! The scheduler calls probes through the [`Probe`] trait so its timer logic
//! can be tested with a fake; [`Prober`] is the real one.

pub mod cert;
pub mod chain;
pub mod classify;
pub mod client;
pub mod hooks;
pub mod phases;

use std::future::Future;
use std::time::{Instant, SystemTime};

pub use client::{ClientError, ClientKey, ClientOptions, Clients};

use crate::domain::{Check, ErrorKind, Method, ProbeFailure, ProbeReport};
use phases::Recorder;

/// Something that can probe a check (the real HTTP prober, or a test fake).
pub trait Probe: Send + Sync + 'static {
    /// Probes `check` once; `round_id` is left 0 for the caller to set.
    fn probe(&self, check: &Check) -> impl Future<Output = ProbeReport> + Send;
}

/// The real prober: HTTP(S) with reqwest.
#[derive(Debug)]
pub struct Prober {
    clients: Clients,
}

impl Prober {
    /// A prober over `clients`.
    pub fn new(clients: Clients) -> Prober {
        Prober { clients }
    }
}

impl Probe for Prober {
    fn probe(&self, check: &Check) -> impl Future<Output = ProbeReport> + Send {
        probe(check, &self.clients)
    }
}

/// What a probe attempt found.
#[derive(Debug, Clone, Default)]
struct Outcome {
    status_code: u16,
    failure: Option<ProbeFailure>,
    cert_not_after: Option<SystemTime>,
}

impl Outcome {
    fn failed(status_code: u16, failure: ProbeFailure) -> Outcome {
        Outcome {
            status_code,
            failure: Some(failure),
            ..Outcome::default()
        }
    }
}

/// Probes `check` once with the clients in `clients`, within its timeout.
pub async fn probe(check: &Check, clients: &Clients) -> ProbeReport {
    let started_at = SystemTime::now();
    let start = Instant::now();
    let recorder = Recorder::new();
    let attempt = recorder.scope(attempt(check, clients, &recorder));
    let outcome = match tokio::time::timeout(check.timeout, attempt).await {
        Ok(outcome) => outcome,
        Err(_elapsed) => Outcome::failed(0, classify::timed_out(check.timeout)),
    };
    ProbeReport {
        check_id: check.id.clone(),
        round_id: 0,
        started_at,
        duration: start.elapsed(),
        status_code: outcome.status_code,
        failure: outcome.failure,
        phases: recorder.phases(),
        cert_not_after: outcome.cert_not_after,
    }
}

async fn attempt(check: &Check, clients: &Clients, recorder: &Recorder) -> Outcome {
    let key = ClientKey {
        follow_redirects: check.follow_redirects,
        max_redirects: check.max_redirects,
        reuse_connections: check.reuse_connections,
    };
    let client = match clients.get(key) {
        Ok(client) => client,
        Err(e) => {
            return Outcome::failed(
                0,
                ProbeFailure::new(ErrorKind::Protocol, format!("protocol: {e}")),
            );
        }
    };
    let method = match check.method {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
    };
    let mut request = client.request(method, &check.url);
    for (name, value) in &check.headers {
        request = request.header(name, value);
    }
    if let Some(auth) = &check.basic_auth {
        request = request.basic_auth(&auth.user, Some(&auth.password));
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Outcome::failed(0, classify::classify(&e, check.timeout)),
    };
    recorder.head();
    let head = Outcome {
        status_code: response.status().as_u16(),
        failure: None,
        cert_not_after: response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .and_then(|leaf| clients.chain_expiry(leaf)),
    };
    let status = head.status_code;
    let fail = |failure| Outcome {
        failure: Some(failure),
        ..head.clone()
    };
    if !check.expected_status.contains(&status) {
        return fail(ProbeFailure::new(
            ErrorKind::HttpStatus,
            format!("HTTP {status}"),
        ));
    }
    let limit = usize::try_from(check.max_body_bytes).unwrap_or(usize::MAX);
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(limit - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            Ok(None) => break,
            Err(e) => return fail(classify::classify(&e, check.timeout)),
        }
    }
    recorder.body_done();
    // Dropping the response closes a connection whose body we cut short.
    drop(response);
    if !check.body_contains.is_empty() && !contains(&body, check.body_contains.as_bytes()) {
        return fail(ProbeFailure::new(
            ErrorKind::BodyMismatch,
            format!(
                "body_mismatch: body does not contain \"{}\"",
                check.body_contains
            ),
        ));
    }
    head
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_search() {
        assert!(contains(b"hello world", b"o w"));
        assert!(contains(b"abc", b""));
        assert!(!contains(b"ab", b"abc"));
        assert!(!contains(b"hello", b"world"));
    }
}
