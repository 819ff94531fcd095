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

use std::collections::HashMap;
use std::time::Duration;

use crate::config::settings::EvaluatorSettings;
use crate::domain::cert::{remember, should_forward};
use crate::domain::{ServiceId, ServiceState, Verdict};

/// The certificate warnings' memory of the evaluator.
#[derive(Debug, Default)]
pub(super) struct CertWatch {
    services: HashMap<ServiceId, Watched>,
}

#[derive(Debug)]
struct Watched {
    warning: Duration,
    /// The latest certificates passed on, oldest first.
    forwarded: Vec<i64>,
}

impl CertWatch {
    pub(super) fn new(settings: &EvaluatorSettings) -> CertWatch {
        let mut watch = CertWatch::default();
        watch.reconfigure(settings);
        watch
    }

    /// Follows a reload: new warnings, services gone forgotten, what was
    /// passed on kept.
    pub(super) fn reconfigure(&mut self, settings: &EvaluatorSettings) {
        let mut old = std::mem::take(&mut self.services);
        for s in &settings.services {
            let forwarded = old.remove(&s.id).map(|w| w.forwarded).unwrap_or_default();
            self.services.insert(
                s.id.clone(),
                Watched {
                    warning: s.cert_expiry_warning,
                    forwarded,
                },
            );
        }
    }

    /// The warning to pass on for a result of `service`, in `state`, that
    /// showed a certificate valid until `not_after_ms`, at `now_ms`.
    pub(super) fn sighting(
        &mut self,
        service: &ServiceId,
        state: ServiceState,
        not_after_ms: Option<i64>,
        now_ms: i64,
    ) -> Option<Verdict> {
        let not_after_ms = not_after_ms?;
        if matches!(state, ServiceState::Maintenance | ServiceState::Paused) {
            return None;
        }
        let watched = self.services.get_mut(service)?;
        if !should_forward(&watched.forwarded, not_after_ms, now_ms, watched.warning) {
            return None;
        }
        remember(&mut watched.forwarded, not_after_ms);
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

    fn settings(warning_days: u64) -> EvaluatorSettings {
        EvaluatorSettings {
            services: vec![EvaluatorService {
                id: "shop".into(),
                equipment: "web-1".into(),
                active: true,
                recheck_delay: Duration::from_secs(2),
                recheck_timeout: Duration::from_secs(12),
                quorum: Quorum::Majority,
                failures_before_down: 1,
                check_timeout: Duration::from_secs(10),
                cert_expiry_warning: Duration::from_secs(warning_days * 86_400),
            }],
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
        let mut w = CertWatch::new(&settings(14));
        let shop = ServiceId::from("shop");
        let up = ServiceState::Up;
        let soon = NOW + 3 * DAY;
        assert_eq!(warned(w.sighting(&shop, up, None, NOW)), None, "plain HTTP");
        assert_eq!(
            warned(w.sighting(&shop, up, Some(NOW + 30 * DAY), NOW)),
            None
        );
        assert_eq!(warned(w.sighting(&shop, up, Some(soon), NOW)), Some(soon));
        assert_eq!(warned(w.sighting(&shop, up, Some(soon), NOW + 1)), None);
        let other = NOW + 4 * DAY;
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Down, Some(other), NOW)),
            Some(other)
        );
        let expired = NOW - DAY;
        assert_eq!(
            warned(w.sighting(&shop, up, Some(expired), NOW)),
            Some(expired)
        );
        assert_eq!(
            warned(w.sighting(&"nope".into(), up, Some(soon - 1), NOW)),
            None
        );
    }

    /// Nothing while in maintenance (or paused); the first result after
    /// warns.
    #[test]
    fn waits_out_maintenance() {
        let mut w = CertWatch::new(&settings(14));
        let shop = ServiceId::from("shop");
        let soon = Some(NOW + DAY);
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Maintenance, soon, NOW)),
            None
        );
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Paused, soon, NOW)),
            None
        );
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Unknown, soon, NOW)),
            soon
        );
    }

    /// A reload to a longer warning takes effect; what was passed on stays
    /// passed on.
    #[test]
    fn follows_a_reload() {
        let mut w = CertWatch::new(&settings(14));
        let shop = ServiceId::from("shop");
        let (near, far) = (NOW + DAY, NOW + 20 * DAY);
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Up, Some(near), NOW)),
            Some(near)
        );
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Up, Some(far), NOW)),
            None
        );
        w.reconfigure(&settings(30));
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Up, Some(near), NOW)),
            None
        );
        assert_eq!(
            warned(w.sighting(&shop, ServiceState::Up, Some(far), NOW)),
            Some(far)
        );
    }
}
