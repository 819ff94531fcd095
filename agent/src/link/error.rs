//! Why a session with the collector ended, split into fatal (stop the
//! agent, exit 3) and transient (reconnect with backoff).
//!
//! `from_status` is the one place the agent interprets gRPC codes, through
//! the contract's table (`picket_proto::contract::classify`); nothing
//! matches on message text except a standby's leader hint, which the
//! contract reads (`collectors::leader_hint`).

use picket_proto::contract::{Disposition, classify, collectors};
use picket_tls::HandshakeFailure;
use tonic::Code;

/// A session failure.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The collector refused us for good (bad token or credential,
    /// incompatible protocol, unusable hello). Fatal.
    #[error("refused by collector: {0}")]
    Refused(String),
    /// Another process is connected with our agent id. Transient: the
    /// collector lets us in once the old stream is gone.
    #[error("{0}")]
    AlreadyConnected(String),
    /// The collector could not be reached.
    #[error("cannot reach collector: {}", chain(.0))]
    Unreachable(tonic::transport::Error),
    /// The TLS handshake with the collector failed: we refused its
    /// certificate or it refused ours. Transient (certificates get fixed
    /// and rotated), logged with its cause.
    #[error("TLS handshake with collector failed: {0}")]
    Tls(HandshakeFailure),
    /// The collector answered with another gRPC error.
    #[error("collector error {code:?}: {message}")]
    Status {
        /// The gRPC code.
        code: Code,
        /// The collector's message.
        message: String,
    },
    /// No Welcome arrived in time.
    #[error("no welcome from collector within {0:?}")]
    WelcomeTimeout(std::time::Duration),
    /// The collector sent something out of order or unusable.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The collector closed the stream.
    #[error("collector closed the stream")]
    Closed,
}

/// An error and its sources, joined with `: ` (tonic's transport error says
/// only "transport error" by itself).
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

impl LinkError {
    /// A failed connect: [`LinkError::Tls`] when a TLS error is in its
    /// source chain, else [`LinkError::Unreachable`].
    pub fn unreachable(err: tonic::transport::Error) -> LinkError {
        match HandshakeFailure::find(&err) {
            Some(failure) => LinkError::Tls(failure),
            None => LinkError::Unreachable(err),
        }
    }

    /// Maps a gRPC status from the collector.
    pub fn from_status(status: tonic::Status) -> LinkError {
        if let Some(failure) = HandshakeFailure::find(&status) {
            return LinkError::Tls(failure);
        }
        let message = status.message().to_owned();
        match classify(status.code()) {
            Disposition::Fatal => LinkError::Refused(message),
            Disposition::AlreadyConnected => LinkError::AlreadyConnected(message),
            Disposition::Transient => LinkError::Status {
                code: status.code(),
                message,
            },
        }
    }

    /// The leader's URL when a standby refused us with its hint
    /// (`UNAVAILABLE` "standby; leader is URL", read by the contract).
    pub fn leader_hint(&self) -> Option<String> {
        match self {
            LinkError::Status { code, message } => collectors::leader_hint(*code, message),
            _ => None,
        }
    }

    /// Whether the agent must stop instead of reconnecting.
    pub fn is_fatal(&self) -> bool {
        matches!(self, LinkError::Refused(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        let cases = [
            (Code::Unauthenticated, true, "refused by collector: why"),
            (Code::PermissionDenied, true, "refused by collector: why"),
            (Code::FailedPrecondition, true, "refused by collector: why"),
            (Code::InvalidArgument, true, "refused by collector: why"),
            (Code::AlreadyExists, false, "why"),
            (Code::Unavailable, false, "collector error Unavailable: why"),
            (Code::Internal, false, "collector error Internal: why"),
        ];
        for (code, fatal, display) in cases {
            let err = LinkError::from_status(tonic::Status::new(code, "why"));
            assert_eq!(err.is_fatal(), fatal, "{err:?}");
            assert_eq!(err.to_string(), display);
        }
    }

    #[test]
    fn only_a_standby_refusal_carries_a_hint() {
        let standby = tonic::Status::unavailable("standby; leader is http://127.0.0.2:7070");
        let hint = LinkError::from_status(standby).leader_hint();
        assert_eq!(hint.as_deref(), Some("http://127.0.0.2:7070"));
        let other = tonic::Status::unavailable("store unavailable");
        assert_eq!(LinkError::from_status(other).leader_hint(), None);
        assert_eq!(LinkError::Closed.leader_hint(), None);
    }
}
