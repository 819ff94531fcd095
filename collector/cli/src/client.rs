//! The connection to the collector: a `picket.v1.Picket` client over one
//! tonic channel, with the admin bearer token (if given) on every call.
//!
//! This module owns the `--collector` / `--token` handling and the one
//! mapping of a gRPC [`Status`] to the CLI's error line; it knows nothing
//! about commands or output.

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

/// Connects to `collector` (a URL such as `http://127.0.0.1:7070`).
pub async fn connect(collector: &str, token: Option<&str>) -> anyhow::Result<Client> {
    let endpoint = Endpoint::from_shared(collector.to_owned())
        .with_context(|| format!("invalid --collector {collector:?}"))?;
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach the collector at {collector}"))?;
    let auth = match token {
        Some(t) => Some(
            format!("Bearer {t}")
                .parse()
                .context("the token must be printable ASCII")?,
        ),
        None => None,
    };
    Ok(PicketClient::with_interceptor(channel, Auth(auth)))
}

/// The answer to a call, or the server's message as the error.
pub async fn answer<T>(
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> anyhow::Result<T> {
    Ok(call.await.map_err(status)?.into_inner())
}

/// A failed call becomes the server's message, printed as is.
pub fn status(e: Status) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message())
}
