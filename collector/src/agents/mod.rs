//! Agents: who may connect, who is live, and what each one probes.
//!
//! - `registry`: the actor that owns the live sessions (`session`, which
//!   pushes assignments) and publishes the [`Directory`].
//! - `deadman`: the liveness actor (the dead-man's switch) with its timers,
//!   driving the pure `deadlines`; `requests` is what it writes.
//! - `enroll`: enrollment and credential checks over the store; `auth` the
//!   hashing and constant-time helpers.
//! - `directory`: how live agents are reached, with no store and no actor
//!   (the evaluator and ingest import only this).
//! - `assignment`: which agents probe which services, pure.
//! - `chunks`: an assignment update cut into parts, the set's digest and
//!   the difference between two sets, pure.
//! - `view`: which agents are live, from the registry (leader) or the
//!   store (standby).

pub mod assignment;
pub mod auth;
pub mod chunks;
pub mod deadlines;
pub mod deadman;
pub mod directory;
pub mod enroll;
pub mod registry;
pub mod requests;
mod session;
#[cfg(test)]
pub(crate) mod testing;
pub mod view;

pub use deadman::{LivenessHandle, Watched, load_watched};
pub use directory::{Directory, DownlinkTx, LinkHandle};
pub use enroll::Welcome;
pub use enroll::{PROTOCOL_VERSION, Refusal};
pub use registry::{AgentsHandle, StateError};
pub use requests::StoreRequests;
pub use view::AgentsView;
