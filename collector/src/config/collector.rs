//! `[collector]`: where the collector listens, its database, the base of
//! the links it sends and the API's tokens.
//!
//! It fails closed: off loopback, `grpc_listen` needs `tls_cert` (tokens
//! and credentials must not cross a network in clear) unless
//! `allow_plaintext = true` says a tunnel protects it, and it always needs
//! `admin_token` there (which `allow_plaintext` does not waive).

use std::net::SocketAddr;
use std::time::Duration;

use super::ConfigError;
use super::raw::RawCollector;
use super::source::Source;
use crate::redact::debug_redacted;

#[derive(Clone)]
pub struct CollectorSection {
    pub grpc_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// `sqlite://…` (relative to the working directory) or `sqlite:///abs`.
    pub database: String,
    /// Base of the `link` in webhooks, without a trailing slash.
    pub public_url: String,
    /// Bearer token for admin calls; `None` disables them (they are
    /// refused, never open).
    pub admin_token: Option<String>,
    /// Bearer token for read calls (the admin token also reads); `None`
    /// leaves reads open, as the status page is.
    pub read_token: Option<String>,
    /// TLS on the listeners (`tls_cert`, `tls_key`, `client_ca`,
    /// `http_tls`); `None`: plaintext.
    pub tls: Option<super::TlsSection>,
    /// How long a leader's lease runs unless renewed (`leader`); needs a
    /// restart.
    pub leader_lease: Duration,
    /// The URL agents and clients should use for this collector, given to
    /// them by a standby ("standby; leader is URL").
    pub advertise_url: String,
    /// Bearer token with which instances register themselves as heartbeats
    /// (`POST /heartbeats/register`); `None`: registration is refused.
    pub heartbeat_enrollment_token: Option<String>,
}
debug_redacted!(CollectorSection {
    grpc_listen, http_listen, database, public_url, leader_lease, advertise_url
} secret { admin_token, read_token, heartbeat_enrollment_token });

/// Checks `[collector]`; `public_url` defaults to the HTTP listen address.
pub(super) fn validate(src: &Source, c: &RawCollector) -> Result<CollectorSection, ConfigError> {
    let database = c.database.get_ref().clone();
    if let Err(reason) = crate::store::check_url(&database) {
        return src.err(
            &c.database.span(),
            format!("database: {database:?} {reason}"),
        );
    }
    let http_listen = match &c.http_listen {
        Some(v) => src.addr("http_listen", v)?,
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let public_url = match &c.public_url {
        Some(v) => src
            .http_url("public_url", v)?
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        None => format!("http://{http_listen}"),
    };
    let grpc_listen = match &c.grpc_listen {
        Some(v) => src.addr("grpc_listen", v)?,
        None => SocketAddr::from(([127, 0, 0, 1], 7070)),
    };
    let admin_token = c.admin_token.clone().filter(|t| !t.is_empty());
    fail_closed(src, c, grpc_listen, admin_token.is_some())?;
    let (leader_lease, advertise_url) = leadership(src, c, grpc_listen)?;
    Ok(CollectorSection {
        grpc_listen,
        http_listen,
        database,
        public_url,
        admin_token,
        read_token: c.read_token.clone().filter(|t| !t.is_empty()),
        tls: super::tls::validate(src, c)?,
        leader_lease,
        advertise_url,
        heartbeat_enrollment_token: c
            .heartbeat_enrollment_token
            .clone()
            .filter(|t| !t.is_empty()),
    })
}

/// The shortest and longest `leader_lease`: renewals every third of it
/// must fit a database round trip, and a standby waits up to it.
const LEASE_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(300));

/// `leader_lease` (default 15s) and `advertise_url` (default: the gRPC
/// listen address, `https` when `tls_cert` is set).
fn leadership(
    src: &Source,
    c: &RawCollector,
    grpc_listen: SocketAddr,
) -> Result<(Duration, String), ConfigError> {
    let lease = src.opt_duration(
        "leader_lease",
        c.leader_lease.as_ref(),
        Duration::from_secs(15),
    )?;
    if let Some(v) = &c.leader_lease
        && !(LEASE_RANGE.0..=LEASE_RANGE.1).contains(&lease)
    {
        return src.err(
            &v.span(),
            format!(
                "leader_lease: {:?} is out of range (between {:?} and {:?})",
                v.get_ref(),
                LEASE_RANGE.0,
                LEASE_RANGE.1
            ),
        );
    }
    let advertise_url = match &c.advertise_url {
        Some(v) => src
            .http_url("advertise_url", v)?
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        None => {
            let scheme = if c.tls_cert.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{grpc_listen}")
        }
    };
    Ok((lease, advertise_url))
}

/// Refuses a non-loopback `grpc_listen` without TLS (unless
/// `allow_plaintext`) or without an admin token.
fn fail_closed(
    src: &Source,
    c: &RawCollector,
    grpc_listen: SocketAddr,
    has_admin_token: bool,
) -> Result<(), ConfigError> {
    if grpc_listen.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    if c.tls_cert.is_none() && c.allow_plaintext != Some(true) {
        return src.err_key(
            "grpc_listen",
            format!(
                "{grpc_listen} is not a loopback address and there is no tls_cert: tokens and \
                 credentials would cross the network in clear (set tls_cert and tls_key, or \
                 allow_plaintext = true if a tunnel encrypts the link)"
            ),
        );
    }
    if !has_admin_token {
        return src.err_key(
            "admin_token",
            format!("is required when grpc_listen ({grpc_listen}) is not a loopback address"),
        );
    }
    Ok(())
}
