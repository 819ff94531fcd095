//! [`WebhookSink`]: a real HTTP receiver on `127.0.0.1:0` that records every
//! POST (headers, JSON body, arrival time) and answers with a configurable
//! status (200 by default), or with a script of [`Reply`]s (status and
//! headers, e.g. `Retry-After` or `Location`) answered in order first.
//!
//! Waiting is event-driven: every recorded delivery wakes the waiters of
//! [`WebhookSink::await_delivery`] through a `Notify`, so no polling.
//! The server task ends when the sink drops.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::Notify;

/// One recorded POST.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Request path (with query), e.g. `/hook`.
    pub path: String,
    /// Headers with lowercase names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON (`Value::Null` if it is not JSON).
    pub body: Value,
    /// The body as received (lossy UTF-8).
    pub raw_body: String,
    /// When the sink received it.
    pub received_at: SystemTime,
}

impl Delivery {
    /// The `event` field of the body (`request.opened`, …).
    pub fn event(&self) -> Option<&str> {
        self.body.get("event").and_then(Value::as_str)
    }

    /// A header by name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The `(user, password)` of an `Authorization: Basic …` header.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        decode_basic_auth(self.header("authorization")?)
    }
}

/// Decodes an `Authorization` header value `Basic base64(user:password)`.
pub fn decode_basic_auth(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// One scripted answer: a status and headers, with an empty body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
        }
    }

    /// Adds a header to the answer.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// State shared between the sink handle and its server task.
#[derive(Debug)]
struct Shared {
    deliveries: Mutex<Vec<Delivery>>,
    /// Woken on every recorded delivery.
    arrived: Notify,
    /// Status code the sink answers with once the script is used up.
    status: AtomicU16,
    /// Answers to give first, in order.
    script: Mutex<VecDeque<Reply>>,
}

/// A running webhook receiver.
#[derive(Debug)]
pub struct WebhookSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The accept loop; aborted on drop.
    server: tokio::task::JoinHandle<()>,
}

impl WebhookSink {
    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start() -> anyhow::Result<WebhookSink> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            deliveries: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            status: AtomicU16::new(200),
            script: Mutex::new(VecDeque::new()),
        });
        let server = tokio::spawn(serve(listener, shared.clone()));
        Ok(WebhookSink {
            addr,
            shared,
            server,
        })
    }

    /// The URL to configure: `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the status the sink answers with from now on.
    pub fn set_status(&self, code: u16) {
        self.shared.status.store(code, Ordering::SeqCst);
    }

    /// Queues `replies`: the next POSTs get them, in order, before the
    /// sink falls back to its status.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(replies);
    }

    /// How many POSTs arrived.
    pub fn hits(&self) -> usize {
        self.lock().len()
    }

    /// Every delivery so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().clone()
    }

    /// The deliveries whose body has `event == event_type`.
    pub fn deliveries_of(&self, event_type: &str) -> Vec<Delivery> {
        self.lock()
            .iter()
            .filter(|d| d.event() == Some(event_type))
            .cloned()
            .collect()
    }

    /// The first delivery of `event_type` (already received or to come);
    /// fails after `within`, listing what was received.
    pub async fn await_delivery(
        &self,
        event_type: &str,
        within: Duration,
    ) -> anyhow::Result<Delivery> {
        let mut all = self.await_deliveries(event_type, 1, within).await?;
        Ok(all.swap_remove(0))
    }

    /// Waits until at least `count` deliveries of `event_type` arrived and
    /// returns all of them.
    pub async fn await_deliveries(
        &self,
        event_type: &str,
        count: usize,
        within: Duration,
    ) -> anyhow::Result<Vec<Delivery>> {
        let deadline = Instant::now() + within;
        loop {
            // Register interest before looking, so a delivery recorded in
            // between is not missed.
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let found = self.deliveries_of(event_type);
            if found.len() >= count {
                return Ok(found);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            // Bounded in real time: under a paused clock a tokio timeout
            // would never fire.
            let waited = crate::inproc::within(remaining, "a delivery", arrived).await;
            if remaining.is_zero() || waited.is_err() {
                let seen: Vec<String> = self
                    .deliveries()
                    .iter()
                    .map(|d| d.event().unwrap_or("(no event field)").to_owned())
                    .collect();
                anyhow::bail!(
                    "timed out after {within:?} waiting for {count} {event_type} webhook \
                     deliveries (got {}); received events: {seen:?}\nprocess logs:{}",
                    found.len(),
                    crate::log_tails()
                );
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Delivery>> {
        self.shared
            .deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, shared.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if req.method() != Method::POST {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED));
    }
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| String::from("/"), |p| p.as_str().to_owned());
    let mut headers = BTreeMap::<String, String>::new();
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let bytes = req.into_body().collect().await?.to_bytes();
    let delivery = Delivery {
        path,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        raw_body: String::from_utf8_lossy(&bytes).into_owned(),
        received_at: SystemTime::now(),
    };
    shared
        .deliveries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(delivery);
    let scripted = shared
        .script
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop_front();
    shared.arrived.notify_waiters();
    let answer = scripted.unwrap_or_else(|| Reply::status(shared.status.load(Ordering::SeqCst)));
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = reply(status);
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

fn reply(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// POSTs `body` with raw HTTP/1.1 and returns the response status code.
    async fn post(sink: &WebhookSink, body: &str, auth: Option<&str>) -> u16 {
        let mut stream = tokio::net::TcpStream::connect(sink.addr()).await.unwrap();
        let auth = auth.map_or_else(String::new, |a| format!("Authorization: {a}\r\n"));
        let request = format!(
            "POST /hook?x=1 HTTP/1.1\r\nHost: sink\r\nContent-Type: application/json\r\n\
             X-Custom: A\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn records_headers_body_and_answers_the_configured_status() {
        let sink = WebhookSink::start().await.unwrap();
        let code = post(
            &sink,
            r#"{"event":"request.opened","id":7}"#,
            Some("Basic dTpwOnc="),
        )
        .await;
        assert_eq!(code, 200);
        sink.set_status(503);
        assert_eq!(post(&sink, "not json", None).await, 503);

        let all = sink.deliveries();
        assert_eq!(all.len(), 2);
        let first = &all[0];
        assert_eq!(first.path, "/hook?x=1");
        assert_eq!(first.event(), Some("request.opened"));
        assert_eq!(first.body["id"], 7);
        assert_eq!(first.header("X-CUSTOM"), Some("A"));
        assert_eq!(
            first.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
        // The password may itself contain ':'.
        assert_eq!(first.basic_auth(), Some(("u".to_owned(), "p:w".to_owned())));
        assert_eq!(all[1].body, Value::Null);
        assert_eq!(all[1].raw_body, "not json");
        assert_eq!(all[1].basic_auth(), None);
        assert_eq!(sink.deliveries_of("request.opened").len(), 1);
    }

    #[tokio::test]
    async fn await_delivery_wakes_on_arrival_and_times_out_with_what_came() {
        let sink = Arc::new(WebhookSink::start().await.unwrap());
        let waiter = {
            let sink = sink.clone();
            tokio::spawn(async move {
                sink.await_delivery("request.closed", Duration::from_secs(10))
                    .await
            })
        };
        post(&sink, r#"{"event":"request.opened"}"#, None).await;
        post(&sink, r#"{"event":"request.closed","id":1}"#, None).await;
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.body["id"], 1);
        // Already received: returns at once.
        let again = sink
            .await_delivery("request.opened", Duration::from_millis(1))
            .await
            .unwrap();
        assert_eq!(again.event(), Some("request.opened"));

        let err = sink
            .await_delivery("agent.down", Duration::from_millis(100))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("agent.down"), "{err}");
        assert!(err.contains("request.closed"), "{err}");
    }

    /// POSTs and returns the raw response head.
    async fn post_head(sink: &WebhookSink) -> String {
        let mut stream = tokio::net::TcpStream::connect(sink.addr()).await.unwrap();
        stream
            .write_all(b"POST /hook HTTP/1.1\r\nHost: sink\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response.to_ascii_lowercase()
    }

    #[tokio::test]
    async fn answers_the_script_in_order_then_the_status() {
        let sink = WebhookSink::start().await.unwrap();
        sink.set_status(204);
        sink.script([
            Reply::status(503).header("Retry-After", "120"),
            Reply::status(302).header("Location", "http://127.0.0.1:9/x"),
        ]);
        let first = post_head(&sink).await;
        assert!(first.starts_with("http/1.1 503"), "{first}");
        assert!(first.contains("retry-after: 120"), "{first}");
        let second = post_head(&sink).await;
        assert!(second.starts_with("http/1.1 302"), "{second}");
        assert!(
            second.contains("location: http://127.0.0.1:9/x"),
            "{second}"
        );
        assert!(post_head(&sink).await.starts_with("http/1.1 204"));
        assert_eq!(sink.hits(), 3);
    }

    #[test]
    fn decodes_basic_auth() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("n8n:secret")
        );
        assert_eq!(
            decode_basic_auth(&header),
            Some(("n8n".to_owned(), "secret".to_owned()))
        );
        assert_eq!(decode_basic_auth("Bearer abc"), None);
        assert_eq!(decode_basic_auth("Basic !!!"), None);
    }
}
