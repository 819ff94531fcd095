//! `/requests/{id}`: a request with its description and timeline (opened,
//! each note, acknowledged, closed), where the webhooks' `link` lands.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::view;
use super::{Chrome, PageError, Pages, render};
use crate::domain::{Request, RequestId};

/// One moment of a request's life.
pub struct Moment {
    pub time: String,
    pub what: String,
    pub author: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "request.html")]
pub struct RequestPage {
    page: Chrome,
    id: String,
    name: String,
    open: bool,
    kind: &'static str,
    priority: String,
    description: String,
    service: Option<(String, String)>,
    agent: Option<String>,
    equipment: Option<String>,
    url: Option<String>,
    timeline: Vec<Moment>,
}

pub async fn page(State(p): State<Pages>, Path(id): Path<String>) -> Result<Response, PageError> {
    let id: i64 = id
        .parse()
        .map_err(|_| PageError::NotFound(format!("request {id:?}")))?;
    let r = p.store.get_request(RequestId::from(id)).await?;
    let now = p.store.clock().now_ms();
    render(&RequestPage {
        page: Chrome::new(format!("Request {id}"), "services", now),
        id: r.id.to_string(),
        open: r.stage == crate::domain::Stage::Open,
        kind: r.kind.as_str(),
        priority: r.priority.clone(),
        description: r.description.clone(),
        service: r.service_id.as_ref().map(|s| {
            (
                format!("/services/{}", view::path_segment(s.as_str())),
                s.to_string(),
            )
        }),
        agent: r.agent_id.as_ref().map(|a| a.to_string()),
        equipment: r.equipment_id.as_ref().map(|e| e.to_string()),
        url: r.url.clone(),
        timeline: timeline(&r, now),
        name: r.name,
    })
}

/// Opened, the notes, closed: in time order (a note and the close at the
/// same millisecond keep that order).
pub fn timeline(r: &Request, now_ms: i64) -> Vec<Moment> {
    let mut out = vec![(
        r.opened_ms,
        Moment {
            time: view::time(r.opened_ms),
            what: "Opened".to_owned(),
            author: "picket".to_owned(),
            text: format!(
                "open for {}",
                view::span(r.closed_ms.unwrap_or(now_ms) - r.opened_ms)
            ),
        },
    )];
    for n in &r.notes {
        out.push((
            n.time_ms,
            Moment {
                time: view::time(n.time_ms),
                what: "Note".to_owned(),
                author: n.author.clone(),
                text: n.text.clone(),
            },
        ));
    }
    if let (Some(at), Some(by)) = (r.acknowledged_ms, &r.acknowledged_by) {
        out.push((
            at,
            Moment {
                time: view::time(at),
                what: "Acknowledged".to_owned(),
                author: by.clone(),
                text: "reminders stop".to_owned(),
            },
        ));
    }
    if let Some(at) = r.closed_ms {
        out.push((
            at,
            Moment {
                time: view::time(at),
                what: "Closed".to_owned(),
                author: String::new(),
                text: r
                    .close_reason
                    .map_or_else(String::new, |c| format!("reason: {c}")),
            },
        ));
    }
    out.sort_by_key(|(t, _)| *t);
    out.into_iter().map(|(_, m)| m).collect()
}
