//! Turns a failed request into an error kind and detail line.
//!
//! Classification walks the error's source chain with typed checks only:
//! reqwest's `is_timeout`/`is_redirect`/`is_dns`/`is_connect` flags,
//! `std::io::ErrorKind`, and `rustls::Error` values (which hide inside
//! `io::Error::get_ref()`, a link `source()` skips). Message text is shown to
//! people, never matched on. `is_connect` is tested last because reqwest sets
//! it for DNS and TLS failures too.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use rustls::CertificateError;

use crate::domain::{ErrorKind, ProbeFailure, format_duration};

/// The reqwest flags that matter for classification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `is_timeout()`.
    pub timeout: bool,
    /// `is_redirect()`.
    pub redirect: bool,
    /// `is_dns()`.
    pub dns: bool,
    /// `is_connect()`.
    pub connect: bool,
}

impl Flags {
    fn of(err: &reqwest::Error) -> Flags {
        Flags {
            timeout: err.is_timeout(),
            redirect: err.is_redirect(),
            dns: err.is_dns(),
            connect: err.is_connect(),
        }
    }
}

/// The failure a probe reports when it did not finish within `timeout`.
pub fn timed_out(timeout: Duration) -> ProbeFailure {
    ProbeFailure::new(
        ErrorKind::Timeout,
        format!("timeout after {}", format_duration(timeout)),
    )
}

/// Classifies a reqwest error; `timeout` is the check's, for the detail.
pub fn classify(err: &reqwest::Error, timeout: Duration) -> ProbeFailure {
    classify_parts(Flags::of(err), err, timeout)
}

/// Classification from the flags and the error chain (testable without a
/// real reqwest error).
pub fn classify_parts(
    flags: Flags,
    err: &(dyn StdError + 'static),
    timeout: Duration,
) -> ProbeFailure {
    let chain = chain(err);
    let io_kinds = || {
        chain
            .iter()
            .filter_map(|e| e.downcast_ref::<io::Error>())
            .map(io::Error::kind)
    };
    if flags.timeout || io_kinds().any(|k| k == io::ErrorKind::TimedOut) {
        return timed_out(timeout);
    }
    if let Some(tls) = chain.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return ProbeFailure::new(ErrorKind::Tls, format!("tls: {}", tls_detail(tls)));
    }
    if flags.redirect {
        return ProbeFailure::new(
            ErrorKind::Protocol,
            format!("protocol: {}", innermost(&chain)),
        );
    }
    if flags.dns {
        let os = chain
            .iter()
            .filter_map(|e| e.downcast_ref::<io::Error>())
            .find(|e| e.raw_os_error().is_some());
        let detail = match os {
            Some(e) => format!("dns: {e}"),
            // getaddrinfo's EAI_* codes reach us only as text; NONAME is by
            // far the common case.
            None => "dns: no such host".to_owned(),
        };
        return ProbeFailure::new(ErrorKind::Dns, detail);
    }
    if let Some(detail) = io_kinds().find_map(connect_detail) {
        return ProbeFailure::new(ErrorKind::Connect, format!("connect: {detail}"));
    }
    if flags.connect {
        return ProbeFailure::new(
            ErrorKind::Connect,
            format!("connect: {}", innermost(&chain)),
        );
    }
    ProbeFailure::new(
        ErrorKind::Protocol,
        format!("protocol: {}", innermost(&chain)),
    )
}

fn connect_detail(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset | K::ConnectionAborted => "connection reset",
        K::NetworkUnreachable | K::NetworkDown => "network unreachable",
        K::HostUnreachable => "host unreachable",
        K::AddrNotAvailable => "source address not available",
        K::UnexpectedEof | K::BrokenPipe => "connection closed",
        _ => return None,
    })
}

/// The detail for a rustls error (without the `tls: ` prefix).
pub fn tls_detail(err: &rustls::Error) -> String {
    use CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::Expired | C::ExpiredContext { .. } => "certificate expired".to_owned(),
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate not yet valid".to_owned(),
            C::UnknownIssuer => "unknown certificate authority".to_owned(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "certificate not valid for name".to_owned()
            }
            C::Revoked => "certificate revoked".to_owned(),
            other => format!("invalid certificate: {other:?}"),
        },
        other => other.to_string(),
    }
}

/// The error and everything beneath it, descending into `io::Error`
/// payloads, which `source()` skips.
fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        if out.len() >= 32 {
            break;
        }
        out.push(e);
        next = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

/// The deepest error's message, for details shown to people.
fn innermost(chain: &[&(dyn StdError + 'static)]) -> String {
    chain
        .last()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    /// A stand-in for reqwest/hyper wrappers: a message and a source.
    #[derive(Debug)]
    struct Wrap(&'static str, Box<dyn StdError + Send + Sync>);
    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.1)
        }
    }

    #[derive(Debug)]
    struct Leaf(&'static str);
    impl fmt::Display for Leaf {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Leaf {}

    fn leaf(text: &'static str) -> Box<dyn StdError + Send + Sync> {
        Box::new(Leaf(text))
    }

    fn os(code: i32) -> Box<dyn StdError + Send + Sync> {
        Box::new(io::Error::from_raw_os_error(code))
    }

    fn io(kind: io::ErrorKind) -> Box<dyn StdError + Send + Sync> {
        Box::new(io::Error::from(kind))
    }

    /// rustls errors arrive as io(Other(io(InvalidData(rustls::Error)))).
    fn tls(err: rustls::Error) -> Box<dyn StdError + Send + Sync> {
        let inner = io::Error::new(io::ErrorKind::InvalidData, err);
        Box::new(io::Error::other(inner))
    }

    fn cert(e: CertificateError) -> Box<dyn StdError + Send + Sync> {
        tls(rustls::Error::InvalidCertificate(e))
    }

    const CONNECT: Flags = Flags {
        timeout: false,
        redirect: false,
        dns: false,
        connect: true,
    };

    fn check(flags: Flags, source: Box<dyn StdError + Send + Sync>, kind: ErrorKind, detail: &str) {
        let err = Wrap(
            "error sending request",
            Box::new(Wrap("client error", source)),
        );
        let got = classify_parts(flags, &err, Duration::from_secs(10));
        assert_eq!(got, ProbeFailure::new(kind, detail), "{err:?}");
    }

    #[test]
    fn error_chains_classify() {
        use CertificateError as C;
        use ErrorKind as E;
        use io::ErrorKind as K;
        let none = Flags::default();
        let timeout = Flags {
            timeout: true,
            ..none
        };
        let dns = Flags {
            dns: true,
            ..CONNECT
        };
        let redirect = Flags {
            redirect: true,
            ..none
        };

        let handshake = format!("tls: {}", rustls::Error::HandshakeNotComplete);
        #[rustfmt::skip]
        let cases: [(Flags, Box<dyn StdError + Send + Sync>, E, &str); 16] = [
            (timeout, leaf("deadline"), E::Timeout, "timeout after 10s"),
            (none, io(K::TimedOut), E::Timeout, "timeout after 10s"),
            (dns, io(K::Other), E::Dns, "dns: no such host"),
            (dns, os(111), E::Dns, "dns: Connection refused (os error 111)"),
            (CONNECT, io(K::ConnectionRefused), E::Connect, "connect: connection refused"),
            (CONNECT, io(K::ConnectionReset), E::Connect, "connect: connection reset"),
            (none, io(K::ConnectionReset), E::Connect, "connect: connection reset"),
            (CONNECT, io(K::NetworkUnreachable), E::Connect, "connect: network unreachable"),
            (CONNECT, io(K::HostUnreachable), E::Connect, "connect: host unreachable"),
            (CONNECT, leaf("weird"), E::Connect, "connect: weird"),
            (CONNECT, cert(C::Expired), E::Tls, "tls: certificate expired"),
            (CONNECT, cert(C::UnknownIssuer), E::Tls, "tls: unknown certificate authority"),
            (CONNECT, cert(C::NotValidForName), E::Tls, "tls: certificate not valid for name"),
            (CONNECT, tls(rustls::Error::HandshakeNotComplete), E::Tls, &handshake),
            (redirect, leaf("too many redirects"), E::Protocol, "protocol: too many redirects"),
            (none, leaf("invalid HTTP version parsed"), E::Protocol,
                "protocol: invalid HTTP version parsed"),
        ];
        for (flags, source, kind, detail) in cases {
            check(flags, source, kind, detail);
        }
    }

    #[test]
    fn timeouts_use_the_short_form() {
        assert_eq!(
            timed_out(Duration::from_millis(1500)).detail,
            "timeout after 1500ms"
        );
        assert_eq!(timed_out(Duration::from_secs(1)).detail, "timeout after 1s");
    }
}
