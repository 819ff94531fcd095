//! Badges for READMEs and dashboards (PRODUCT.md "Status page, badges"):
//! `/badge/{id}.svg`, a service's state in words and colour, and
//! `/badge/{id}/uptime.svg?period=30d`, its uptime over the last `24h`,
//! `7d` or `30d` (the default) from the rollups (hourly rows for 24h and
//! 7d, daily rows for 30d, the current partial hour or day included; raw
//! results are never read). Rendering is `badge/svg.rs`.
//!
//! Both answer `image/svg+xml` with `Cache-Control: max-age=30` (a state
//! change shows within half a minute; image proxies such as GitHub's may
//! keep it that long). An unknown service answers 404 with a grey
//! "not found" badge, a bad period 400 with a text naming the periods.
//!
//! Badges are public even when `read_token` is set: an `<img>` in a README
//! cannot send a bearer token, and a badge shows only what its URL names
//! (the service id) with one word or one percentage.

pub mod svg;

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::domain::rollup::{Period, Scope, Summary};
use crate::domain::{ServiceId, ServiceState};
use crate::store::StoreError;
use svg::{Badge, colour};

/// How long viewers may keep a badge.
const CACHE_CONTROL: &str = "max-age=30";

/// An uptime badge's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Day,
    Week,
    Month,
}

impl Window {
    /// `24h`, `7d` or `30d`; the error names what is accepted.
    pub fn parse(period: &str) -> Result<Window, String> {
        match period {
            "24h" => Ok(Window::Day),
            "7d" => Ok(Window::Week),
            "30d" => Ok(Window::Month),
            other => Err(format!(
                "period: {other:?} is not one of 24h, 7d, 30d (default 30d)\n"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
            Window::Month => "30d",
        }
    }

    /// The rollup rows that cover the window ending at `now_ms`: their
    /// period and the range of their starts, `[from, to)`, as
    /// `Store::history` reads them.
    pub fn rows(self, now_ms: i64) -> (Period, i64, i64) {
        let (period, count) = match self {
            Window::Day => (Period::Hour, 24),
            Window::Week => (Period::Hour, 168),
            Window::Month => (Period::Day, 30),
        };
        let current = period.start_of(now_ms);
        let from = current - (count - 1) * period.millis();
        (period, from, current + period.millis())
    }
}

/// A state in words and its colour: green up, red down, orange suspect,
/// yellow degraded, blue maintenance (planned), grey unknown and paused.
pub fn state_badge(state: ServiceState) -> (&'static str, &'static str) {
    let c = match state {
        ServiceState::Up => colour::BRIGHT_GREEN,
        ServiceState::Down => colour::RED,
        ServiceState::Suspect => colour::ORANGE,
        ServiceState::Degraded => colour::YELLOW,
        ServiceState::Maintenance => colour::BLUE,
        ServiceState::Unknown | ServiceState::Paused => colour::GREY,
    };
    (state.as_str(), c)
}

/// An uptime (0..=1) as a percentage rounded down to two decimals (so
/// that 99.999 % never shows as 100 %), without trailing zeros, and its
/// colour: ≥ 99.9 % bright green, ≥ 99 % green, ≥ 95 % yellow, ≥ 90 %
/// orange, red below; grey "no data" without probes.
pub fn uptime_badge(uptime: Option<f64>) -> (String, &'static str) {
    let Some(u) = uptime else {
        return ("no data".to_owned(), colour::GREY);
    };
    let hundredths = (u.clamp(0.0, 1.0) * 10_000.0 + 1e-9).floor() as u64;
    let text = format!("{}.{:02}", hundredths / 100, hundredths % 100);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let c = match hundredths {
        9990.. => colour::BRIGHT_GREEN,
        9900.. => colour::GREEN,
        9500.. => colour::YELLOW,
        9000.. => colour::ORANGE,
        _ => colour::RED,
    };
    (format!("{text}%"), c)
}

fn svg(status: StatusCode, badge: &Badge) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        badge.render(),
    )
        .into_response()
}

fn not_found() -> Response {
    let badge = Badge {
        label: "service",
        message: "not found",
        colour: colour::GREY,
    };
    svg(StatusCode::NOT_FOUND, &badge)
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A store failure other than "not found".
fn unavailable(e: &StoreError) -> Response {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("store unavailable: {e}\n"),
    )
}

/// `/badge/{id}.svg`: the service's state.
pub(super) async fn status(State(s): State<HttpState>, Path(file): Path<String>) -> Response {
    let Some(id) = file.strip_suffix(".svg") else {
        return not_found();
    };
    match s.store.get_service(&ServiceId::from(id)).await {
        Ok(row) => {
            let (message, colour) = state_badge(row.state);
            let badge = Badge {
                label: id,
                message,
                colour,
            };
            svg(StatusCode::OK, &badge)
        }
        Err(StoreError::NotFound(_)) => not_found(),
        Err(e) => unavailable(&e),
    }
}

/// `/badge/{id}/uptime.svg?period=30d`: the service's uptime.
pub(super) async fn uptime(
    State(s): State<HttpState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let window = match query
        .get("period")
        .map_or(Ok(Window::Month), |p| Window::parse(p))
    {
        Ok(w) => w,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    match s.store.get_service(&ServiceId::from(id.as_str())).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => return not_found(),
        Err(e) => return unavailable(&e),
    }
    let (period, from, to) = window.rows(s.store.clock().now_ms());
    let rows = match s.store.rollups(Scope::Service, &id, period, from, to).await {
        Ok(rows) => rows,
        Err(e) => return unavailable(&e),
    };
    let mut total = Summary::default();
    rows.iter().for_each(|(_, r)| total.merge(r));
    let (pct, colour) = uptime_badge(total.uptime());
    let message = format!("{pct} {}", window.as_str());
    let badge = Badge {
        label: &id,
        message: &message,
        colour,
    };
    svg(StatusCode::OK, &badge)
}

#[cfg(test)]
mod tests;
