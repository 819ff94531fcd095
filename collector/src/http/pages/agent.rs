//! `/agents/{id}`: one agent's details (the facts `/agents` lists, and its
//! mute) and what it cannot reach: the services that are `degraded`
//! naming it, and the services whose latest result from it is a failure.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::agents::{AgentLine, line};
use super::view;
use super::{Chrome, PageError, Pages, render};
use crate::domain::AgentId;

/// A service this agent fails.
pub struct Failure {
    pub id: String,
    pub href: String,
    /// The service is degraded naming this agent (else only its latest
    /// result from it failed).
    pub degraded: bool,
    pub error: String,
    /// Since when it fails (degraded), or its last failed probe.
    pub since: String,
    pub last_probe: String,
}

#[derive(Template)]
#[template(path = "agent.html")]
pub struct AgentPage {
    page: Chrome,
    agent: AgentLine,
    /// Until when, and the note, when muted.
    muted: Option<(String, String)>,
    failures: Vec<Failure>,
}

pub async fn page(State(p): State<Pages>, Path(id): Path<String>) -> Result<Response, PageError> {
    let id = AgentId::from(id);
    let row = p
        .store
        .get_agent(&id)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("Agent {id}")))?;
    let now = p.store.clock().now_ms();
    let live = p.agents.live().await?.contains(&id);
    let checks = p.agents.checks().get(&id).copied().unwrap_or(0);
    let muted = p.store.mutes().await?.remove(&id).map(|m| {
        let until = if m.until_ms > now {
            format!(
                "{} (in {})",
                view::time(m.until_ms),
                view::span(m.until_ms - now)
            )
        } else {
            format!("{} (ending now)", view::time(m.until_ms))
        };
        (until, m.note)
    });
    let failures = failures(&p, &id, now).await?;
    render(&AgentPage {
        page: Chrome::new(format!("Agent {}", row.name), "agents", now),
        agent: line(&row, live, checks, now),
        muted,
        failures,
    })
}

/// The services `id` fails, by service id: degraded ones naming it first
/// hand (their streak's start and error), then the latest failed results.
async fn failures(p: &Pages, id: &AgentId, now_ms: i64) -> Result<Vec<Failure>, PageError> {
    let ago = |t: i64| format!("{} ({} ago)", view::time(t), view::span(now_ms - t));
    let mut by_service: BTreeMap<String, Failure> = BTreeMap::new();
    for (service, degraded) in p.store.degraded_services().await? {
        if let Some(a) = degraded.agents.iter().find(|a| &a.agent_id == id) {
            by_service.insert(
                service.to_string(),
                Failure {
                    id: service.to_string(),
                    href: format!("/services/{}", view::path_segment(service.as_str())),
                    degraded: true,
                    error: a.error.clone(),
                    since: ago(a.since_ms),
                    last_probe: String::new(),
                },
            );
        }
    }
    for (service, latest) in p.store.agent_failures(id).await? {
        let o = &latest.outcome;
        let error = match (&o.error, &o.error_kind, o.status_code) {
            (Some(e), _, _) => e.clone(),
            (None, Some(k), _) => k.to_string(),
            (None, None, Some(c)) => format!("HTTP {c}"),
            (None, None, None) => "failed".to_owned(),
        };
        let entry = by_service
            .entry(service.to_string())
            .or_insert_with(|| Failure {
                id: service.to_string(),
                href: format!("/services/{}", view::path_segment(service.as_str())),
                degraded: false,
                error,
                since: String::new(),
                last_probe: String::new(),
            });
        entry.last_probe = ago(latest.time_ms);
    }
    Ok(by_service.into_values().collect())
}
