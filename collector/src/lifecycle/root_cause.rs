//! The lifecycle's side of one request per root cause: carries out what
//! [`super::grouping`] decides, through the store (`store/grouping.rs`).
//!
//! A `Down` verdict on a service with no open request stores `down` and
//! `service.down` at once, then joins an open host or monitoring request
//! or waits for the grouping window's decision (a `[HOST KO]`, a
//! `[MONITORING KO]`, or its own `[HTTP KO]`). An `Up` on a service of a
//! group request leaves it (a note; the host request closes with its last
//! one). After every verdict and at each deadline the decisions due are
//! carried out and `[MONITORING KO]` closes once the share of down
//! services fell below its ratio. At start it resumes from the store: the
//! open group requests and their services, and services stored `down`
//! without a request wait again.

use std::time::Duration;

use tracing::{info, warn};

use super::grouping::{Decision, Grouping, GroupingSettings, OnDown, Pending};
use crate::config::settings::{LifecycleService, LifecycleSettings};
use crate::domain::texts::{self, MemberText};
use crate::domain::{
    EquipmentId, RequestId, RequestKind, ServiceId, ServiceSnapshot, ServiceState, Vote,
};
use crate::metrics::Metrics;
use crate::store::{Confirmed, GroupMember, Opened, Store, StoreError};
use crate::time::Clock;

mod resume;

/// After a failed decision, the next attempt waits this long.
const RETRY: Duration = Duration::from_secs(1);

/// The grouping state and what the store must be told of it.
#[derive(Debug, Default)]
pub(crate) struct RootCause {
    grouping: Grouping,
    /// A decision failed: not before this (epoch ms).
    retry_at: Option<i64>,
}

impl RootCause {
    /// How long until the next decision is due (`None`: none waits).
    pub fn due_in(&self, clock: &Clock) -> Option<Duration> {
        let at = self.grouping.next_deadline()?;
        let at = self.retry_at.map_or(at, |r| r.max(at));
        let ms = at.saturating_sub(clock.now_ms()).max(0);
        Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }

    /// A `Down` verdict.
    #[expect(
        clippy::too_many_arguments,
        reason = "the lifecycle's parts it stores with"
    )]
    pub async fn down(
        &mut self,
        store: &Store,
        metrics: &Metrics,
        s: &GroupingSettings,
        clock: &Clock,
        svc: &LifecycleService<'_>,
        snapshot: &ServiceSnapshot,
        votes: &[Vote],
    ) -> Result<(), StoreError> {
        let (id, eq) = (&snapshot.id, &snapshot.equipment_id);
        if self.grouping.alone_now(s, id, eq) {
            return self.down_alone(store, metrics, svc, snapshot, votes).await;
        }
        match store.service_confirmed_down(snapshot).await? {
            Confirmed::Linked(request) => {
                self.grouping.linked_down(id, eq);
                info!(service_id = %id, request = request.get(), "service down: request already open");
            }
            Confirmed::Unlinked => {
                match self
                    .grouping
                    .confirmed_down(s, id, eq, votes, clock.now_ms())
                {
                    OnDown::Join(request) => {
                        let member = member(snapshot.url.clone(), id, votes, clock.now_ms());
                        self.join(store, s, request, eq, member, votes, clock)
                            .await?;
                    }
                    OnDown::Wait => {
                        info!(service_id = %id, "service down: its request waits for the grouping window")
                    }
                }
            }
        }
        Ok(())
    }

    /// No grouping can take it: `down` and its `[HTTP KO]` in one
    /// transaction, as without grouping.
    async fn down_alone(
        &mut self,
        store: &Store,
        metrics: &Metrics,
        svc: &LifecycleService<'_>,
        snapshot: &ServiceSnapshot,
        votes: &[Vote],
    ) -> Result<(), StoreError> {
        let request = texts::service_request(svc.url, svc.equipment, svc.priority, votes);
        match store.service_down(snapshot, &request).await? {
            Opened::New(req) => {
                metrics.request_opened(RequestKind::Corrective.as_str());
                info!(service_id = %svc.id, request = req.id.get(), "service down: request opened")
            }
            Opened::Existing(id) => {
                info!(service_id = %svc.id, request = id.get(), "service down: request already open")
            }
        }
        self.grouping.linked_down(svc.id, svc.equipment);
        Ok(())
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the member, its request and equipment, and the parts it stores with"
    )]
    async fn join(
        &mut self,
        store: &Store,
        s: &GroupingSettings,
        request: RequestId,
        eq: &EquipmentId,
        m: GroupMember,
        votes: &[Vote],
        clock: &Clock,
    ) -> Result<(), StoreError> {
        let note = texts::joined_note(&MemberText {
            id: &m.service,
            url: &m.url,
            failure: &m.failure,
        });
        let now = clock.now_ms();
        if store.join_group_request(request, &m, &note).await? {
            self.grouping.joined(request, &m.service, votes);
            info!(service_id = %m.service, request = request.get(), "service down: joined the open request");
        } else {
            // Closed meanwhile (by hand): decided again.
            self.grouping.closed_by_hand(request);
            self.grouping.wait(s, &m.service, eq, votes, now);
        }
        Ok(())
    }

    /// An `Up` verdict: `true` when the service was part of a group
    /// request and this stored it (else the caller stores it as usual).
    pub async fn up(
        &mut self,
        store: &Store,
        s: &GroupingSettings,
        clock: &Clock,
        snapshot: &ServiceSnapshot,
        was_down: bool,
    ) -> Result<bool, StoreError> {
        let Some(request) = self.grouping.member_of(&snapshot.id) else {
            self.grouping.up(&snapshot.id);
            return Ok(false);
        };
        let now = clock.now_ms();
        let note = texts::member_up_note(&snapshot.id, &snapshot.url, now);
        let closed = store
            .group_member_up(snapshot, request, was_down, &note)
            .await?;
        self.grouping.up(&snapshot.id);
        match closed {
            Some(req) => {
                self.grouping.closed(s, req.id, now);
                info!(service_id = %snapshot.id, request = req.id.get(), "service up: its host request closed")
            }
            None => {
                info!(service_id = %snapshot.id, request = request.get(), "service up: noted on its request")
            }
        }
        Ok(true)
    }

    /// Whether `service` is a member of an open group request.
    pub fn is_member(&self, service: &ServiceId) -> bool {
        self.grouping.member_of(service).is_some()
    }

    /// A quiet `Up` (not a member, not down before), stored.
    pub fn quiet_up(&mut self, service: &ServiceId) {
        self.grouping.up(service);
    }

    /// A `State` verdict, stored.
    pub fn state(&mut self, svc: &LifecycleService<'_>, to: ServiceState) {
        self.grouping.state(svc.id, svc.equipment, to);
    }

    /// A request closed by hand.
    pub fn closed_by_hand(&mut self, request: RequestId) {
        self.grouping.closed_by_hand(request);
    }

    /// Closes `[MONITORING KO]` when due, then carries out the decisions
    /// due now. A failure is logged and retried a little later.
    pub async fn tick(
        &mut self,
        store: &Store,
        metrics: &Metrics,
        settings: &LifecycleSettings,
        clock: &Clock,
    ) {
        if let Err(e) = self.try_tick(store, metrics, settings, clock).await {
            warn!(error = %e, "cannot open the grouped requests; retrying");
            let retry = i64::try_from(RETRY.as_millis()).unwrap_or(1000);
            self.retry_at = Some(clock.now_ms() + retry);
        } else {
            self.retry_at = None;
        }
    }

    async fn try_tick(
        &mut self,
        store: &Store,
        metrics: &Metrics,
        settings: &LifecycleSettings,
        clock: &Clock,
    ) -> Result<(), StoreError> {
        let s = &settings.grouping;
        if let Some((id, down, active)) = self.grouping.monitoring_to_close(s) {
            store.close_monitoring_request(id, down, active).await?;
            self.grouping.closed(s, id, clock.now_ms());
            info!(
                request = id.get(),
                down, active, "monitoring recovered: [MONITORING KO] closed"
            );
        }
        if self.retry_at.is_some_and(|r| r > clock.now_ms()) {
            return Ok(());
        }
        let mut decisions = self.grouping.decide(s, clock.now_ms()).into_iter();
        while let Some(d) = decisions.next() {
            if let Err(e) = self.carry_out(store, metrics, settings, clock, &d).await {
                self.grouping.requeue(pending_of(d));
                decisions.for_each(|d| self.grouping.requeue(pending_of(d)));
                return Err(e);
            }
        }
        Ok(())
    }

    async fn carry_out(
        &mut self,
        store: &Store,
        metrics: &Metrics,
        settings: &LifecycleSettings,
        clock: &Clock,
        d: &Decision,
    ) -> Result<(), StoreError> {
        let s = &settings.grouping;
        match d {
            Decision::Monitoring {
                members,
                down,
                active,
                equipments,
            } => {
                let new = texts::monitoring_request(&s.collector, *down, *active, *equipments);
                let rows = group_members(settings, members);
                let req = store.open_group_request(&new, &rows).await?;
                metrics.request_opened(RequestKind::Monitoring.as_str());
                self.grouping.opened(req.id, None, with_votes(members));
                warn!(
                    request = req.id.get(),
                    down, active, "nearly every service down at once: [MONITORING KO] opened"
                );
            }
            Decision::Host {
                equipment,
                members,
                active,
            } => {
                let rows = group_members(settings, members);
                let services: Vec<_> = members
                    .iter()
                    .filter_map(|p| settings.service(&p.service))
                    .collect();
                let name = services
                    .first()
                    .map_or(equipment.as_str(), |s| s.equipment_name);
                let priority = services.iter().map(|s| s.priority).max().unwrap_or("2");
                let texts: Vec<MemberText<'_>> = rows
                    .iter()
                    .map(|m| MemberText {
                        id: &m.service,
                        url: &m.url,
                        failure: &m.failure,
                    })
                    .collect();
                let new = texts::host_request(equipment, name, priority, &texts, *active);
                let req = store.open_group_request(&new, &rows).await?;
                metrics.request_opened(RequestKind::Host.as_str());
                self.grouping
                    .opened(req.id, Some(equipment), with_votes(members));
                info!(request = req.id.get(), equipment = %equipment, services = rows.len(), "host down: [HOST KO] opened");
            }
            Decision::Own(p) => {
                let Some(svc) = settings.service(&p.service) else {
                    return Ok(());
                };
                let new = texts::service_request(svc.url, svc.equipment, svc.priority, &p.votes);
                if let Opened::New(req) = store.open_service_request(svc.id, &new).await? {
                    metrics.request_opened(RequestKind::Corrective.as_str());
                    info!(service_id = %svc.id, request = req.id.get(), "service down: request opened");
                }
            }
            Decision::Join { request, members } => {
                for p in members {
                    let Some(svc) = settings.service(&p.service) else {
                        continue;
                    };
                    let m = member(svc.url.to_owned(), &p.service, &p.votes, p.at_ms);
                    self.join(store, s, *request, &p.equipment, m, &p.votes, clock)
                        .await?;
                }
            }
        }
        Ok(())
    }
}

fn pending_of(d: Decision) -> Vec<Pending> {
    match d {
        Decision::Monitoring { members, .. }
        | Decision::Host { members, .. }
        | Decision::Join { members, .. } => members,
        Decision::Own(p) => vec![p],
    }
}

fn with_votes(members: &[Pending]) -> impl Iterator<Item = (ServiceId, Vec<Vote>)> {
    members.iter().map(|p| (p.service.clone(), p.votes.clone()))
}

fn member(url: String, id: &ServiceId, votes: &[Vote], down_ms: i64) -> GroupMember {
    GroupMember {
        service: id.clone(),
        url,
        failure: texts::failure_label(votes),
        down_ms,
        up_ms: None,
    }
}

/// The store rows of `members` (services no longer configured left out).
fn group_members(settings: &LifecycleSettings, members: &[Pending]) -> Vec<GroupMember> {
    members
        .iter()
        .filter_map(|p| {
            let svc = settings.service(&p.service)?;
            Some(member(svc.url.to_owned(), &p.service, &p.votes, p.at_ms))
        })
        .collect()
}
