//! Where the API runs: on the leader, with the actors its admin calls
//! command; on a standby, over the store (and the configuration's
//! schedules), refusing the admin calls with the leader's URL.

use std::sync::Arc;

use crate::agents::AgentsHandle;
use crate::evaluator::EvaluatorHandle;
use crate::leader::RoleCell;
use crate::maintenance::MaintenanceHandle;
use crate::reload::ReloadHandle;

/// Whether the admin calls can be served here.
#[derive(Clone)]
pub enum Mode {
    Leader(Leading),
    /// Admin calls and `WatchEvents` are refused, naming the leader (the
    /// role says who).
    Standby(Standby),
}

/// What a standby answers from besides the store.
#[derive(Clone)]
pub struct Standby {
    /// Who leads.
    pub role: RoleCell,
    /// `[[maintenance.windows]]`, for `ListMaintenance`'s schedules.
    pub schedules: Arc<Vec<crate::config::RecurringWindow>>,
}

/// The leader's actors that the admin calls command.
#[derive(Clone)]
pub struct Leading {
    pub agents: AgentsHandle,
    pub maintenance: MaintenanceHandle,
    pub evaluator: EvaluatorHandle,
    /// Configuration reloads (the `Reload` call).
    pub reload: ReloadHandle,
    /// Agent mutes (`MuteAgent`, `UnmuteAgent`).
    pub mute: crate::mute::MuteHandle,
    /// Push check-ins: approval, suspension, tokens.
    pub heartbeats: crate::heartbeats::HeartbeatsHandle,
}
