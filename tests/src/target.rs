//! Controllable loopback HTTP(S) targets for agent probes.
//!
//! A [`Target`] listens on `127.0.0.1:0` and answers every request with the
//! status and body its test sets (default `200 ok`), can hang (read the
//! request, never answer), can answer differently per source address (agents
//! bound to 127.0.0.2/.3 stand for different networks), and counts hits per
//! source. HTTPS targets use certificates from a [`TestCa`]: valid for
//! `127.0.0.1`, expired, or valid only for `wrong.example`.
//!
//! **Invariant**: waiting is event-driven ([`Target::wait_hits`] wakes on
//! each hit); the server task and all its connections stop when the last
//! handle to the target is dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A throwaway certificate authority for HTTPS targets.
pub struct TestCa {
    /// The CA certificate, PEM (give it to an agent with `--ca-cert`).
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Default for TestCa {
    fn default() -> TestCa {
        TestCa::new()
    }
}

impl TestCa {
    /// A new CA with a fresh key.
    pub fn new() -> TestCa {
        TestCa::named("Picket Test CA")
    }

    /// A new CA with a fresh key and this common name (CAs that must be
    /// told apart need different names, as real ones have).
    pub fn named(common_name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes the CA certificate to `dir/ca.pem` and returns that path.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.cert_pem).unwrap();
        path
    }

    /// A leaf certificate for `names` with extended key usage `purpose`
    /// (server or client auth), expired since 2001 when `expired`, signed
    /// by this CA: `(certificate PEM, PKCS#8 key PEM)`.
    pub fn leaf_pem(
        &self,
        names: &[&str],
        purpose: ExtendedKeyUsagePurpose,
        expired: bool,
    ) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "picket test leaf");
        params.extended_key_usages = vec![purpose];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A leaf certificate and key for `mode`.
    fn leaf(&self, mode: &TlsMode) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let sans: Vec<String> = match mode {
            TlsMode::Valid | TlsMode::Expired => vec!["127.0.0.1".into(), "localhost".into()],
            TlsMode::WrongHost => vec!["wrong.example".into()],
        };
        let mut params = CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "picket test target");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if let TlsMode::Expired = mode {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key)
    }
}

/// Which certificate an HTTPS target presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Valid for `127.0.0.1` (and `localhost`), signed by the CA.
    Valid,
    /// Signed by the CA, valid for `127.0.0.1`, but expired in 2001.
    Expired,
    /// Signed by the CA, valid only for `wrong.example`.
    WrongHost,
}

/// The state tests control and observe, shared with the server task.
struct State {
    status: AtomicU16,
    body: Mutex<Bytes>,
    location: Mutex<Option<String>>,
    hang: AtomicBool,
    fail_from: Mutex<HashMap<IpAddr, u16>>,
    hits: AtomicU64,
    hits_from: Mutex<HashMap<IpAddr, u64>>,
    /// Woken on every hit.
    hit: Notify,
}

/// Aborts the server task (and with it every connection) when dropped.
struct ServerGuard(AbortHandle);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running loopback HTTP(S) target. Clones share the same server.
#[derive(Clone)]
pub struct Target {
    state: Arc<State>,
    url: String,
    _server: Arc<ServerGuard>,
}

impl Target {
    /// A plain HTTP target on `127.0.0.1`.
    pub async fn http() -> Target {
        Target::start(None).await
    }

    /// An HTTPS target on `127.0.0.1` presenting a certificate from `ca`.
    pub async fn https(ca: &TestCa, mode: TlsMode) -> Target {
        let (chain, key) = ca.leaf(&mode);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Target::start(Some(TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn start(tls: Option<TlsAcceptor>) -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let state = Arc::new(State {
            status: AtomicU16::new(200),
            body: Mutex::new(Bytes::from_static(b"ok")),
            location: Mutex::new(None),
            hang: AtomicBool::new(false),
            fail_from: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            hits_from: Mutex::new(HashMap::new()),
            hit: Notify::new(),
        });
        let server = tokio::spawn(serve(listener, tls, state.clone()));
        Target {
            state,
            url: format!("{scheme}://{addr}"),
            _server: Arc::new(ServerGuard(server.abort_handle())),
        }
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The status every response carries (default 200).
    pub fn set_status(&self, code: u16) {
        self.state.status.store(code, Ordering::SeqCst);
    }

    /// The body every response carries (default `ok`).
    pub fn set_body(&self, body: &str) {
        *self.state.body.lock().unwrap() = Bytes::copy_from_slice(body.as_bytes());
    }

    /// When set, responses carry this `Location` header (pair it with a 3xx
    /// status to make redirects; pointing at the target itself loops).
    pub fn set_redirect(&self, location: Option<&str>) {
        *self.state.location.lock().unwrap() = location.map(str::to_owned);
    }

    /// When true, requests are read and counted but never answered.
    pub fn set_hang(&self, hang: bool) {
        self.state.hang.store(hang, Ordering::SeqCst);
    }

    /// Requests from these source addresses get `code` instead of the
    /// target's status; an empty slice clears every override.
    pub fn fail_from(&self, sources: &[IpAddr], code: u16) {
        let mut map = self.state.fail_from.lock().unwrap();
        if sources.is_empty() {
            map.clear();
        }
        for ip in sources {
            map.insert(*ip, code);
        }
    }

    /// Requests received so far.
    pub fn hits(&self) -> u64 {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Requests received so far from `ip`.
    pub fn hits_from(&self, ip: IpAddr) -> u64 {
        self.state
            .hits_from
            .lock()
            .unwrap()
            .get(&ip)
            .copied()
            .unwrap_or(0)
    }

    /// Waits until the target has received at least `n` requests.
    pub async fn wait_hits(&self, n: u64, within: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.state.hit.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let hits = self.hits();
            if hits >= n {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                anyhow::bail!(
                    "target {} never reached {n} hits within {within:?} (saw {})",
                    self.url,
                    self.hits()
                );
            }
        }
    }
}

/// A loopback port that refuses connections for as long as this value
/// lives: its socket is bound, so no parallel test can take the port, but
/// never listens, so a connect gets a reset ("connection refused").
pub struct ClosedPort {
    _socket: tokio::net::TcpSocket,
    addr: SocketAddr,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        ClosedPort {
            _socket: socket,
            addr,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}

async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, state: Arc<State>) {
    // Connections live in this set, so aborting the server drops them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let state = state.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                connection(TokioIo::new(stream), peer, state).await;
                            }
                        }
                        None => connection(TokioIo::new(stream), peer, state).await,
                    }
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn connection<I>(io: I, peer: SocketAddr, state: Arc<State>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| respond(req, peer.ip(), state.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

async fn respond(
    _req: Request<hyper::body::Incoming>,
    source: IpAddr,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    state.hits.fetch_add(1, Ordering::SeqCst);
    *state.hits_from.lock().unwrap().entry(source).or_insert(0) += 1;
    state.hit.notify_waiters();
    if state.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let status = state
        .fail_from
        .lock()
        .unwrap()
        .get(&source)
        .copied()
        .unwrap_or_else(|| state.status.load(Ordering::SeqCst));
    let body = state.body.lock().unwrap().clone();
    let mut response = Response::builder().status(status);
    if let Some(location) = state.location.lock().unwrap().as_deref() {
        response = response.header("location", location);
    }
    Ok(response.body(Full::new(body)).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(url: &str, from: IpAddr) -> String {
        let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn answers_and_counts_per_source() {
        let target = Target::http().await;
        let one: IpAddr = "127.0.0.1".parse().unwrap();
        let two: IpAddr = "127.0.0.2".parse().unwrap();
        let reply = get(&target.url(), one).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("ok"), "{reply}");

        target.fail_from(&[two], 503);
        target.set_body("down");
        let reply = get(&target.url(), two).await;
        assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
        assert!(reply.ends_with("down"), "{reply}");
        target.wait_hits(2, Duration::from_secs(5)).await.unwrap();
        assert_eq!(target.hits_from(one), 1);
        assert_eq!(target.hits_from(two), 1);

        target.fail_from(&[], 0);
        let reply = get(&target.url(), two).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    }

    #[tokio::test]
    async fn wait_hits_names_what_never_happened() {
        let target = Target::http().await;
        let err = target
            .wait_hits(1, Duration::from_millis(50))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("never reached 1 hits"), "{err}");
    }

    #[tokio::test]
    async fn dropped_target_stops_listening() {
        let target = Target::http().await;
        let addr: SocketAddr = target.url().trim_start_matches("http://").parse().unwrap();
        drop(target);
        // The abort is asynchronous: wait (bounded) until connects fail.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "still listening");
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn closed_port_refuses_while_it_lives() {
        let closed = ClosedPort::new();
        let addr: SocketAddr = closed.url().trim_start_matches("http://").parse().unwrap();
        let err = std::net::TcpStream::connect(addr).expect_err("nothing listens");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(
            std::net::TcpListener::bind(addr).is_err(),
            "the port stays reserved"
        );
    }
}
