//! Why a TLS handshake on the link failed, for one clear log line instead
//! of a bare "transport error".
//!
//! [`HandshakeFailure::find`] walks an error's source chain (descending
//! into `io::Error` payloads, which `source()` skips) for a typed
//! `rustls::Error`: a certificate we refused (`InvalidCertificate`) or an
//! alert the peer sent because it refused ours (`AlertReceived`). Message
//! text is never matched.

use std::error::Error as StdError;
use std::io;

use rustls::{AlertDescription, CertificateError};

/// The cause of a failed handshake, seen from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The server requires a client certificate and we sent none.
    CertificateRequired,
    /// The server does not trust the CA of our client certificate.
    ClientCertUnknownCa,
    /// The server refused our client certificate as expired.
    ClientCertExpired,
    /// The server refused our client certificate for another reason.
    ClientCertRefused(String),
    /// The server's certificate is not signed by a CA we trust.
    UnknownCa,
    /// The server's certificate has expired (or is not valid yet).
    Expired,
    /// The server's certificate is not valid for the name we connected to.
    NameMismatch,
    /// The peer does not speak TLS on that port.
    NotTls,
    /// Any other TLS error.
    Other(String),
}

impl std::fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use HandshakeFailure as H;
        match self {
            H::CertificateRequired => f.write_str(
                "certificate required: the collector requires a client certificate \
                 (--client-cert and --client-key)",
            ),
            H::ClientCertUnknownCa => f.write_str(
                "unknown CA: the collector does not trust the CA of our client certificate",
            ),
            H::ClientCertExpired => {
                f.write_str("expired: the collector refused our client certificate as expired")
            }
            H::ClientCertRefused(why) => {
                write!(f, "the collector refused our client certificate ({why})")
            }
            H::UnknownCa => f.write_str(
                "unknown CA: the collector's certificate is not signed by a trusted CA \
                 (--ca-cert adds a root)",
            ),
            H::Expired => f.write_str("expired: the collector's certificate is not valid now"),
            H::NameMismatch => f.write_str(
                "name mismatch: the collector's certificate is not valid for the host in --collector",
            ),
            H::NotTls => f.write_str("the collector does not speak TLS on that port"),
            H::Other(why) => write!(f, "{why}"),
        }
    }
}

impl HandshakeFailure {
    /// The handshake failure somewhere in `err`'s source chain, if any.
    pub fn find(err: &(dyn StdError + 'static)) -> Option<HandshakeFailure> {
        let mut next = Some(err);
        let mut depth = 0;
        while let Some(e) = next {
            if let Some(tls) = e.downcast_ref::<rustls::Error>() {
                return Some(HandshakeFailure::from_rustls(tls));
            }
            depth += 1;
            if depth > 32 {
                break;
            }
            next = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => e.source(),
            };
        }
        None
    }

    /// The cause a rustls error names.
    pub fn from_rustls(err: &rustls::Error) -> HandshakeFailure {
        use CertificateError as C;
        use HandshakeFailure as H;
        match err {
            rustls::Error::InvalidCertificate(cert) => match cert {
                C::UnknownIssuer => H::UnknownCa,
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => H::Expired,
                C::NotValidForName | C::NotValidForNameContext { .. } => H::NameMismatch,
                other => H::Other(format!("invalid certificate: {other:?}")),
            },
            rustls::Error::AlertReceived(alert) => match alert {
                AlertDescription::CertificateRequired => H::CertificateRequired,
                AlertDescription::UnknownCA => H::ClientCertUnknownCa,
                AlertDescription::CertificateExpired => H::ClientCertExpired,
                AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateUnknown
                | AlertDescription::AccessDenied => H::ClientCertRefused(format!("{alert:?}")),
                other => H::Other(format!("the collector sent the alert {other:?}")),
            },
            rustls::Error::InvalidMessage(_) => H::NotTls,
            other => H::Other(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rustls errors reach callers as io(Other(io(InvalidData(rustls::Error)))).
    fn wrapped(err: rustls::Error) -> io::Error {
        io::Error::other(io::Error::new(io::ErrorKind::InvalidData, err))
    }

    #[test]
    fn causes_are_found_in_the_chain() {
        use HandshakeFailure as H;
        let cases = [
            (
                rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
                H::CertificateRequired,
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::UnknownCA),
                H::ClientCertUnknownCa,
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::CertificateExpired),
                H::ClientCertExpired,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                H::UnknownCa,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::Expired),
                H::Expired,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
                H::NameMismatch,
            ),
            (
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
                H::NotTls,
            ),
        ];
        for (err, expected) in cases {
            assert_eq!(HandshakeFailure::find(&wrapped(err)), Some(expected));
        }
        let plain = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(HandshakeFailure::find(&plain), None);
    }

    #[test]
    fn each_cause_names_itself() {
        use HandshakeFailure as H;
        for (failure, word) in [
            (H::CertificateRequired, "certificate required"),
            (H::ClientCertUnknownCa, "unknown CA"),
            (H::ClientCertExpired, "expired"),
            (H::UnknownCa, "unknown CA"),
            (H::Expired, "expired"),
            (H::NameMismatch, "name mismatch"),
        ] {
            let text = failure.to_string();
            assert!(text.starts_with(word), "{text}");
        }
    }
}
