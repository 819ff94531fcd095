//! What the in-memory metrics start from and follow on reload: the
//! catalog and `probe_series` from the configuration, the services'
//! stored states, and the latest probe of each (service, agent) from the
//! store's `latest_results`.

use super::Metrics;
use crate::config::Config;
use crate::domain::{ServiceMap, ServiceState};
use crate::store::{Store, StoreError};

impl Metrics {
    /// Seeds the tables at start; `states` are the stored states (and
    /// open-request flags) of the configured services.
    pub async fn start(
        &self,
        store: &Store,
        config: &Config,
        states: &ServiceMap<(ServiceState, bool)>,
    ) -> Result<(), StoreError> {
        self.reconfigure(config);
        for (service, (state, _)) in states {
            self.board.set_state(service, *state);
        }
        for (service, latest) in store.all_latest_results().await? {
            self.probes
                .record(&service, &latest.agent, latest.time_ms, &latest.outcome);
        }
        Ok(())
    }

    /// Follows a configuration (start and reload): which services exist,
    /// their equipment, and how the `probe_*` series are cut.
    pub fn reconfigure(&self, config: &Config) {
        self.board.set_catalog(&config.services);
        self.set_probe_series(config.metrics.probe_series);
    }
}
