//! [`ServiceBoard`]: each configured service's state and equipment, in
//! memory, for `picket_service_state` and the `probe_*` labels.
//!
//! The lifecycle sets a state right after committing it (it is the only
//! writer of service states); the board is seeded from the store at
//! start. The catalog (which services are configured, with their
//! equipment) is set at start and by each reload: a new service shows
//! `unknown` until its first verdict, a removed one disappears.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use foldhash::fast::RandomState;

use super::chunks::{Chunks, Stopped};
use super::exposition::{Format, Kind, push_escaped, push_header};
use super::shards::Sharded;
use crate::config::ServiceConfig;
use crate::domain::{EquipmentId, ServiceId, ServiceState};

/// The configured services and their equipment, as one reload set them.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Distinct per catalog ([`super::generation`]); 0 for the empty one.
    pub generation: u64,
    /// The equipment ids, each once.
    pub equipment: Vec<EquipmentId>,
    /// Each configured service's equipment, an index in `equipment`.
    pub of: HashMap<ServiceId, u32, RandomState>,
}

impl Catalog {
    fn new(services: &[ServiceConfig]) -> Catalog {
        let equipment: Vec<EquipmentId> = services
            .iter()
            .map(|s| &s.equipment)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .cloned()
            .collect();
        let index: HashMap<&EquipmentId, u32> = equipment
            .iter()
            .enumerate()
            .map(|(i, e)| (e, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let of = services
            .iter()
            .map(|s| (s.id.clone(), index.get(&s.equipment).copied().unwrap_or(0)))
            .collect();
        Catalog {
            generation: super::generation(),
            equipment,
            of,
        }
    }
}

#[derive(Debug, Default)]
pub struct ServiceBoard {
    states: Sharded<ServiceState>,
    catalog: ArcSwap<Catalog>,
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
        let catalog = Catalog::new(services);
        self.states
            .each_shard(|shard| shard.retain(|s, _| catalog.of.contains_key(s)));
        for id in catalog.of.keys() {
            self.states
                .shard_of(id)
                .entry(id.clone())
                .or_insert(ServiceState::Unknown);
        }
        self.catalog.store(Arc::new(catalog));
    }

    /// The configured services and their equipment.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// `picket_service_state{service,state}`: 1 for the current state, 0
    /// for the others (kube-state-metrics style), shard by shard into
    /// `out`.
    pub fn write(&self, format: Format, out: &mut Chunks<'_>) -> Result<(), Stopped> {
        const NAME: &str = "picket_service_state";
        push_header(
            &mut out.buf,
            format,
            NAME,
            Kind::Gauge,
            "The collector's verdict on each service: 1 for its current state, 0 for the others",
        );
        // `",state="up"} ` and so on: constant, nothing to escape.
        let tails: Vec<(ServiceState, String)> = ServiceState::ALL
            .iter()
            .map(|s| (*s, format!("\",state=\"{}\"}} ", s.as_str())))
            .collect();
        let mut head = String::new();
        for shard in self.states.locked() {
            for (service, current) in shard.iter() {
                head.clear();
                head.push_str(NAME);
                head.push_str("{service=\"");
                push_escaped(&mut head, service.as_str());
                for (state, tail) in &tails {
                    out.buf.push_str(&head);
                    out.buf.push_str(tail);
                    out.buf
                        .push_str(if state == current { "1\n" } else { "0\n" });
                }
            }
            drop(shard);
            out.flush_full()?;
        }
        Ok(())
    }
}
