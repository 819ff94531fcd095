//! `[collector]`: where the collector listens, its database, the base of
//! the links it sends and the admin token.

use std::net::SocketAddr;

use super::ConfigError;
use super::raw::RawCollector;
use super::source::Source;

#[derive(Debug, Clone)]
pub struct CollectorSection {
    pub grpc_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// `sqlite://…` (relative to the working directory) or `sqlite:///abs`.
    pub database: String,
    /// Base of the `link` in webhooks, without a trailing slash.
    pub public_url: String,
    /// Bearer token for admin calls; `None` leaves them open (loopback use).
    pub admin_token: Option<String>,
    /// TLS on the listeners (`tls_cert`, `tls_key`, `client_ca`,
    /// `http_tls`); `None`: plaintext.
    pub tls: Option<super::TlsSection>,
}

/// Checks `[collector]`; `public_url` defaults to the HTTP listen address.
pub(super) fn validate(src: &Source, c: &RawCollector) -> Result<CollectorSection, ConfigError> {
    let database = c.database.get_ref().clone();
    if !database.starts_with("sqlite:") {
        return src.err(
            &c.database.span(),
            format!(
                "database: {database:?} is not supported (use sqlite://FILE; PostgreSQL comes later)"
            ),
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
    Ok(CollectorSection {
        grpc_listen,
        http_listen,
        database,
        public_url,
        admin_token: c.admin_token.clone().filter(|t| !t.is_empty()),
        tls: super::tls::validate(src, c)?,
    })
}
