//! [`ServiceBoard`]: each configured service's state and equipment, in
//! memory, for `picket_service_state` and the `probe_*` labels.
//!
//! The lifecycle sets a state right after committing it (it is the only
//! writer of service states); the board is seeded from the store at
//! start. The catalog (which services are configured, with their
//! equipment) is set at start and by each reload: a new service shows
//! `unknown` until its first verdict, a removed one disappears.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::exposition::{Family, Format, Kind, push_label};
use super::shards::Sharded;
use crate::config::ServiceConfig;
use crate::domain::{EquipmentId, ServiceId, ServiceState};

#[derive(Debug, Default)]
pub struct ServiceBoard {
    states: Sharded<ServiceState>,
    equipment: ArcSwap<HashMap<ServiceId, EquipmentId>>,
}

impl ServiceBoard {
    /// Records `service`'s state (stored already).
    pub fn set_state(&self, service: &ServiceId, state: ServiceState) {
        let mut shard = self.states.shard_of(service);
        match shard.get_mut(service) {
            Some(s) => *s = state,
            None => {
                shard.insert(service.clone(), state);
            }
        }
    }

    /// The configured services (all of them, paused included) and their
    /// equipment: the others leave the board.
    pub fn set_catalog(&self, services: &[ServiceConfig]) {
        let equipment: HashMap<ServiceId, EquipmentId> = services
            .iter()
            .map(|s| (s.id.clone(), s.equipment.clone()))
            .collect();
        self.states
            .each_shard(|shard| shard.retain(|s, _| equipment.contains_key(s)));
        for id in equipment.keys() {
            self.states
                .shard_of(id)
                .entry(id.clone())
                .or_insert(ServiceState::Unknown);
        }
        self.equipment.store(Arc::new(equipment));
    }

    /// Each configured service's equipment.
    pub fn equipment(&self) -> Arc<HashMap<ServiceId, EquipmentId>> {
        self.equipment.load_full()
    }

    /// `picket_service_state{service,state}`: 1 for the current state, 0
    /// for the others (kube-state-metrics style).
    pub fn write(&self, format: Format) -> String {
        let mut f = Family::new(
            format,
            "picket_service_state",
            Kind::Gauge,
            "The collector's verdict on each service: 1 for its current state, 0 for the others",
        );
        let mut labels = String::new();
        self.states.each_shard(|shard| {
            for (service, current) in shard.iter() {
                for state in ServiceState::ALL {
                    labels.clear();
                    push_label(&mut labels, "service", service.as_str());
                    push_label(&mut labels, "state", state.as_str());
                    f.sample_int(&labels, i64::from(state == current));
                }
            }
        });
        f.finish()
    }
}
