//! Agents: who may connect, who is live, and what each one probes.
//!
//! `registry` is the actor that owns the live sessions; `assignment` and
//! `auth` are its pure helpers.

pub mod assignment;
pub mod auth;
pub mod liveness;
pub mod registry;

pub use registry::{AgentsHandle, Directory, LinkHandle, Refusal, StateError, Welcome};
