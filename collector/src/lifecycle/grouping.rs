//! One request per root cause, the decision: pure, on times passed in
//! (epoch ms from the collector's clock).
//!
//! A service confirmed down without a request waits (is *pending*) for
//! at most its equipment's grouping window. At the first pending
//! deadline, with every service confirmed down in that window in view:
//! - at least `monitoring_down_ratio` of all active services are down,
//!   at least 3 on at least 2 equipments, and no `[MONITORING KO]` is
//!   open: one `[MONITORING KO]` takes every pending service;
//! - else, per equipment, at least `equipment_down_ratio` of its active
//!   services (and at least 2) pending: one `[HOST KO]` takes them;
//! - else the services whose window ended get their own `[HTTP KO]`.
//!
//! While a host request is open a service of its equipment confirmed down
//! joins it at once, and while `[MONITORING KO]` is open every one does.
//! `[MONITORING KO]` closes when the share of down services falls below
//! its ratio; the services still down then wait again. Active: configured
//! active and not in maintenance or paused (as the lifecycle last stored).

pub use crate::config::grouping::GroupingSettings;
use crate::domain::{EquipmentId, RequestId, ServiceId, ServiceState, Vote};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A service confirmed down, waiting for its request.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub service: ServiceId,
    pub equipment: EquipmentId,
    pub at_ms: i64,
    pub deadline_ms: i64,
    /// The failing votes that confirmed it (its request's description).
    pub votes: Vec<Vote>,
}

/// What a confirmed failure does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDown {
    /// Join this open host or monitoring request.
    Join(RequestId),
    /// Wait for the window's decision.
    Wait,
}

/// A decision at a deadline: which request to open for which services.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Monitoring {
        members: Vec<Pending>,
        down: usize,
        active: usize,
        equipments: usize,
    },
    Host {
        equipment: EquipmentId,
        members: Vec<Pending>,
        active: usize,
    },
    Own(Pending),
    /// Join this open request (services that waited while it opened,
    /// e.g. after a restart or after `[MONITORING KO]` closed).
    Join {
        request: RequestId,
        members: Vec<Pending>,
    },
}

/// The grouping state: what is pending, down, inactive, and which group
/// requests are open with which services.
#[derive(Debug, Default)]
pub struct Grouping {
    pending: Vec<Pending>,
    /// Active services confirmed down (pending ones included).
    down: HashMap<ServiceId, EquipmentId>,
    /// Services in maintenance or paused.
    inactive: HashMap<ServiceId, EquipmentId>,
    hosts: HashMap<EquipmentId, RequestId>,
    monitoring: Option<RequestId>,
    /// Services linked to an open group request, with their votes.
    members: HashMap<ServiceId, (RequestId, Vec<Vote>)>,
}

impl Grouping {
    /// The active services of `eq` now.
    fn active_of(&self, s: &GroupingSettings, eq: &EquipmentId) -> usize {
        let configured = s.equipment.get(eq).map_or(0, |g| g.active);
        let inactive = self.inactive.values().filter(|e| *e == eq).count();
        configured.saturating_sub(inactive)
    }

    fn active_total(&self, s: &GroupingSettings) -> usize {
        let configured: usize = s.equipment.values().map(|g| g.active).sum();
        configured.saturating_sub(self.inactive.len())
    }

    fn window_ms(s: &GroupingSettings, eq: &EquipmentId) -> i64 {
        s.equipment.get(eq).map_or(0, |g| {
            i64::try_from(g.window.as_millis()).unwrap_or(i64::MAX)
        })
    }

    /// `service` of `equipment` was confirmed down at `now_ms` with no
    /// request of its own.
    pub fn confirmed_down(
        &mut self,
        s: &GroupingSettings,
        service: &ServiceId,
        equipment: &EquipmentId,
        votes: &[Vote],
        now_ms: i64,
    ) -> OnDown {
        self.down.insert(service.clone(), equipment.clone());
        if let Some(id) = self
            .monitoring
            .or_else(|| self.hosts.get(equipment).copied())
        {
            return OnDown::Join(id);
        }
        self.wait(s, service, equipment, votes, now_ms);
        OnDown::Wait
    }

    /// `service`, down without a request, waits for the next decision
    /// (at start, or once `[MONITORING KO]` closed): even when a group
    /// request it may join is open, the decision joins it.
    pub fn wait(
        &mut self,
        s: &GroupingSettings,
        service: &ServiceId,
        equipment: &EquipmentId,
        votes: &[Vote],
        now_ms: i64,
    ) {
        self.down.insert(service.clone(), equipment.clone());
        if !self.pending.iter().any(|p| &p.service == service) {
            self.pending.push(Pending {
                service: service.clone(),
                equipment: equipment.clone(),
                at_ms: now_ms,
                deadline_ms: now_ms.saturating_add(Self::window_ms(s, equipment)),
                votes: votes.to_vec(),
            });
        }
    }

    /// Puts back services a decision named but the store did not take
    /// (decided again at the next attempt).
    pub fn requeue(&mut self, pending: Vec<Pending>) {
        for p in pending {
            if !self.pending.iter().any(|q| q.service == p.service) {
                self.pending.push(p);
            }
        }
    }

    /// Whether a failure of `service` (of `equipment`) confirmed now would
    /// be decided alone at once: no group request it joins, none that can
    /// form (so its `[HTTP KO]` opens with its `down`, as without grouping).
    pub fn alone_now(&self, s: &GroupingSettings, service: &ServiceId, eq: &EquipmentId) -> bool {
        let pending = self.pending.iter().filter(|p| &p.equipment == eq).count();
        let down_here = self.down.values().filter(|e| *e == eq).count();
        let active = self.active_of(s, eq);
        // As if it were down and pending too.
        let could = pending + 1 + active.saturating_sub(down_here + 1);
        let ratio = s.equipment.get(eq).map_or(1.0, |g| g.ratio);
        let taken = self.down.contains_key(service)
            || self.members.contains_key(service)
            || self.hosts.contains_key(eq);
        let host = could >= 2 && reaches(could, active, ratio);
        !(taken || host || self.monitoring_possible(s))
    }

    /// When the next decision is due.
    pub fn next_deadline(&self) -> Option<i64> {
        self.pending.iter().map(|p| p.deadline_ms).min()
    }

    /// Whether `[MONITORING KO]` could still open: none is open, and at
    /// least 3 active services on at least 2 equipments.
    fn monitoring_possible(&self, s: &GroupingSettings) -> bool {
        let equipments = s
            .equipment
            .keys()
            .filter(|eq| self.active_of(s, eq) > 0)
            .count();
        self.monitoring.is_none() && self.active_total(s) >= 3 && equipments >= 2
    }

    /// Whether `[HOST KO]` could still open for `eq` if every service of
    /// it not down yet failed now, with `pending` of them waiting.
    fn host_possible(&self, s: &GroupingSettings, eq: &EquipmentId, pending: usize) -> bool {
        let active = self.active_of(s, eq);
        let down = self.down.values().filter(|e| *e == eq).count();
        let could = pending + active.saturating_sub(down);
        let ratio = s.equipment.get(eq).map_or(1.0, |g| g.ratio);
        could >= 2 && reaches(could, active, ratio)
    }

    /// The decisions due at `now_ms`. Before the first deadline only those
    /// whose outcome is already certain: when `[MONITORING KO]` cannot
    /// open, a host that reached its ratio opens, and a service whose
    /// equipment cannot reach it gets its own request (so a lone service
    /// waits for nothing). The services they name are no longer pending;
    /// the caller reports each request it opened ([`Grouping::opened`]).
    pub fn decide(&mut self, s: &GroupingSettings, now_ms: i64) -> Vec<Decision> {
        let due = self.next_deadline().is_some_and(|d| d <= now_ms);
        let early = !self.pending.is_empty() && !self.monitoring_possible(s);
        if !due && !early {
            return Vec::new();
        }
        if let Some(request) = self.monitoring {
            let members = std::mem::take(&mut self.pending);
            return vec![Decision::Join { request, members }];
        }
        let active = self.active_total(s);
        let equipments: BTreeSet<&EquipmentId> = self.down.values().collect();
        let (down, equipments) = (self.down.len(), equipments.len());
        if due
            && self.monitoring.is_none()
            && down >= 3
            && equipments >= 2
            && reaches(down, active, s.monitoring_down_ratio)
        {
            return vec![Decision::Monitoring {
                members: std::mem::take(&mut self.pending),
                down,
                active,
                equipments,
            }];
        }
        let mut by_equipment: BTreeMap<EquipmentId, Vec<Pending>> = BTreeMap::new();
        for p in std::mem::take(&mut self.pending) {
            by_equipment.entry(p.equipment.clone()).or_default().push(p);
        }
        let mut out = Vec::new();
        for (equipment, members) in by_equipment {
            if let Some(request) = self.hosts.get(&equipment).copied() {
                out.push(Decision::Join { request, members });
                continue;
            }
            let active = self.active_of(s, &equipment);
            let ratio = s.equipment.get(&equipment).map_or(1.0, |g| g.ratio);
            if members.len() >= 2 && reaches(members.len(), active, ratio) && (due || early) {
                out.push(Decision::Host {
                    equipment,
                    members,
                    active,
                });
                continue;
            }
            let alone = early && !self.host_possible(s, &equipment, members.len());
            for p in members {
                if alone || p.deadline_ms <= now_ms {
                    out.push(Decision::Own(p));
                } else {
                    self.pending.push(p);
                }
            }
        }
        out
    }

    /// A host (`equipment`) or monitoring (`None`) request opened for
    /// `members`.
    pub fn opened(
        &mut self,
        id: RequestId,
        equipment: Option<&EquipmentId>,
        members: impl IntoIterator<Item = (ServiceId, Vec<Vote>)>,
    ) {
        match equipment {
            Some(eq) => {
                self.hosts.insert(eq.clone(), id);
            }
            None => self.monitoring = Some(id),
        }
        for (service, votes) in members {
            self.members.insert(service, (id, votes));
        }
    }

    /// `service` joined open request `id`.
    pub fn joined(&mut self, id: RequestId, service: &ServiceId, votes: &[Vote]) {
        self.members.insert(service.clone(), (id, votes.to_vec()));
    }

    /// `service` was confirmed down and is linked to an open request
    /// already (its own, or a group's): down, nothing to wait for.
    pub fn linked_down(&mut self, service: &ServiceId, equipment: &EquipmentId) {
        self.down.insert(service.clone(), equipment.clone());
    }

    /// The open group request `service` is part of.
    pub fn member_of(&self, service: &ServiceId) -> Option<RequestId> {
        self.members.get(service).map(|(id, _)| *id)
    }

    /// `service` is back up: no longer down, pending or a member.
    pub fn up(&mut self, service: &ServiceId) {
        self.down.remove(service);
        self.pending.retain(|p| &p.service != service);
        self.members.remove(service);
    }

    /// `service` was stored in state `to` (neither down nor up): a
    /// pending service waits no more, one in maintenance or paused counts
    /// as inactive.
    pub fn state(&mut self, service: &ServiceId, equipment: &EquipmentId, to: ServiceState) {
        self.down.remove(service);
        self.pending.retain(|p| &p.service != service);
        if matches!(to, ServiceState::Maintenance | ServiceState::Paused) {
            self.inactive.insert(service.clone(), equipment.clone());
        } else {
            self.inactive.remove(service);
        }
    }

    /// The open `[MONITORING KO]` if the share of down services fell below
    /// its ratio, with the counts for its closing note.
    pub fn monitoring_to_close(&self, s: &GroupingSettings) -> Option<(RequestId, usize, usize)> {
        let id = self.monitoring?;
        let (down, active) = (self.down.len(), self.active_total(s));
        (!reaches(down, active, s.monitoring_down_ratio)).then_some((id, down, active))
    }

    /// Request `id` closed: its services still down wait again from
    /// `now_ms` (they get their own or a host request), the others leave.
    pub fn closed(&mut self, s: &GroupingSettings, id: RequestId, now_ms: i64) {
        self.hosts.retain(|_, r| *r != id);
        if self.monitoring == Some(id) {
            self.monitoring = None;
        }
        let gone: Vec<(ServiceId, Vec<Vote>)> = self
            .members
            .iter()
            .filter(|(_, (r, _))| *r == id)
            .map(|(s, (_, v))| (s.clone(), v.clone()))
            .collect();
        for (service, votes) in gone {
            self.members.remove(&service);
            if let Some(eq) = self.down.get(&service).cloned() {
                self.wait(s, &service, &eq, &votes, now_ms);
            }
        }
    }

    /// A request closed by hand: its services leave, and wait for nothing
    /// (people closed it; they come back to a new request after recovering).
    pub fn closed_by_hand(&mut self, id: RequestId) {
        self.hosts.retain(|_, r| *r != id);
        if self.monitoring == Some(id) {
            self.monitoring = None;
        }
        self.members.retain(|_, (r, _)| *r != id);
    }

    /// Starts from the store: services `down` (linked or not), in
    /// maintenance or paused, and the open group requests' services.
    pub fn restore_state(
        &mut self,
        service: &ServiceId,
        equipment: &EquipmentId,
        state: ServiceState,
    ) {
        match state {
            ServiceState::Down => {
                self.down.insert(service.clone(), equipment.clone());
            }
            ServiceState::Maintenance | ServiceState::Paused => {
                self.inactive.insert(service.clone(), equipment.clone());
            }
            _ => {}
        }
    }
}

/// `n` of `of` reach `ratio` (a float compared with a little slack, so
/// that 9 of 10 reach 0.9).
fn reaches(n: usize, of: usize, ratio: f64) -> bool {
    of > 0 && n as f64 + 1e-9 >= ratio * of as f64
}

#[cfg(test)]
#[path = "grouping_tests.rs"]
mod tests;
