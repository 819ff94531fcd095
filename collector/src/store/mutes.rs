//! Agent mutes (migration sqlite 0011 / postgres 0005): until when an agent
//! is muted and why, written with its `agent.muted` / `agent.unmuted`
//! event in one transaction. A muted agent keeps probing; the evaluator
//! leaves its results out of rounds and quorums (`crate::mute`).

use std::collections::HashMap;

use sqlx::Row;

use super::{Result, Store, StoreError, events::append_event, text_id};
use crate::domain::{AgentId, Event, Liveness};
use crate::store::AgentRow;

/// A running mute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mute {
    pub until_ms: i64,
    pub note: String,
}

impl Store {
    async fn known_agent(&self, id: &AgentId) -> Result<AgentRow> {
        self.get_agent(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("agent {id:?}")))
    }

    /// Mutes `id` until `until_ms` (replacing a running mute), with
    /// `agent.muted`.
    pub async fn mute_agent(
        &self,
        id: &AgentId,
        mute: &Mute,
        liveness: Liveness,
    ) -> Result<AgentRow> {
        let row = self.known_agent(id).await?;
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE agents SET muted_until_ms = $1, mute_note = $2 WHERE id = $3")
            .bind(mute.until_ms)
            .bind(mute.note.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let event = Event::AgentMuted {
            agent: row.snapshot(liveness),
            until_ms: mute.until_ms,
            note: mute.note.clone(),
        };
        let seq = append_event(&mut tx, &self.routes(), &event, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(row)
    }

    /// Ends `id`'s mute, with `agent.unmuted` (nothing when it was not
    /// muted).
    pub async fn unmute_agent(&self, id: &AgentId, liveness: Liveness) -> Result<AgentRow> {
        let row = self.known_agent(id).await?;
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE agents SET muted_until_ms = NULL, mute_note = '' \
             WHERE id = $1 AND muted_until_ms IS NOT NULL",
        )
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        let mut seq = None;
        if done.rows_affected() > 0 {
            let event = Event::AgentUnmuted(row.snapshot(liveness));
            seq = Some(append_event(&mut tx, &self.routes(), &event, now).await?);
        }
        tx.commit().await?;
        self.published(seq);
        Ok(row)
    }

    /// Every running (or expired, not yet ended) mute, by agent.
    pub async fn mutes(&self) -> Result<HashMap<AgentId, Mute>> {
        sqlx::query(
            "SELECT id, muted_until_ms, mute_note FROM agents WHERE muted_until_ms IS NOT NULL",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok((
                text_id(r, "id")?,
                Mute {
                    until_ms: r.try_get("muted_until_ms")?,
                    note: r.try_get("mute_note")?,
                },
            ))
        })
        .collect()
    }
}
