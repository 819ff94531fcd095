//! Quiet verdicts: a state change that opens, closes and records nothing
//! but the service's state (`Verdict::State`, and an `Up` from a state
//! other than `down` with no request known, outside a mute window and
//! outside a group request). Consecutive ones are stored in one
//! transaction ([`Store::set_service_states`]) instead of one each: a
//! collector's first minute with a million new services, or an agent's
//! blip that makes thousands of services `suspect` and `up` again, is that
//! many of them in a row. A verdict that is not quiet ends the run and is
//! handled next, so the order of what each service goes through is kept.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::LifecycleMsg;
use super::mute::Mute;
use super::retry::Retry;
use super::root_cause::RootCause;
use crate::config::settings::LifecycleSettings;
use crate::domain::{ServiceId, ServiceState, Verdict};
use crate::store::Store;

/// The most quiet verdicts stored in one transaction.
pub(super) const MOST: usize = 1000;

/// One quiet verdict: the service, the state stored, and whether it came
/// as an `Up` (the grouping forgets the service) rather than a `State`.
pub(super) struct Quiet {
    pub service: ServiceId,
    pub from: ServiceState,
    pub to: ServiceState,
    pub up: bool,
}

/// `verdict` on `service` as a quiet one, if it is (see the module doc).
pub(super) fn quiet(
    service: &ServiceId,
    verdict: &Verdict,
    settings: &LifecycleSettings,
    mute: &Mute,
    root: &RootCause,
) -> Option<Quiet> {
    let svc = settings.service(service)?;
    let (from, to, up) = match verdict {
        Verdict::State { from, to } => (*from, *to, false),
        Verdict::Up {
            from,
            had_request: false,
            ..
        } if *from != ServiceState::Down
            && !mute.muted(svc.equipment)
            && !root.is_member(service) =>
        {
            (*from, ServiceState::Up, true)
        }
        _ => return None,
    };
    Some(Quiet {
        service: service.clone(),
        from,
        to,
        up,
    })
}

/// `first` and the quiet verdicts queued right behind it (up to
/// [`MOST`]; verdicts on services not configured are dropped, as the
/// actor drops them), and the message after them, which is not one.
pub(super) fn gather(
    first: Quiet,
    inbox: &mut mpsc::Receiver<LifecycleMsg>,
    settings: &LifecycleSettings,
    mute: &Mute,
    root: &RootCause,
) -> (Vec<Quiet>, Option<LifecycleMsg>) {
    let mut run = vec![first];
    while run.len() < MOST {
        let Ok(msg) = inbox.try_recv() else {
            break;
        };
        let LifecycleMsg::Verdict(v) = &msg else {
            return (run, Some(msg));
        };
        if settings.service(&v.service).is_none() {
            continue;
        }
        match quiet(&v.service, &v.verdict, settings, mute, root) {
            Some(q) => run.push(q),
            None => return (run, Some(msg)),
        }
    }
    (run, None)
}

/// Stores the states of `run` in one transaction, retried until stored;
/// `false` when shutdown came first.
pub(super) async fn store_run(run: &[Quiet], store: &Store, cancel: &CancellationToken) -> bool {
    let states: Vec<_> = run.iter().map(|q| (&q.service, q.to)).collect();
    let mut retry = Retry::new();
    loop {
        match store.set_service_states(&states).await {
            Ok(()) => return true,
            Err(e) => {
                let what = || format!("{} service states", states.len());
                if !retry.after(&e, cancel, what).await {
                    return false;
                }
            }
        }
    }
}

/// What follows storing `run`: the grouping told, the state board set,
/// one log line each.
pub(super) fn stored(
    run: &[Quiet],
    settings: &LifecycleSettings,
    root: &mut RootCause,
    metrics: &crate::metrics::Metrics,
) {
    for q in run {
        let Some(svc) = settings.service(&q.service) else {
            continue;
        };
        if q.up {
            root.quiet_up(&q.service);
            info!(service_id = %q.service, from = %q.from, "service up");
        } else {
            root.state(&svc, q.to);
            info!(service_id = %q.service, from = %q.from, to = %q.to, "service state changed");
        }
        metrics.board.set_state(&q.service, q.to);
    }
}
