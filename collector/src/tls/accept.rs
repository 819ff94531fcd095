//! Accepting TLS connections for tonic and axum.
//!
//! [`spawn`] runs one accept loop per TLS listener on the task tracker:
//! each TCP connection gets its handshake in its own task (bounded by
//! [`HANDSHAKE_TIMEOUT`]) with the configuration current at that moment,
//! and only completed handshakes reach the server. A refused handshake is
//! logged once with its cause; a plaintext client never gets an answer.
//! [`Incoming`] is the stream tonic's `serve_with_incoming_shutdown`
//! takes, [`TlsListener`] the listener `axum::serve` takes.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tracing::{debug, info, warn};

/// How long the listener pauses after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a client gets to complete its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection whose handshake completed.
pub struct TlsConn(TlsStream<TcpStream>);

/// Completed connections, in accept order.
pub type Incoming = tokio_stream::wrappers::ReceiverStream<TlsConn>;

/// Accepts on `listener` until `cancel`, handshaking each connection with
/// `config()` (called per connection, so a reload applies to the next
/// one). `what` names the listener in log lines.
pub fn spawn(
    listener: TcpListener,
    config: impl Fn() -> Arc<ServerConfig> + Send + 'static,
    what: &'static str,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) -> mpsc::Receiver<TlsConn> {
    let (tx, rx) = mpsc::channel(64);
    tasks.spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                () = cancel.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // E.g. out of file descriptors: back off a little
                        // rather than spin, but never past shutdown.
                        warn!(listener = what, error = %e, "accept failed");
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                        }
                    }
                },
            };
            // As tonic's own listener does: no answer waits on a delayed ACK.
            let _ = tcp.set_nodelay(true);
            let acceptor = tokio_rustls::TlsAcceptor::from(config());
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(TlsConn(stream)).await;
                    }
                    Ok(Err(e)) => {
                        info!(listener = what, %peer, cause = %cause(&e), "TLS handshake refused")
                    }
                    Err(_) => debug!(listener = what, %peer, "TLS handshake timed out"),
                }
            });
        }
    });
    rx
}

/// The cause of a failed server-side handshake, from the typed rustls
/// error inside the io error.
fn cause(e: &io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::NoCertificatesPresented) => "no client certificate".to_owned(),
        Some(rustls::Error::InvalidCertificate(c)) => format!("client certificate refused: {c:?}"),
        Some(rustls::Error::InvalidMessage(_)) => "not TLS (a plaintext client?)".to_owned(),
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

impl Connected for TlsConn {
    type ConnectInfo = TcpConnectInfo;

    /// The TCP addresses, so that `Request::remote_addr` works over TLS.
    fn connect_info(&self) -> TcpConnectInfo {
        self.0.get_ref().0.connect_info()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, b)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The HTTP listener over TLS, for `axum::serve`.
pub struct TlsListener {
    rx: mpsc::Receiver<TlsConn>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(rx: mpsc::Receiver<TlsConn>, local: SocketAddr) -> TlsListener {
        TlsListener { rx, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TlsConn, SocketAddr) {
        match self.rx.recv().await {
            Some(conn) => {
                let peer = conn.0.get_ref().0.peer_addr().unwrap_or(self.local);
                (conn, peer)
            }
            // The accept loop ended (shutdown): graceful shutdown ends serve.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
