//! The maintenance actor's recurring windows (`[[maintenance.windows]]`):
//! a timer per schedule at its next occurrence's start (on the actor's
//! [`Clock`](crate::time::Clock)), which starts a window on its equipment
//! that ends after the schedule's `duration`.
//!
//! At spawn (a collector starting, or a leader taking over) and on each
//! reload the timers are set again, and a schedule whose occurrence is
//! running now starts its window at once, for the rest of it.
//!
//! Overlaps: a window started by hand wins while it runs: an occurrence
//! due on its equipment is skipped (not resumed after the hand-started
//! window ends). A hand start replaces a scheduled window. Two schedules
//! on one equipment: the later-ending occurrence wins.

use std::time::Duration;

use tracing::{info, warn};

use super::{MaintenanceActor, MaintenanceError};
use crate::config::RecurringWindow;
use crate::store::MaintenanceWindow;

/// A configured schedule with its next start, as `maintenance list`
/// shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleInfo {
    pub window: RecurringWindow,
    /// The next occurrence's start (epoch ms); `None` if it never comes.
    pub next_start_ms: Option<i64>,
}

/// `windows` with their next starts after `now_ms` (also what a standby
/// lists).
pub fn schedules(windows: &[RecurringWindow], now_ms: i64) -> Vec<ScheduleInfo> {
    (windows.iter())
        .map(|w| ScheduleInfo {
            window: w.clone(),
            next_start_ms: w.schedule.next_start(now_ms + 1),
        })
        .collect()
}

impl MaintenanceActor {
    /// Sets every schedule's timer again (after a reload or at spawn) and
    /// starts the occurrences running now.
    pub(super) async fn rearm_schedules(&mut self) {
        self.starts.clear();
        let now = self.clock.now_ms();
        for w in self.settings.windows.clone() {
            if let Some((_, ends_ms)) = w.schedule.running_at(now)
                && let Err(e) = self.start_scheduled(&w, ends_ms).await
            {
                warn!(schedule = %w.name, error = %e, "cannot start the running occurrence");
            }
            self.arm_next(&w, now);
        }
    }

    /// A schedule's timer fired: its occurrence starts (if it is due: a
    /// reload may have changed it), then the next one is armed.
    pub(super) async fn occurrence(&mut self, name: String) {
        let Some(w) = self
            .settings
            .windows
            .iter()
            .find(|w| w.name == name)
            .cloned()
        else {
            return;
        };
        let now = self.clock.now_ms();
        if let Some((_, ends_ms)) = w.schedule.running_at(now)
            && let Err(e) = self.start_scheduled(&w, ends_ms).await
        {
            warn!(schedule = %w.name, error = %e, "cannot start a scheduled window");
        }
        self.arm_next(&w, now);
    }

    fn arm_next(&mut self, w: &RecurringWindow, now: i64) {
        if let Some(next) = w.schedule.next_start(now + 1) {
            let delay = Duration::from_millis((next - now).max(0) as u64);
            self.starts.insert(w.name.clone(), delay);
        }
    }

    /// The configured schedules with their next starts.
    pub(super) fn schedules(&self) -> Vec<ScheduleInfo> {
        schedules(&self.settings.windows, self.clock.now_ms())
    }

    /// Starts `w`'s window until `ends_ms`, unless a hand-started window
    /// (or a longer scheduled one) runs on its equipment.
    async fn start_scheduled(
        &mut self,
        w: &RecurringWindow,
        ends_ms: i64,
    ) -> Result<(), MaintenanceError> {
        match self.windows.get(&w.equipment) {
            Some(running) if running.schedule.is_none() => {
                info!(schedule = %w.name, equipment = %w.equipment, "scheduled window skipped: a window started by hand runs");
                return Ok(());
            }
            Some(running) if running.ends_ms >= ends_ms => return Ok(()),
            _ => {}
        }
        let name = self.equipment_name(&w.equipment)?;
        let now = self.clock.now_ms();
        let window = MaintenanceWindow {
            equipment: w.equipment.clone(),
            starts_ms: now,
            ends_ms,
            reason: format!("scheduled: {}", w.name),
            active: true,
            mode: w.mode,
            schedule: Some(w.name.clone()),
        };
        self.store.start_maintenance(&window, &name).await?;
        info!(schedule = %w.name, equipment = %w.equipment, until = %crate::time::rfc3339(ends_ms), mode = %w.mode, "scheduled maintenance started");
        self.arm(window);
        self.publish();
        Ok(())
    }
}
