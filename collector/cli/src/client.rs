//! The connection to the collector: a `picket.v1.Picket` client over one
//! tonic channel, with the admin bearer token (if given) on every call.
//!
//! This module owns the `--collector` / `--token` handling, TLS for an
//! `https://` collector (`--ca-cert`, `--client-cert`, `--client-key`,
//! through `picket-tls`), and the one mapping of a gRPC [`Status`] to the
//! CLI's error line ([`CallError`]; [`Unreachable`] for a failed connect);
//! it knows nothing about commands or output.

use std::path::PathBuf;

use anyhow::Context;
use picket_proto::tonic::metadata::{Ascii, MetadataValue};
use picket_proto::tonic::service::Interceptor;
use picket_proto::tonic::service::interceptor::InterceptedService;
use picket_proto::tonic::transport::{Channel, Endpoint};
use picket_proto::tonic::{Request, Response, Status};
use picket_proto::v1::picket_client::PicketClient;

/// A connected client; every command takes `&mut Client`.
pub type Client = PicketClient<InterceptedService<Channel, Auth>>;

/// Adds `authorization: Bearer TOKEN` to each request when a token is set.
#[derive(Clone)]
pub struct Auth(Option<MetadataValue<Ascii>>);

impl Interceptor for Auth {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// TLS files for an `https://` collector.
#[derive(Debug, Default)]
pub struct TlsFiles {
    /// `--ca-cert`: a root trusted on top of the system's.
    pub ca_cert: Option<PathBuf>,
    /// `--client-cert` and `--client-key`.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Connects to `collector` (a URL such as `http://127.0.0.1:7070` or
/// `https://collector.example:7070`).
pub async fn connect(
    collector: &str,
    token: Option<&str>,
    tls: &TlsFiles,
) -> anyhow::Result<Client> {
    let endpoint = Endpoint::from_shared(collector.to_owned())
        .with_context(|| format!("invalid --collector {collector:?}"))?;
    let https = endpoint.uri().scheme_str() == Some("https");
    let connected = if https {
        endpoint.connect_with_connector(connector(tls)?).await
    } else {
        anyhow::ensure!(
            tls.client.is_none(),
            "--client-cert needs an https:// --collector"
        );
        endpoint.connect().await
    };
    let channel = connected.map_err(|e| {
        anyhow::Error::new(Unreachable(match picket_tls::HandshakeFailure::find(&e) {
            Some(failure) => {
                anyhow::anyhow!("TLS handshake with the collector at {collector} failed: {failure}")
            }
            None => {
                anyhow::Error::new(e).context(format!("cannot reach the collector at {collector}"))
            }
        }))
    })?;
    let auth = match token {
        Some(t) => Some(
            format!("Bearer {t}")
                .parse()
                .context("the token must be printable ASCII")?,
        ),
        None => None,
    };
    let limit = picket_proto::contract::limits::MAX_API_MESSAGE_BYTES;
    Ok(PicketClient::with_interceptor(channel, Auth(auth))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit))
}

fn connector(files: &TlsFiles) -> anyhow::Result<picket_tls::Connector> {
    let mut tls = picket_tls::ClientTls::default();
    if let Some(path) = &files.ca_cert {
        tls.extra_roots = picket_tls::pem::certificates(path).context("--ca-cert")?;
    }
    if let Some((cert, key)) = &files.client {
        tls.identity = Some(
            picket_tls::ClientIdentity::load(cert, key).context("--client-cert/--client-key")?,
        );
    }
    tls.connector().context("failed to set up TLS")
}

/// The answer to a call, or the server's message as the error.
pub async fn answer<T>(
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> anyhow::Result<T> {
    Ok(call.await.map_err(status)?.into_inner())
}

/// A failed call becomes the server's message, printed as is.
pub fn status(e: Status) -> anyhow::Error {
    anyhow::Error::new(CallError(e))
}

/// A call the collector refused; shown as its message, kept whole so
/// [`crate::failover`] can read its code.
#[derive(Debug)]
pub struct CallError(pub Status);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.message())
    }
}

impl std::error::Error for CallError {}

/// The collector could not be reached (or its TLS handshake failed):
/// [`crate::failover`] tries the next one.
#[derive(Debug)]
pub struct Unreachable(pub anyhow::Error);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Unreachable {}
