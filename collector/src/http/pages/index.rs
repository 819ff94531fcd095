//! `/`: every equipment with its services, a page at a time (`PAGE_SIZE`,
//! keyset by `after`/`before`), filtered by `?state=` and `?equipment=`:
//! state, uptime 24 h / 7 d / 30 d, the 90 daily bars, the latest latency,
//! the open request and its age; and a summary of the agents by region.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::view::{self, Bar, StateView};
use super::{Chrome, PAGE_SIZE, PageError, Pages, render};
use crate::domain::{ServiceState, UnknownName};
use crate::store::{Cursor, PageFilter, PageService, Uptimes};

/// The query string of `/` (empty values mean "not set", as a form sends them).
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    state: Option<String>,
    equipment: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

/// One service line.
pub struct Line {
    pub id: String,
    pub href: String,
    pub url: String,
    pub state: StateView,
    pub up_24h: String,
    pub up_7d: String,
    pub up_30d: String,
    pub latency: String,
    pub bars: Vec<Bar>,
    pub bars_summary: String,
    /// The open request: its link, id and age.
    pub request: Option<(String, String, String)>,
}

/// An equipment and its services on this page.
pub struct Group {
    pub id: String,
    pub name: String,
    pub lines: Vec<Line>,
}

/// Agents of one region.
pub struct Region {
    pub name: String,
    pub live: usize,
    pub total: usize,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    page: Chrome,
    groups: Vec<Group>,
    regions: Vec<Region>,
    states: Vec<(&'static str, bool)>,
    equipment: String,
    filtered: bool,
    prev: Option<String>,
    next: Option<String>,
    bar_width: i64,
}

pub async fn page(State(p): State<Pages>, Query(q): Query<Params>) -> Result<Response, PageError> {
    let set = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    let state = match set(&q.state) {
        None => None,
        Some(s) => Some(s.parse::<ServiceState>().map_err(|e: UnknownName| {
            PageError::BadRequest(format!(
                "{e}: ?state= takes one of {}",
                ServiceState::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?),
    };
    let filter = PageFilter {
        state,
        equipment: set(&q.equipment).map(Into::into),
    };
    let cursor = match (set(&q.after), set(&q.before)) {
        (Some(a), _) => Cursor::After(a.into()),
        (None, Some(b)) => Cursor::Before(b.into()),
        (None, None) => Cursor::First,
    };
    let now = p.store.clock().now_ms();
    let found = p.store.service_page(&filter, &cursor, PAGE_SIZE).await?;
    let keys: Vec<i64> = found.services.iter().filter_map(|s| s.key).collect();
    let uptimes = p.store.page_uptimes(&keys, now).await?;
    let mut groups: Vec<Group> = Vec::new();
    for s in &found.services {
        let line = line(s, s.key.and_then(|k| uptimes.get(&k)), now);
        match groups.last_mut() {
            Some(g) if g.id == s.row.equipment_id.as_str() => g.lines.push(line),
            _ => groups.push(Group {
                id: s.row.equipment_id.to_string(),
                name: s.equipment_name.clone(),
                lines: vec![line],
            }),
        }
    }
    let link = |key: &str, id: &str| {
        let mut url = format!("/?{key}={}", view::query_value(id));
        if let Some(s) = filter.state {
            url.push_str(&format!("&state={}", s.as_str()));
        }
        if let Some(e) = &filter.equipment {
            url.push_str(&format!("&equipment={}", view::query_value(e.as_str())));
        }
        url
    };
    let first = found.services.first().map(|s| s.row.id.as_str());
    let last = found.services.last().map(|s| s.row.id.as_str());
    let title = match filter.state {
        Some(s) => format!("Services {}", view::state(s).word.to_lowercase()),
        None => "Status".to_owned(),
    };
    render(&IndexPage {
        page: Chrome::new(title, "services", now),
        groups,
        regions: regions(&p).await?,
        states: ServiceState::ALL
            .iter()
            .map(|s| (s.as_str(), Some(*s) == filter.state))
            .collect(),
        equipment: filter
            .equipment
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default(),
        filtered: filter != PageFilter::default(),
        prev: found
            .has_prev
            .then(|| first.map(|id| link("before", id)))
            .flatten(),
        next: found
            .has_next
            .then(|| last.map(|id| link("after", id)))
            .flatten(),
        bar_width: view::BAR_STEP * crate::store::DAILY_BARS,
    })
}

fn line(s: &PageService, uptimes: Option<&Uptimes>, now_ms: i64) -> Line {
    let u = uptimes.cloned().unwrap_or_default();
    let daily = if u.daily.is_empty() {
        empty_days(now_ms)
    } else {
        u.daily.clone()
    };
    let (bars, bars_summary) = view::bars(&daily);
    Line {
        id: s.row.id.to_string(),
        href: format!("/services/{}", view::path_segment(s.row.id.as_str())),
        url: s.row.url.clone(),
        state: view::state(s.row.state),
        up_24h: view::percent(u.last_24h.uptime()),
        up_7d: view::percent(u.last_7d.uptime()),
        up_30d: view::percent(u.last_30d.uptime()),
        latency: s
            .row
            .last_latency_us
            .map_or_else(|| "—".to_owned(), |us| view::micros(us.max(0) as u64)),
        bars,
        bars_summary,
        request: s.row.open_request.map(|id| {
            let age = s
                .request_opened_ms
                .map_or_else(String::new, |at| view::span(now_ms - at));
            (format!("/requests/{id}"), id.to_string(), age)
        }),
    }
}

/// The daily slots of a service without any rollup yet.
fn empty_days(now_ms: i64) -> Vec<(i64, crate::store::Counts)> {
    use crate::domain::rollup::Period;
    let (day, today) = (Period::Day.millis(), Period::Day.start_of(now_ms));
    (0..crate::store::DAILY_BARS)
        .map(|i| {
            (
                today - (crate::store::DAILY_BARS - 1 - i) * day,
                Default::default(),
            )
        })
        .collect()
}

/// Agents per region: how many are live.
async fn regions(p: &Pages) -> Result<Vec<Region>, PageError> {
    let agents = p.store.list_agents().await?;
    let live = p.agents.live().await?;
    let mut by: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for a in &agents {
        let e = by.entry(a.region.clone()).or_default();
        e.1 += 1;
        if live.contains(&a.id) {
            e.0 += 1;
        }
    }
    Ok(by
        .into_iter()
        .map(|(name, (live, total))| Region { name, live, total })
        .collect())
}
