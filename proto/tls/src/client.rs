//! The client side of the link over TLS: a rustls configuration (platform
//! roots plus any extra roots, an optional client certificate, ALPN `h2`)
//! and [`Connector`], a connector for tonic's
//! `Endpoint::connect_with_connector`.
//!
//! In TLS 1.3 a server verifies the client's certificate after the client
//! has finished its side of the handshake, so a refusal (certificate
//! required, unknown CA, expired) arrives as an alert on the first read.
//! Left to HTTP/2, that alert would reach the caller as a message string;
//! the connector therefore reads the server's first bytes (its HTTP/2
//! SETTINGS, which a gRPC server sends first) itself and hands them back
//! to HTTP/2 ahead of the stream, so the refusal stays a typed
//! `rustls::Error` in the connect error's source chain.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::transport::Uri;

use crate::pem::{self, PemError};

/// A client certificate chain and its private key.
#[derive(Debug)]
pub struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        ClientIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// A client TLS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientTlsError {
    /// A PEM file could not be read or parsed.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// The key does not match the certificate, or rustls refused it.
    #[error("{}: {source}", key.display())]
    Key {
        key: std::path::PathBuf,
        #[source]
        source: rustls::Error,
    },
    /// The verifier or configuration could not be built.
    #[error("failed to set up TLS: {0}")]
    Setup(#[source] rustls::Error),
}

impl ClientIdentity {
    /// Loads a certificate chain and its key, and checks that they match.
    pub fn load(cert: &Path, key: &Path) -> Result<ClientIdentity, ClientTlsError> {
        let chain = pem::certificates(cert)?;
        let private = pem::private_key(key)?;
        rustls::sign::CertifiedKey::from_der(
            chain.clone(),
            private.clone_key(),
            &crate::provider(),
        )
        .map_err(|source| ClientTlsError::Key {
            key: key.to_owned(),
            source,
        })?;
        Ok(ClientIdentity {
            chain,
            key: private,
        })
    }
}

/// What the client trusts and presents.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// Roots trusted on top of the platform's (`--ca-cert`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The client certificate (`--client-cert`, `--client-key`).
    pub identity: Option<ClientIdentity>,
}

impl ClientTls {
    /// The rustls configuration: ring, the platform verifier with the
    /// extra roots, ALPN `h2`.
    pub fn config(&self) -> Result<rustls::ClientConfig, ClientTlsError> {
        let provider = crate::provider();
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
            self.extra_roots.clone(),
            provider.clone(),
        )
        .map_err(ClientTlsError::Setup)?;
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(ClientTlsError::Setup)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match &self.identity {
            Some(id) => builder
                .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
                .map_err(ClientTlsError::Setup)?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }

    /// A connector for `https://` endpoints.
    pub fn connector(&self) -> Result<Connector, ClientTlsError> {
        Ok(Connector {
            tls: TlsConnector::from(Arc::new(self.config()?)),
        })
    }
}

/// Why a TLS connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URI has no usable host.
    #[error("no host in {0}")]
    NoHost(String),
    /// The host is not a valid TLS server name.
    #[error("invalid server name {0:?}")]
    ServerName(String),
    /// TCP connect failed.
    #[error("connect: {0}")]
    Tcp(#[source] io::Error),
    /// The handshake failed, or the server refused us right after it.
    #[error("TLS handshake: {}", crate::HandshakeFailure::find(.0).map_or_else(|| .0.to_string(), |f| f.to_string()))]
    Handshake(#[source] io::Error),
    /// The server closed the connection right after the handshake.
    #[error("the server closed the connection after the TLS handshake")]
    Closed,
}

/// Opens TCP + TLS connections for tonic (`connect_with_connector`).
#[derive(Clone)]
pub struct Connector {
    tls: TlsConnector,
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Primed>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<TokioIo<Primed>, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move { connect(tls, uri).await.map(TokioIo::new) })
    }
}

async fn connect(tls: TlsConnector, uri: Uri) -> Result<Primed, ConnectError> {
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ConnectError::NoHost(uri.to_string()))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let name =
        ServerName::try_from(host.clone()).map_err(|_| ConnectError::ServerName(host.clone()))?;
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(ConnectError::Tcp)?;
    let _ = tcp.set_nodelay(true);
    let mut stream = tls
        .connect(name, tcp)
        .await
        .map_err(ConnectError::Handshake)?;
    let mut head = vec![0u8; 4096];
    let n = stream
        .read(&mut head)
        .await
        .map_err(ConnectError::Handshake)?;
    if n == 0 {
        return Err(ConnectError::Closed);
    }
    head.truncate(n);
    Ok(Primed {
        head,
        pos: 0,
        inner: stream,
    })
}

/// A TLS stream with the bytes the connector already read put back in
/// front of it.
pub struct Primed {
    head: Vec<u8>,
    pos: usize,
    inner: TlsStream<TcpStream>,
}

impl AsyncRead for Primed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.head.len() {
            let n = buf.remaining().min(self.head.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.head[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Primed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_key_that_does_not_match_its_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let cert_path = dir.path().join("client.crt");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        let key_path = dir.path().join("client.key");
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let other_path = dir.path().join("other.key");
        std::fs::write(&other_path, other.serialize_pem()).unwrap();

        let identity = ClientIdentity::load(&cert_path, &key_path).unwrap();
        let tls = ClientTls {
            extra_roots: Vec::new(),
            identity: Some(identity),
        };
        assert!(tls.config().unwrap().client_auth_cert_resolver.has_certs());
        let err = ClientIdentity::load(&cert_path, &other_path).unwrap_err();
        assert!(matches!(err, ClientTlsError::Key { .. }), "{err:?}");
        assert!(err.to_string().contains("other.key"), "{err}");
    }
}
