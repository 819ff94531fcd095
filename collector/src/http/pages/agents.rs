//! `/agents`: every agent with its state, liveness, region, the host
//! stats of its last heartbeat and the number of checks assigned to it;
//! each name links to the agent's own page (`agent.rs`).

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::view;
use super::{Chrome, PageError, Pages, render};
use crate::store::AgentRow;

/// One agent line.
pub struct AgentLine {
    pub name: String,
    /// The agent's page.
    pub href: String,
    pub id: String,
    pub region: String,
    pub state: &'static str,
    pub live: bool,
    pub last_seen: String,
    pub version: String,
    pub checks: usize,
    /// CPU, load, memory, disk, host uptime; empty before a heartbeat.
    pub stats: Option<[String; 5]>,
}

#[derive(Template)]
#[template(path = "agents.html")]
pub struct AgentsPage {
    page: Chrome,
    agents: Vec<AgentLine>,
    live: usize,
}

pub async fn page(State(p): State<Pages>) -> Result<Response, PageError> {
    let rows = p.store.list_agents().await?;
    let live = p.agents.live().await?;
    let checks = p.agents.checks();
    let now = p.store.clock().now_ms();
    let agents: Vec<AgentLine> = rows
        .iter()
        .map(|a| {
            line(
                a,
                live.contains(&a.id),
                checks.get(&a.id).copied().unwrap_or(0),
                now,
            )
        })
        .collect();
    render(&AgentsPage {
        page: Chrome::new("Agents", "agents", now),
        live: agents.iter().filter(|a| a.live).count(),
        agents,
    })
}

pub(super) fn line(a: &AgentRow, live: bool, checks: usize, now_ms: i64) -> AgentLine {
    const GIB: f64 = (1u64 << 30) as f64;
    let gib = |b: u64| format!("{:.1}", b as f64 / GIB);
    AgentLine {
        name: a.name.clone(),
        href: format!("/agents/{}", view::path_segment(a.id.as_str())),
        id: a.id.to_string(),
        region: a.region.clone(),
        state: a.state.as_str(),
        live,
        last_seen: a.last_seen_ms.map_or_else(
            || "never".to_owned(),
            |t| format!("{} ago", view::span(now_ms - t)),
        ),
        version: a.version.clone().unwrap_or_default(),
        checks,
        stats: a.stats.as_ref().map(|s| {
            [
                format!("{:.0}%", s.cpu_percent),
                format!("{:.2} / {:.2} / {:.2}", s.load1, s.load5, s.load15),
                format!(
                    "{} of {} GiB",
                    gib(s.mem_used_bytes),
                    gib(s.mem_total_bytes)
                ),
                if s.disk_total_bytes == 0 {
                    "—".to_owned()
                } else {
                    format!(
                        "{} of {} GiB",
                        gib(s.disk_used_bytes),
                        gib(s.disk_total_bytes)
                    )
                },
                view::span(s.uptime_s.saturating_mul(1000) as i64),
            ]
        }),
    }
}
