//! `GET PATH` → status code over plain HTTP/1.1 or HTTPS: the harness's
//! readiness probe (`/readyz`) and the tests' checks of the HTTP listener;
//! and `GET PATH` → status and body over plain HTTP (the status pages).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// `GET PATH` over HTTP/1.1 on `addr`; returns the status code.
pub async fn http_get_status(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    get_status(stream, addr, path).await
}

/// `GET PATH` over HTTP/1.1 on `addr`; returns the status code and the
/// body (read until the server closes).
pub async fn http_get_page(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (code, answer) = get(stream, addr, path, true).await?;
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    Ok((code, body))
}

/// `GET PATH` over HTTP/1.1 on an open `stream` to `addr`.
async fn get_status(
    stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    addr: SocketAddr,
    path: &str,
) -> anyhow::Result<u16> {
    Ok(get(stream, addr, path, false).await?.0)
}

/// `GET PATH`: the status code, and what was read (the whole answer when
/// `whole`, else at least its status line).
async fn get(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    addr: SocketAddr,
    path: &str,
    whole: bool,
) -> anyhow::Result<(u16, String)> {
    let exchange = async {
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 256];
        while whole || !head.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .with_context(|| format!("not an HTTP status line: {head:?}"))?;
        Ok::<_, anyhow::Error>((code, head))
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| anyhow::anyhow!("GET {path}: no answer within 2s"))?
}

/// `GET PATH` over HTTPS (HTTP/1.1) on `addr`, trusting only `ca`;
/// returns the status code.
pub async fn https_get_status(addr: SocketAddr, path: &str, ca: &Path) -> anyhow::Result<u16> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::from(addr.ip());
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .context("TLS handshake")?;
    get_status(tls, addr, path).await
}
