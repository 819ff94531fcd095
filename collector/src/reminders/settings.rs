//! `RemindersSettings`: which requests are reminded how often, cut from
//! the config (services' and `[defaults]`' `remind_every`, webhooks' own).

use std::collections::HashMap;
use std::time::Duration;

use crate::config::Config;
use crate::domain::ServiceId;

/// The reminder actor's part of a config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemindersSettings {
    /// `[defaults] remind_every`: agent requests, and every service that
    /// is not in `services`.
    pub default: Option<Duration>,
    /// The services whose `remind_every` is not `default` (kept apart so
    /// that a default does not copy every service's id).
    pub services: HashMap<ServiceId, Option<Duration>>,
    /// Webhooks with their own `remind_every`, by name.
    pub webhooks: Vec<(String, Duration)>,
}

impl RemindersSettings {
    /// How often requests of `service` (`None`: an agent's) are reminded
    /// to every subscribed webhook; `None`: never.
    pub fn every(&self, service: Option<&ServiceId>) -> Option<Duration> {
        service
            .and_then(|id| self.services.get(id).copied())
            .unwrap_or(self.default)
    }

    /// The shortest cadence configured; `None` when nothing is reminded.
    pub fn shortest(&self) -> Option<Duration> {
        let services = self.services.values().flatten().copied();
        let webhooks = self.webhooks.iter().map(|(_, every)| *every);
        self.default
            .into_iter()
            .chain(services)
            .chain(webhooks)
            .min()
    }
}

impl From<&Config> for RemindersSettings {
    fn from(c: &Config) -> Self {
        RemindersSettings {
            default: c.remind_every,
            services: c
                .services
                .iter()
                .filter(|s| s.remind_every != c.remind_every)
                .map(|s| (s.id.clone(), s.remind_every))
                .collect(),
            webhooks: c
                .webhooks
                .iter()
                .filter_map(|w| Some((w.name.clone(), w.remind_every?)))
                .collect(),
        }
    }
}
