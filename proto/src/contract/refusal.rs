//! Why the collector refuses an agent's stream, the gRPC code each refusal
//! travels as, and what the agent does when it receives that code.
//!
//! The collector turns its refusal into a status with
//! [`RefusalKind::status`]; the agent reads any status it gets with
//! [`classify`]. Both go through [`RefusalKind::code`], the one table.

use tonic::{Code, Status};

/// A kind of refusal, as both sides understand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// The enrollment token is wrong (first contact). Fatal.
    BadToken,
    /// The credential does not match the agent id. Fatal.
    BadCredential,
    /// Another stream with this agent id is live. Retried: the collector
    /// lets the agent in once the old stream is gone.
    Duplicate,
    /// The agent speaks another protocol version. Fatal.
    Incompatible,
    /// The Hello itself is unusable (e.g. an empty agent id). Fatal: the
    /// same Hello would be refused again.
    Invalid,
    /// A message after the Hello is unusable (a second Hello, an empty or
    /// unknown message). Retried: a new session starts clean, and an agent
    /// newer than this collector must not be stopped for good by it.
    Protocol,
    /// The collector cannot serve the agent right now (store error,
    /// shutting down). Retried.
    Unavailable,
    /// Too many failed authentications from the agent's address; its
    /// token or credential was not checked. Retried (the limit refills
    /// within seconds).
    RateLimited,
}

/// What an agent does after its stream ended with a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// Stop for good (the agent exits 3).
    Fatal,
    /// Its agent id is still connected: reconnect with backoff.
    AlreadyConnected,
    /// Anything else: reconnect with backoff.
    Transient,
}

impl RefusalKind {
    /// Every kind, for tables and tests.
    pub const ALL: [RefusalKind; 8] = [
        RefusalKind::BadToken,
        RefusalKind::BadCredential,
        RefusalKind::Duplicate,
        RefusalKind::Incompatible,
        RefusalKind::Invalid,
        RefusalKind::Protocol,
        RefusalKind::Unavailable,
        RefusalKind::RateLimited,
    ];

    /// The gRPC code this refusal travels as.
    pub fn code(self) -> Code {
        match self {
            RefusalKind::BadToken | RefusalKind::BadCredential => Code::Unauthenticated,
            RefusalKind::Duplicate => Code::AlreadyExists,
            RefusalKind::Incompatible => Code::FailedPrecondition,
            RefusalKind::Invalid => Code::InvalidArgument,
            RefusalKind::Protocol => Code::Aborted,
            RefusalKind::Unavailable => Code::Unavailable,
            RefusalKind::RateLimited => Code::ResourceExhausted,
        }
    }

    /// What the agent does when refused this way.
    pub fn disposition(self) -> Disposition {
        match self {
            RefusalKind::BadToken
            | RefusalKind::BadCredential
            | RefusalKind::Incompatible
            | RefusalKind::Invalid => Disposition::Fatal,
            RefusalKind::Duplicate => Disposition::AlreadyConnected,
            RefusalKind::Protocol | RefusalKind::Unavailable | RefusalKind::RateLimited => {
                Disposition::Transient
            }
        }
    }

    /// The status the collector answers with; `reason` is the line the
    /// agent prints when the refusal is fatal.
    pub fn status(self, reason: impl Into<String>) -> Status {
        Status::new(self.code(), reason)
    }
}

/// What an agent does with a status code from the collector: the
/// disposition of the refusal sent with that code, `Fatal` for
/// `PERMISSION_DENIED` (never sent by the collector, but a proxy in front of
/// it refusing access will not change its mind), `Transient` otherwise.
pub fn classify(code: Code) -> Disposition {
    if code == Code::PermissionDenied {
        return Disposition::Fatal;
    }
    RefusalKind::ALL
        .into_iter()
        .find(|kind| kind.code() == code)
        .map_or(Disposition::Transient, RefusalKind::disposition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_one_code_and_one_disposition() {
        fn check(kind: RefusalKind, expected: (Code, Disposition)) {
            assert_eq!((kind.code(), kind.disposition()), expected, "{kind:?}");
            // Round trip: the agent reads the code back as the same disposition.
            assert_eq!(classify(kind.code()), expected.1, "{kind:?}");
            let status = kind.status("why");
            assert_eq!((status.code(), status.message()), (expected.0, "why"));
        }
        use Disposition::*;
        check(RefusalKind::BadToken, (Code::Unauthenticated, Fatal));
        check(RefusalKind::BadCredential, (Code::Unauthenticated, Fatal));
        check(
            RefusalKind::Duplicate,
            (Code::AlreadyExists, AlreadyConnected),
        );
        check(RefusalKind::Incompatible, (Code::FailedPrecondition, Fatal));
        check(RefusalKind::Invalid, (Code::InvalidArgument, Fatal));
        check(RefusalKind::Protocol, (Code::Aborted, Transient));
        check(RefusalKind::Unavailable, (Code::Unavailable, Transient));
        check(
            RefusalKind::RateLimited,
            (Code::ResourceExhausted, Transient),
        );
    }

    #[test]
    fn codes_outside_the_table_classify() {
        fn check(code: Code, expected: Disposition) {
            assert_eq!(classify(code), expected, "{code:?}");
        }
        check(Code::PermissionDenied, Disposition::Fatal);
        check(Code::DeadlineExceeded, Disposition::Transient);
        check(Code::Cancelled, Disposition::Transient);
        check(Code::Internal, Disposition::Transient);
        check(Code::Unknown, Disposition::Transient);
    }

    #[test]
    fn codes_of_fatal_and_retried_refusals_do_not_overlap() {
        for a in RefusalKind::ALL {
            for b in RefusalKind::ALL {
                if a.code() == b.code() {
                    assert_eq!(a.disposition(), b.disposition(), "{a:?} and {b:?}");
                }
            }
        }
    }
}
