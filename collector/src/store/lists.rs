//! Keyset pages of the client API's lists besides services (those are
//! [`Store::service_page`]'s, shared with the status pages): requests in id
//! order, agents in (region, name, id) order, webhook deliveries newest
//! first ([`Store::delivery_page`] in `events.rs`).
//!
//! Each page continues strictly after the last key of the previous one,
//! so page N costs what page 1 costs and a row inserted between two pages
//! never repeats or hides an earlier row. The caller asks for one row more
//! than it shows to learn whether a next page exists. The `0007` indexes
//! serve each order with and without its filters.

use std::collections::HashMap;

use sqlx::{Any, QueryBuilder};

use super::agents::{AGENT_COLUMNS, agent_row};
use super::backend::{Backend, numbered};
use super::requests::{REQUEST_COLUMNS, note_row, request_row};
use super::{AgentRow, Result, Store, request_id};
use crate::domain::{AgentId, AgentState, EquipmentId, Note, Request, RequestId, ServiceId};

/// Which requests [`Store::request_page`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    pub open_only: bool,
    pub service: Option<ServiceId>,
    pub equipment: Option<EquipmentId>,
}

/// Which agents [`Store::agent_page`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentFilter {
    pub state: Option<AgentState>,
    pub region: Option<String>,
}

/// An agent's place in the (region, name, id) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentKey {
    pub region: String,
    pub name: String,
    pub id: AgentId,
}

impl AgentKey {
    pub fn of(row: &AgentRow) -> AgentKey {
        AgentKey {
            region: row.region.clone(),
            name: row.name.clone(),
            id: row.id.clone(),
        }
    }
}

impl Store {
    /// Up to `limit` requests matching `filter` with an id above `after`,
    /// in id order, with their notes.
    pub async fn request_page(
        &self,
        filter: &RequestFilter,
        after: Option<RequestId>,
        limit: usize,
    ) -> Result<Vec<Request>> {
        let mut q: QueryBuilder<Any> = QueryBuilder::new(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE id > "
        ));
        q.push_bind(after.map_or(0, RequestId::get));
        if filter.open_only {
            q.push(" AND stage = 'open'");
        }
        if let Some(service) = &filter.service {
            q.push(" AND service_id = ")
                .push_bind(service.as_str().to_owned());
        }
        if let Some(equipment) = &filter.equipment {
            q.push(" AND equipment_id = ")
                .push_bind(equipment.as_str().to_owned());
        }
        q.push(" ORDER BY id LIMIT ").push_bind(limit as i64);
        let mut conn = self.read.acquire().await?;
        let mut page = numbered(Backend::of(&conn), &mut q)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(request_row)
            .collect::<Result<Vec<_>>>()?;
        if page.is_empty() {
            return Ok(page);
        }
        let mut q: QueryBuilder<Any> = QueryBuilder::new(
            "SELECT request_id, author, time_ms, text FROM request_notes WHERE request_id IN (",
        );
        let mut ids = q.separated(", ");
        for r in &page {
            ids.push_bind(r.id.get());
        }
        q.push(") ORDER BY id");
        let mut notes: HashMap<RequestId, Vec<Note>> = HashMap::new();
        for r in numbered(Backend::of(&conn), &mut q)
            .fetch_all(&mut *conn)
            .await?
        {
            let of = request_id(&r, "request_id")?;
            notes.entry(of).or_default().push(note_row(&r)?);
        }
        for r in &mut page {
            r.notes = notes.remove(&r.id).unwrap_or_default();
        }
        Ok(page)
    }

    /// Up to `limit` agents matching `filter` after `after`, in (region,
    /// name, id) order.
    pub async fn agent_page(
        &self,
        filter: &AgentFilter,
        after: Option<&AgentKey>,
        limit: usize,
    ) -> Result<Vec<AgentRow>> {
        let mut q: QueryBuilder<Any> =
            QueryBuilder::new(format!("SELECT {AGENT_COLUMNS} FROM agents WHERE 1 = 1"));
        if let Some(state) = filter.state {
            q.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(region) = &filter.region {
            q.push(" AND region = ").push_bind(region.clone());
        }
        if let Some(key) = after {
            q.push(" AND (region, name, id) > (")
                .push_bind(key.region.clone())
                .push(", ")
                .push_bind(key.name.clone())
                .push(", ")
                .push_bind(key.id.as_str().to_owned())
                .push(")");
            if filter.region.as_ref() == Some(&key.region) {
                // The same bound, in a form the index's range uses after
                // `region = ?`.
                q.push(" AND (name, id) > (")
                    .push_bind(key.name.clone())
                    .push(", ")
                    .push_bind(key.id.as_str().to_owned())
                    .push(")");
            }
        }
        q.push(" ORDER BY region, name, id LIMIT ")
            .push_bind(limit as i64);
        numbered(self.backend, &mut q)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(agent_row)
            .collect()
    }
}

#[cfg(test)]
mod tests;
