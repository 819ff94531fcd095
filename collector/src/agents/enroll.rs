//! Enrollment and credential checks: who may connect, as plain async
//! functions over the store.
//!
//! A `Hello` either names a known agent (its credential must match the
//! stored hash) or a new one (the enrollment token must match; the agent is
//! registered, `active` or `new` depending on `auto_approve`, and gets a
//! freshly issued credential). The registry calls [`authenticate`], refuses
//! a duplicate live id itself, then records the connection with
//! [`connected`]. Hashing and constant-time comparison live in
//! [`super::auth`].
//!
//! Settings: [`EnrollmentSettings`] (the enrollment token, `auto_approve`),
//! passed in by the registry on each call.

use std::time::Duration;

use tracing::info;

use super::auth;
use crate::config::settings::EnrollmentSettings;
use crate::domain::{AgentId, AgentState, Hello};
use crate::store::{AgentRow, Store, StoreError};

/// The protocol version this collector speaks.
pub use picket_proto::contract::PROTOCOL_VERSION;

/// Why a connection is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("invalid enrollment token")]
    BadToken,
    #[error("invalid credential for agent {0}")]
    BadCredential(AgentId),
    #[error("agent id {0} is already connected")]
    Duplicate(AgentId),
    #[error("unsupported protocol version {0} (this collector speaks {PROTOCOL_VERSION})")]
    Incompatible(u32),
    #[error("invalid hello: {0}")]
    Invalid(String),
    #[error("collector unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Unavailable(e.to_string())
    }
}

/// An authenticated agent.
#[derive(Clone, PartialEq)]
pub struct Enrolled {
    /// Its stored row (just registered, or as it was before this hello).
    pub row: AgentRow,
    /// A newly issued credential, to be stored by the agent.
    pub credential: Option<String>,
}
crate::redact::debug_redacted!(Enrolled { row } secret { credential });

/// Checks the protocol version and the id, then the credential of a known
/// agent or the enrollment token of a new one (registering it, created and
/// last seen at `now_ms`).
pub async fn authenticate(
    store: &Store,
    settings: &EnrollmentSettings,
    hello: &Hello,
    now_ms: i64,
) -> Result<Enrolled, Refusal> {
    if hello.protocol_version != PROTOCOL_VERSION {
        return Err(Refusal::Incompatible(hello.protocol_version));
    }
    if hello.agent_id.as_str().is_empty() || hello.agent_id.as_str().len() > 128 {
        return Err(Refusal::Invalid(
            "agent_id must be 1 to 128 characters".into(),
        ));
    }
    if let Some(row) = store.get_agent(&hello.agent_id).await? {
        let valid = row
            .credential_hash
            .as_deref()
            .is_some_and(|h| auth::verify_credential(&hello.credential, h));
        if !valid {
            return Err(Refusal::BadCredential(hello.agent_id.clone()));
        }
        return Ok(Enrolled {
            row,
            credential: None,
        });
    }
    if !auth::token_eq(&hello.enrollment_token, &settings.enrollment_token) {
        return Err(Refusal::BadToken);
    }
    let credential = auth::new_credential();
    let row = AgentRow {
        id: hello.agent_id.clone(),
        name: hello.name.clone(),
        region: hello.region.clone(),
        labels: hello.labels.clone(),
        state: if settings.auto_approve {
            AgentState::Active
        } else {
            AgentState::New
        },
        credential_hash: Some(auth::hash_credential(&credential)),
        version: Some(hello.version.clone()),
        created_ms: now_ms,
        last_seen_ms: Some(now_ms),
        stats: None,
        last_seq: 0,
    };
    store.register_agent(&row).await?;
    info!(agent_id = %row.id, name = %row.name, region = %row.region, state = %row.state, "agent registered");
    Ok(Enrolled {
        row,
        credential: Some(credential),
    })
}

/// Records what the agent says about itself on this connection (name,
/// region, labels, version, last seen at `now_ms`) and returns the updated
/// row.
pub async fn connected(
    store: &Store,
    mut row: AgentRow,
    hello: Hello,
    now_ms: i64,
) -> Result<AgentRow, Refusal> {
    row.name = hello.name;
    row.region = hello.region;
    row.labels = hello.labels;
    row.version = Some(hello.version);
    row.last_seen_ms = Some(now_ms);
    store.agent_connected(&row).await?;
    Ok(row)
}

/// What a successful hello gets back.
#[derive(Clone, PartialEq)]
pub struct Welcome {
    pub agent_id: AgentId,
    /// A newly issued credential, to be stored by the agent.
    pub credential: Option<String>,
    pub state: AgentState,
    pub heartbeat_interval: Duration,
    pub last_committed_seq: u64,
    /// Identifies this session in later `Gone` messages.
    pub session: u64,
}
crate::redact::debug_redacted!(Welcome {
    agent_id, state, heartbeat_interval, last_committed_seq, session
} secret { credential });

#[cfg(test)]
mod tests;
