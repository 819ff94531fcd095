//! The gates in front of what only a leader serves: the gRPC services
//! (`AgentLink`, the `Picket` API) and the HTTP routes other than
//! `/healthz` exist from the start, but are served by the leader's parts
//! only once the collector leads and they have started ([`Gate::open`],
//! [`HttpGate::open`]). Until then a gate hands calls to its standby
//! service if it has one (the `Picket` API's read calls and the status
//! pages, from the store: [`Gate::with_standby`],
//! [`HttpGate::with_standby`]), and otherwise answers gRPC calls with
//! `UNAVAILABLE` "standby; leader is URL" (`AgentLink`), HTTP with 503
//! and the same words. `/readyz` answers 503 on a standby either way;
//! `/metrics` shows what is in memory (`picket_leader 0`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::server::NamedService;

use super::{Role, RoleCell, not_leading};
use crate::metrics::Metrics;

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

/// What the role says about serving now: `Ok` to serve, or the refusal.
fn refusal(role: &RoleCell, started: bool) -> Option<String> {
    if started && *role.borrow() == Role::Leader {
        None
    } else {
        Some(not_leading(role))
    }
}

/// A gRPC service served only while leading.
pub struct Gate<S> {
    inner: Arc<OnceLock<S>>,
    /// What serves while not leading, if anything does.
    standby: Option<S>,
    role: RoleCell,
}

impl<S: Clone> Clone for Gate<S> {
    fn clone(&self) -> Self {
        Gate {
            inner: self.inner.clone(),
            standby: self.standby.clone(),
            role: self.role.clone(),
        }
    }
}

impl<S> Gate<S> {
    pub fn new(role: RoleCell) -> Self {
        Gate {
            inner: Arc::default(),
            standby: None,
            role,
        }
    }

    /// Hands calls to `service` while not leading (it decides what to
    /// refuse).
    pub fn with_standby(mut self, service: S) -> Self {
        self.standby = Some(service);
        self
    }

    /// Serves `service` from now on (while leading).
    pub fn open(&self, service: S) {
        let _ = self.inner.set(service);
    }
}

impl<S: NamedService> NamedService for Gate<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<Request<Body>> for Gate<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Response<Body>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let inner = self.inner.get();
        let serving = match (refusal(&self.role, inner.is_some()), inner) {
            (None, Some(s)) => Ok(s),
            (why, _) => self.standby.as_ref().ok_or(why),
        };
        match serving {
            Ok(s) => {
                let mut s = s.clone();
                Box::pin(async move {
                    std::future::poll_fn(|cx| s.poll_ready(cx)).await?;
                    s.call(req).await
                })
            }
            Err(why) => {
                let why = why.unwrap_or_default();
                Box::pin(std::future::ready(Ok(
                    tonic::Status::unavailable(why).into_http()
                )))
            }
        }
    }
}

/// The HTTP app served only while leading, behind an always-on `/healthz`.
#[derive(Clone)]
pub struct HttpGate {
    inner: Arc<OnceLock<Router>>,
    /// What serves while not leading (but `/readyz`), if anything does.
    standby: Option<Router>,
    role: RoleCell,
    metrics: Arc<Metrics>,
}

impl HttpGate {
    pub fn new(role: RoleCell, metrics: Arc<Metrics>) -> Self {
        HttpGate {
            inner: Arc::default(),
            standby: None,
            role,
            metrics,
        }
    }

    /// Serves `app` while not leading, except `/readyz` (503, why).
    pub fn with_standby(mut self, app: Router) -> Self {
        self.standby = Some(app);
        self
    }

    /// Serves `app` from now on (while leading).
    pub fn open(&self, app: Router) {
        let _ = self.inner.set(app);
    }

    /// `/healthz`, and everything else through the gate.
    pub fn router(self) -> Router {
        Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok\n" }))
            .fallback(move |req: Request<HttpBody>| {
                let gate = self.clone();
                async move { gate.serve(req).await }
            })
    }

    async fn serve(&self, req: Request<HttpBody>) -> Response {
        let inner = self.inner.get();
        let why = refusal(&self.role, inner.is_some());
        let app = match (&why, inner) {
            (None, Some(app)) => Some(app),
            _ if req.uri().path() == "/readyz" => None,
            // Check-ins write: only the leader takes them.
            _ if crate::heartbeats::http::writes(req.uri().path()) => None,
            _ => self.standby.as_ref(),
        };
        match (why, app) {
            (_, Some(app)) => {
                let mut app = app.clone();
                match app.call(req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                }
            }
            _ if req.uri().path() == "/metrics" => self.metrics.render().into_response(),
            (why, _) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{}\n", why.unwrap_or_default()),
            )
                .into_response(),
        }
    }
}
