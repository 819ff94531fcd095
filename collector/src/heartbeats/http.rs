//! The check-in routes on the collector's HTTP listener (leader only; on a
//! standby the gate answers them 503 "standby; leader is URL", see
//! [`writes`]):
//!
//! - `POST /ping/{token}` (and `GET`, for cron and curl): 200 with a small
//!   JSON body. An optional body must be a JSON object of at most
//!   [`MAX_BODY`] bytes (else 400 naming the problem); it is kept as the
//!   heartbeat's `last_stats`, and its `instance` string, when given, is
//!   the ping's source (else the peer address). An unknown or suspended
//!   token is 404; unknown tokens count as failed authentications in the
//!   [`AuthLimiter`], so a guesser gets 429.
//! - `POST /heartbeats/register` with `Authorization: Bearer
//!   <heartbeat_enrollment_token>` and `{"name", "period", "grace"}`: 201
//!   `{"id", "token"}`, the heartbeat in state `new` until approved.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::actor::HeartbeatsHandle;
use super::token;
use crate::agents::auth::token_eq;
use crate::auth_limit::{AuthFailure, AuthLimiter};
use crate::config::{HeartbeatSettings, parse_duration};
use crate::domain::{HeartbeatId, HeartbeatState};
use crate::http::Peer;
use crate::metrics::Metrics;
use crate::store::{NewHeartbeat, Ping, Store};
use crate::time::Clock;

/// The largest ping or registration body.
pub const MAX_BODY: usize = 64 * 1024;
/// The longest registered name.
pub const MAX_NAME: usize = 200;

/// Whether `path` is one of these routes (they write: a standby refuses).
pub fn writes(path: &str) -> bool {
    path.starts_with("/ping/") || path == "/heartbeats/register"
}

/// What the routes share.
#[derive(Clone)]
pub struct Checkins {
    pub heartbeats: HeartbeatsHandle,
    pub store: Store,
    pub limiter: AuthLimiter,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// Swapped by a reload (the enrollment token).
    pub settings: Arc<ArcSwap<HeartbeatSettings>>,
}

/// The routes, with their state.
pub fn router(c: Checkins) -> Router {
    Router::new()
        .route("/ping/{token}", get(ping).post(ping))
        .route("/heartbeats/register", post(register))
        .with_state(c)
}

/// A JSON answer (axum's `json` feature is off).
fn answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
        .into_response()
}

fn error(status: StatusCode, why: impl Into<String>) -> Response {
    answer(status, json!({ "error": why.into() }))
}

/// The body as a JSON object, `None` when empty, or why not.
async fn object(body: Body) -> Result<Option<serde_json::Map<String, Value>>, String> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| format!("the body is over {MAX_BODY} bytes"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

async fn ping(
    State(c): State<Checkins>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Path(given): Path<String>,
    body: Body,
) -> Response {
    let result = |r: &str| c.metrics.heartbeat_pings.inc(&[r]);
    let Ok(attempt) = c.limiter.attempt(Some(peer)) else {
        result("rejected");
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many unknown tokens from this address; retry later",
        );
    };
    let found = if token::well_formed(&given) {
        c.store.heartbeat_by_token(&token::hash(&given)).await
    } else {
        Ok(None)
    };
    let row = match found {
        Ok(Some(row)) if row.state != HeartbeatState::Suspended => row,
        Ok(Some(_)) => {
            result("unknown");
            return error(StatusCode::NOT_FOUND, "unknown token");
        }
        Ok(None) => {
            attempt.failed(AuthFailure::HeartbeatToken);
            result("unknown");
            return error(StatusCode::NOT_FOUND, "unknown token");
        }
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}")),
    };
    drop(attempt);
    let stats = match object(body).await {
        Ok(stats) => stats,
        Err(why) => {
            result("rejected");
            return error(StatusCode::BAD_REQUEST, why);
        }
    };
    let source = stats
        .as_ref()
        .and_then(|m| m.get("instance"))
        .and_then(Value::as_str)
        .map_or_else(|| peer.ip().to_canonical().to_string(), str::to_owned);
    let ping = Ping {
        time_ms: c.clock.now_ms(),
        source,
        stats: stats.map(|m| Value::Object(m).to_string()),
    };
    let (id, state) = (row.id.clone(), row.state);
    match c.heartbeats.ping(row, ping).await {
        Ok(()) => {
            result("ok");
            answer(
                StatusCode::OK,
                json!({ "ok": true, "id": id, "state": state.as_str() }),
            )
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    name: String,
    period: String,
    grace: Option<String>,
}

fn duration(key: &str, text: &str) -> Result<Duration, String> {
    let d = parse_duration(text).map_err(|e| format!("{key}: {e}"))?;
    if d < crate::config::HEARTBEAT_MIN_PERIOD {
        return Err(format!("{key}: at least 1s"));
    }
    Ok(d)
}

fn registration(body: Option<serde_json::Map<String, Value>>) -> Result<NewHeartbeat, String> {
    let body = body.ok_or("the body must be {\"name\": ..., \"period\": ...}")?;
    let r: Registration =
        serde_json::from_value(Value::Object(body)).map_err(|e| format!("the body: {e}"))?;
    let name = r.name.trim();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("name: 1 to {MAX_NAME} characters"));
    }
    let period = duration("period", &r.period)?;
    let grace = match &r.grace {
        Some(g) => parse_duration(g).map_err(|e| format!("grace: {e}"))?,
        None => crate::config::HEARTBEAT_DEFAULT_GRACE,
    };
    let suffix: [u8; 8] = rand::random();
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    Ok(NewHeartbeat {
        id: HeartbeatId::from(format!("hb-{suffix}")),
        name: name.to_owned(),
        period_ms: period.as_millis() as i64,
        grace_ms: grace.as_millis() as i64,
        token_hash: String::new(),
    })
}

async fn register(
    State(c): State<Checkins>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(expected) = c.settings.load().enrollment_token.clone() else {
        return error(
            StatusCode::FORBIDDEN,
            "registration is off: the collector has no heartbeat_enrollment_token",
        );
    };
    let Ok(attempt) = c.limiter.attempt(Some(peer)) else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed authentications from this address; retry later",
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !token_eq(given, &expected) {
        attempt.failed(AuthFailure::HeartbeatToken);
        return error(
            StatusCode::UNAUTHORIZED,
            "Authorization: Bearer <heartbeat_enrollment_token> is missing or wrong",
        );
    }
    drop(attempt);
    let mut new = match object(body).await.and_then(registration) {
        Ok(new) => new,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let secret = token::new_token();
    new.token_hash = token::hash(&secret);
    match c.heartbeats.register(new).await {
        Ok(row) => answer(
            StatusCode::CREATED,
            json!({ "id": row.id, "token": secret, "state": row.state.as_str() }),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
