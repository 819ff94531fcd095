//! What a scenario needs of the network beyond the harness's own client:
//! a channel from another loopback source address (for per-address rules
//! such as the authentication limiter), the collector's `/metrics`, and
//! any other path of its HTTP listener ([`Harness::http_get`]).

use std::net::{IpAddr, SocketAddr};

use picket_proto::v1::picket_client::PicketClient;
use tonic::transport::Channel;

use super::{Harness, WAIT, within};

/// A gRPC channel to `grpc` whose connections come from `source` (e.g.
/// `127.0.0.2`), for tests about per-address behaviour.
pub async fn channel_from(grpc: SocketAddr, source: IpAddr) -> anyhow::Result<Channel> {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_local_address(Some(source));
    connector.set_nodelay(true);
    Ok(Channel::from_shared(format!("http://{grpc}"))?
        .connect_with_connector(connector)
        .await?)
}

impl Harness {
    /// The text of `/metrics`.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(self.http_addr()).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nhost: picket\r\n\r\n")
            .await?;
        let mut response = String::new();
        within(
            WAIT,
            "the /metrics answer",
            stream.read_to_string(&mut response),
        )
        .await??;
        Ok(response)
    }

    /// `/metrics` asked with this `Accept` header: the response's
    /// `content-type` and its body.
    pub async fn metrics_accepting(&self, accept: &str) -> anyhow::Result<(String, String)> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(self.http_addr()).await?;
        let request = format!("GET /metrics HTTP/1.0\r\nhost: picket\r\naccept: {accept}\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        within(
            WAIT,
            "the /metrics answer",
            stream.read_to_string(&mut response),
        )
        .await??;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow::anyhow!("no end of headers in {response:?}"))?;
        let content_type = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-type")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default();
        Ok((content_type, body.to_owned()))
    }
}

/// An answer of the collector's HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    /// Headers with lowercase names.
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: String,
}

impl Harness {
    /// `GET path` on the HTTP listener (HTTP/1.0, read to the end).
    pub async fn http_get(&self, path: &str) -> anyhow::Result<HttpAnswer> {
        self.http_get_with(path, &[]).await
    }

    /// [`Harness::http_get`] with request `headers` (name, value).
    pub async fn http_get_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<HttpAnswer> {
        let mut request = format!("GET {path} HTTP/1.0\r\nhost: picket\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        self.http_raw(&request, None).await
    }

    /// Sends `request` (a whole HTTP/1.0 request) to the HTTP listener from
    /// `source` (a loopback address; any when `None`), reads the answer.
    pub async fn http_raw(
        &self,
        request: &str,
        source: Option<IpAddr>,
    ) -> anyhow::Result<HttpAnswer> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = match source {
            None => tokio::net::TcpStream::connect(self.http_addr()).await?,
            Some(ip) => {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(ip, 0))?;
                socket.connect(self.http_addr()).await?
            }
        };
        stream.write_all(request.as_bytes()).await?;
        let what = request.lines().next().unwrap_or_default().to_owned();
        let mut response = String::new();
        within(WAIT, &what, stream.read_to_string(&mut response)).await??;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow::anyhow!("no end of headers in {response:?}"))?;
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no status line in {head:?}"))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok(HttpAnswer {
            status,
            headers,
            body: body.to_owned(),
        })
    }
}

/// A client-API client on `channel` with the contract's message limits
/// (`MAX_API_MESSAGE_BYTES`) set explicitly both ways, as picketctl does.
pub fn api_client(channel: Channel) -> PicketClient<Channel> {
    let limit = picket_proto::contract::limits::MAX_API_MESSAGE_BYTES;
    PicketClient::new(channel)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit)
}
