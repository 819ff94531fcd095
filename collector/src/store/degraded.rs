//! Degraded services (migration sqlite 0011 / postgres 0005): the state
//! `degraded` with since when and which agents keep failing, written with
//! its `service.degraded` / `service.degraded_ended` event in one
//! transaction; and the reads the API and the agent page show.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Result, Store, events::append_event, text_id};
use crate::domain::{AgentId, DegradedAgent, Event, ServiceId, ServiceSnapshot, ServiceState};

/// A degraded service's record: since when, and its failing agents.
#[derive(Debug, Clone, PartialEq)]
pub struct Degraded {
    pub since_ms: i64,
    pub agents: Vec<DegradedAgent>,
}

/// The stored form of one failing agent (`degraded_agents`, JSON).
#[derive(Serialize, Deserialize)]
struct Stored {
    agent_id: String,
    name: String,
    region: String,
    since_ms: i64,
    error: String,
}

fn encode(agents: &[DegradedAgent]) -> String {
    let stored: Vec<Stored> = agents
        .iter()
        .map(|a| Stored {
            agent_id: a.agent_id.to_string(),
            name: a.name.clone(),
            region: a.region.clone(),
            since_ms: a.since_ms,
            error: a.error.clone(),
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
}

fn decode(text: &str) -> Vec<DegradedAgent> {
    let stored: Vec<Stored> = serde_json::from_str(text).unwrap_or_default();
    stored
        .into_iter()
        .map(|s| DegradedAgent {
            agent_id: AgentId::from(s.agent_id.as_str()),
            name: s.name,
            region: s.region,
            since_ms: s.since_ms,
            error: s.error,
        })
        .collect()
}

fn degraded_row(r: &sqlx::any::AnyRow) -> Result<(ServiceId, Degraded)> {
    let agents: Option<String> = r.try_get("degraded_agents")?;
    Ok((
        text_id(r, "id")?,
        Degraded {
            since_ms: r
                .try_get::<Option<i64>, _>("degraded_since_ms")?
                .unwrap_or(0),
            agents: agents.as_deref().map(decode).unwrap_or_default(),
        },
    ))
}

impl Store {
    /// Marks `service` degraded by `agents` (or records a new set of
    /// failing agents: `since` stays), with `service.degraded`.
    pub async fn service_degraded(
        &self,
        service: &ServiceSnapshot,
        agents: &[DegradedAgent],
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE services SET \
             state_since_ms = CASE WHEN state = 'degraded' THEN state_since_ms ELSE $1 END, \
             degraded_since_ms = CASE WHEN state = 'degraded' THEN degraded_since_ms ELSE $2 END, \
             state = 'degraded', degraded_agents = $3 WHERE id = $4",
        )
        .bind(now)
        .bind(now)
        .bind(encode(agents))
        .bind(service.id.as_str())
        .execute(&mut *tx)
        .await?;
        let event = Event::ServiceDegraded {
            service: service.clone(),
            agents: agents.to_vec(),
        };
        let seq = append_event(&mut tx, &self.routes(), &event, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(())
    }

    /// Every failing agent recovered: `up` again, with
    /// `service.degraded_ended`.
    pub async fn service_degraded_ended(&self, service: &ServiceSnapshot) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE services SET state = 'up', state_since_ms = $1, degraded_since_ms = NULL, \
             degraded_agents = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(service.id.as_str())
        .execute(&mut *tx)
        .await?;
        let event = Event::ServiceDegradedEnded(service.clone());
        let seq = append_event(&mut tx, &self.routes(), &event, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(())
    }

    /// The configured services that are `degraded` now, with their records
    /// (few at a time: the state's page index finds them).
    pub async fn degraded_services(&self) -> Result<HashMap<ServiceId, Degraded>> {
        sqlx::query(
            "SELECT id, degraded_since_ms, degraded_agents FROM services \
             WHERE configured = 1 AND state = $1",
        )
        .bind(ServiceState::Degraded.as_str())
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(degraded_row)
        .collect()
    }
}
