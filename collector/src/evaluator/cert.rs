//! Which results become certificate warnings: for each service, its
//! `cert_expiry_warning` and the few certificates (`notAfter`s) already
//! passed on to the lifecycle.
//!
//! A result whose certificate expires within the warning becomes a
//! [`Verdict::CertExpiring`] once per certificate in this life of the
//! collector; the store marks each warned certificate in the event's
//! transaction, so that a second agent, or a restart that emptied this
//! memory, does not warn twice. Nothing is passed on while the service is
//! in maintenance (agents are told to drop it; a late result is ignored)
//! or paused (no tracker, so the evaluator never gets here): the first
//! result after it warns.

use std::time::Duration;

use crate::config::settings::EvaluatorSettings;
use crate::domain::cert::{remember, should_forward};
use crate::domain::{ServiceId, ServiceMap, ServiceState, Verdict};

/// The certificate warnings' memory of the evaluator: only services that
/// have had a warning passed on have an entry (each service's warning
/// itself is in its tracker's `Policy`), so a million services with
/// healthy certificates cost nothing here.
#[derive(Debug, Default)]
pub(super) struct CertWatch {
    /// Per service, the latest certificates passed on, oldest first.
    forwarded: ServiceMap<Vec<i64>>,
}

impl CertWatch {
    /// Follows a reload: services gone are forgotten, what was passed on
    /// is kept (a longer warning takes effect on the next result).
    pub(super) fn reconfigure(&mut self, settings: &EvaluatorSettings) {
        self.forwarded
            .retain(|id, _| settings.service(id).is_some());
    }

    /// The warning to pass on for a result of `service`, in `state`, whose
    /// warning is `warning`, that showed a certificate valid until
    /// `not_after_ms`, at `now_ms`.
    pub(super) fn sighting(
        &mut self,
        service: &ServiceId,
        state: ServiceState,
        warning: Duration,
        not_after_ms: Option<i64>,
        now_ms: i64,
    ) -> Option<Verdict> {
        let not_after_ms = not_after_ms?;
        if matches!(state, ServiceState::Maintenance | ServiceState::Paused) {
            return None;
        }
        let seen = self.forwarded.get(service).map_or(&[][..], Vec::as_slice);
        if !should_forward(seen, not_after_ms, now_ms, warning) {
            return None;
        }
        remember(
            self.forwarded.entry(service.clone()).or_default(),
            not_after_ms,
        );
        Some(Verdict::CertExpiring {
            state,
            not_after_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::EvaluatorService;
    use crate::domain::Quorum;

    const NOW: i64 = 1_767_225_600_000;
    const DAY: i64 = 86_400_000;

    const WARNING: Duration = Duration::from_secs(14 * 86_400);

    fn settings(ids: &[&str]) -> EvaluatorSettings {
        EvaluatorSettings {
            services: ids
                .iter()
                .map(|id| EvaluatorService {
                    id: (*id).into(),
                    equipment: "web-1".into(),
                    active: true,
                    recheck_delay: Duration::from_secs(2),
                    recheck_timeout: Duration::from_secs(12),
                    quorum: Quorum::Majority,
                    failures_before_down: 1,
                    check_timeout: Duration::from_secs(10),
                    cert_expiry_warning: WARNING,
                    degraded_after: 3,
                })
                .collect(),
        }
    }

    fn warned(v: Option<Verdict>) -> Option<i64> {
        match v {
            Some(Verdict::CertExpiring { not_after_ms, .. }) => Some(not_after_ms),
            None => None,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn passes_each_expiring_certificate_on_once() {
        let mut w = CertWatch::default();
        let shop = ServiceId::from("shop");
        let up = ServiceState::Up;
        let soon = NOW + 3 * DAY;
        assert_eq!(
            warned(w.sighting(&shop, up, WARNING, None, NOW)),
            None,
            "plain HTTP"
        );
        assert_eq!(
            warned(w.sighting(&shop, up, WARNING, Some(NOW + 30 * DAY), NOW)),
            None
        );
        assert_eq!(
            warned(w.sighting(&shop, up, WARNING, Some(soon), NOW)),
            Some(soon)
        );
        assert_eq!(
            warned(w.sighting(&shop, up, WARNING, Some(soon), NOW + 1)),
            None
        );
        let other = NOW + 4 * DAY;
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Down, WARNING, Some(other), NOW)),
            Some(other)
        );
        let expired = NOW - DAY;
        assert_eq!(
            warned(w.sighting(&shop, up, WARNING, Some(expired), NOW)),
            Some(expired)
        );
    }

    /// Nothing while in maintenance (or paused); the first result after
    /// warns.
    #[test]
    fn waits_out_maintenance() {
        let mut w = CertWatch::default();
        let shop = ServiceId::from("shop");
        let soon = Some(NOW + DAY);
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Maintenance, WARNING, soon, NOW)),
            None
        );
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Paused, WARNING, soon, NOW)),
            None
        );
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Unknown, WARNING, soon, NOW)),
            soon
        );
    }

    /// A reload to a longer warning takes effect; what was passed on stays
    /// passed on while the service is configured, and is forgotten once
    /// it is not.
    #[test]
    fn follows_a_reload() {
        let mut w = CertWatch::default();
        let shop = ServiceId::from("shop");
        let (near, far) = (NOW + DAY, NOW + 20 * DAY);
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Up, WARNING, Some(near), NOW)),
            Some(near)
        );
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Up, WARNING, Some(far), NOW)),
            None
        );
        w.reconfigure(&settings(&["blog", "shop"]));
        let longer = Duration::from_secs(30 * 86_400);
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Up, longer, Some(near), NOW)),
            None
        );
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Up, longer, Some(far), NOW)),
            Some(far)
        );
        w.reconfigure(&settings(&["blog"]));
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Up, longer, Some(near), NOW)),
            Some(near),
            "a removed service's memory goes with it"
        );
    }
}
