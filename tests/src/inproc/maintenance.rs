//! The harness's maintenance calls beyond `start_maintenance` (a `pause`
//! window): a window in a given mode, and `ListMaintenance`.

use std::time::Duration;

use picket_proto::v1 as api;

use super::{Harness, admin};

impl Harness {
    /// `StartMaintenance` of `equipment` for `duration` in `mode`
    /// (`pause` or `mute`).
    pub async fn start_maintenance_in(
        &self,
        equipment: &str,
        duration: Duration,
        mode: &str,
    ) -> anyhow::Result<api::Maintenance> {
        let request = admin(api::StartMaintenanceRequest {
            equipment: equipment.into(),
            duration_ms: duration.as_millis() as u64,
            reason: "scenario".into(),
            mode: mode.into(),
        });
        Ok(self
            .client
            .clone()
            .start_maintenance(request)
            .await?
            .into_inner())
    }

    /// `ListMaintenance`: running windows and recurring schedules.
    pub async fn list_maintenance(&self) -> anyhow::Result<api::ListMaintenanceResponse> {
        let request = admin(api::ListMaintenanceRequest {});
        Ok(self
            .client
            .clone()
            .list_maintenance(request)
            .await?
            .into_inner())
    }
}
