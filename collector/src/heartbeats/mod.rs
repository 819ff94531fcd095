//! Push check-ins: the dead-man's switch for anything that can send an
//! HTTP request (issue 13 point 5).
//!
//! - `actor`: [`HeartbeatsHandle`], the leader-only actor that owns one
//!   deadline per active heartbeat and every heartbeat write.
//! - `alerts`: what the actor does when a deadline passes.
//! - `deadlines`: which heartbeats are overdue, pure.
//! - `clones`: a token pinged from two sources alternately, pure.
//! - `token`: random tokens, stored hashed.
//! - `http`: `/ping/{token}` and `/heartbeats/register`.

pub mod actor;
mod alerts;
pub mod clones;
pub mod deadlines;
pub mod http;
pub mod token;

#[cfg(test)]
mod tests;

pub use actor::{HeartbeatError, HeartbeatsHandle};
