//! `/services/{id}`: a service's state, the latest result of each agent
//! (code, error, phases, certificate expiry), the hourly latency chart of
//! the last 24 h, uptime windows and the 90 daily bars, recent requests.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::chart::{self, Chart};
use super::view::{self, Bar, CertExpiry, StateView};
use super::{Chrome, PageError, Pages, render};
use crate::domain::rollup::{Period, Scope, Summary};
use crate::domain::{Request, ServiceId};
use crate::store::{Counts, LatestResult};

/// Hours in the latency chart.
const CHART_HOURS: i64 = 24;
/// Requests listed.
const RECENT_REQUESTS: i64 = 20;

/// One agent's latest result.
pub struct AgentResult {
    pub agent: String,
    pub region: String,
    pub when: String,
    pub ok: bool,
    pub code: String,
    pub error: String,
    pub total: String,
    pub phases: [String; 5],
    pub cert: Option<CertExpiry>,
}

/// A request in the recent list.
pub struct RequestLine {
    pub href: String,
    pub id: String,
    pub name: String,
    pub stage: &'static str,
    pub opened: String,
    pub closed: String,
}

#[derive(Template)]
#[template(path = "service.html")]
pub struct ServicePage {
    page: Chrome,
    id: String,
    url: String,
    equipment: String,
    equipment_href: String,
    state: StateView,
    last_check: String,
    uptimes: [(&'static str, String); 3],
    results: Vec<AgentResult>,
    chart: Chart,
    chart_width: i64,
    chart_height: i64,
    bars: Vec<Bar>,
    bars_summary: String,
    bar_width: i64,
    requests: Vec<RequestLine>,
}

pub async fn page(State(p): State<Pages>, Path(id): Path<String>) -> Result<Response, PageError> {
    let id = ServiceId::from(id);
    let row = p.store.get_service(&id).await?;
    let now = p.store.clock().now_ms();
    let history = p.store.history(Scope::Service, id.as_str(), now).await?;
    let first_hour = Period::Hour.start_of(now) - (CHART_HOURS - 1) * Period::Hour.millis();
    let hours = p
        .store
        .rollups(
            Scope::Service,
            id.as_str(),
            Period::Hour,
            first_hour,
            now + 1,
        )
        .await?;
    let results = p.store.latest_results(&id).await?;
    let requests = p.store.service_requests(&id, RECENT_REQUESTS).await?;
    let counts = |s: &Summary| Counts {
        probes: s.probes,
        failures: s.failures,
    };
    let daily: Vec<(i64, Counts)> = history.daily.iter().map(|(d, s)| (*d, counts(s))).collect();
    let (bars, bars_summary) = view::bars(&daily);
    render(&ServicePage {
        page: Chrome::new(format!("Service {id}"), "services", now),
        url: row.url.clone(),
        equipment: row.equipment_id.to_string(),
        equipment_href: format!(
            "/?equipment={}",
            view::query_value(row.equipment_id.as_str())
        ),
        state: view::state(row.state),
        last_check: row.last_check_ms.map_or_else(
            || "never".to_owned(),
            |t| format!("{} ({} ago)", view::time(t), view::span(now - t)),
        ),
        uptimes: [
            ("24 hours", view::percent(history.last_24h.uptime())),
            ("7 days", view::percent(history.last_7d.uptime())),
            ("30 days", view::percent(history.last_30d.uptime())),
        ],
        results: results
            .iter()
            .map(|r| agent_result(r, now, row.cert_warning_ms))
            .collect(),
        chart: chart::latency(&hours, first_hour, CHART_HOURS),
        chart_width: chart::WIDTH,
        chart_height: chart::HEIGHT,
        bars,
        bars_summary,
        bar_width: view::BAR_STEP * crate::store::DAILY_BARS,
        requests: requests.iter().map(request_line).collect(),
        id: id.to_string(),
    })
}

/// `warning_ms`: the service's `cert_expiry_warning`.
fn agent_result(r: &LatestResult, now_ms: i64, warning_ms: i64) -> AgentResult {
    let o = &r.outcome;
    let ph = &o.phases;
    AgentResult {
        agent: if r.agent_name.is_empty() {
            r.agent.to_string()
        } else {
            r.agent_name.clone()
        },
        region: r.region.clone(),
        when: format!("{} ago", view::span(now_ms - r.time_ms)),
        ok: o.ok,
        code: o
            .status_code
            .map_or_else(|| "—".to_owned(), |c| c.to_string()),
        error: match (&o.error_kind, &o.error) {
            (_, Some(e)) => e.clone(),
            (Some(k), None) => k.to_string(),
            (None, None) => String::new(),
        },
        total: view::micros(o.duration_us),
        phases: [
            view::phase(ph.dns_us),
            view::phase(ph.connect_us),
            view::phase(ph.tls_us),
            view::phase(ph.processing_us),
            view::phase(ph.transfer_us),
        ],
        cert: o
            .cert_not_after_ms
            .map(|at| view::cert_expiry(at, now_ms, warning_ms)),
    }
}

pub fn request_line(r: &Request) -> RequestLine {
    RequestLine {
        href: format!("/requests/{}", r.id),
        id: r.id.to_string(),
        name: r.name.clone(),
        stage: r.stage.as_str(),
        opened: view::time(r.opened_ms),
        closed: r.closed_ms.map_or_else(|| "—".to_owned(), view::time),
    }
}
