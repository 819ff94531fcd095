//! Per-probe phase timing: a [`Recorder`] that the probe installs as a
//! tokio task-local for the duration of one probe, and that the hooks under
//! reqwest (`hooks.rs`: the resolver, the connector layer, the TLS session
//! store) mark as a connection is opened.
//!
//! The hooks run inside the probe's own task: hyper-util polls a new
//! connection's connect future from the request future, and rustls builds
//! its ClientHello synchronously in that poll. Marks made outside a probe's
//! scope (none are expected) are ignored.
//!
//! Phases follow blackbox_exporter: each is summed over every connection
//! the probe opened (one per redirect hop that needed a new connection);
//! `first_byte` ("processing") is the time up to the response head not
//! spent resolving, connecting or handshaking, and `transfer` runs from the
//! head to the end of the body read. A reused keep-alive connection adds 0
//! to DNS, connect and TLS. A connection still being opened when the probe
//! ends (a timeout) is charged up to that moment, so a timeout shows where
//! the time went.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::Phases;

tokio::task_local! {
    static CURRENT: Arc<Recorder>;
}

/// The marks of one probe.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    dns: Duration,
    connect: Duration,
    tls: Duration,
    /// The connection being opened now.
    opening: Option<Opening>,
    head_at: Option<Instant>,
    body_done_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Opening {
    started: Instant,
    dns_started: Option<Instant>,
    dns: Duration,
    tls_started: Option<Instant>,
}

impl State {
    /// Charges the open connection's phases up to `now` and forgets it.
    fn close(&mut self, now: Instant) {
        let Some(o) = self.opening.take() else {
            return;
        };
        let dns = match o.dns_started {
            // Resolution still running: the time so far is DNS.
            Some(started) => o.dns + now.saturating_duration_since(started),
            None => o.dns,
        };
        let tcp_end = o.tls_started.unwrap_or(now);
        self.dns += dns.saturating_sub(o.dns);
        self.connect += tcp_end
            .saturating_duration_since(o.started)
            .saturating_sub(dns);
        if let Some(tls) = o.tls_started {
            self.tls += now.saturating_duration_since(tls);
        }
    }
}

impl Recorder {
    /// A recorder for a probe starting now.
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            start: Instant::now(),
            state: Mutex::new(State::default()),
        })
    }

    /// Runs `fut` with this recorder as the current one.
    pub async fn scope<F: Future>(self: &Arc<Self>, fut: F) -> F::Output {
        CURRENT.scope(self.clone(), fut).await
    }

    /// The current probe's recorder, when called inside [`Recorder::scope`].
    pub fn current() -> Option<Arc<Recorder>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A new connection is being opened (the connector was called).
    pub fn connect_started(&self) {
        let now = Instant::now();
        self.with(|s| {
            s.close(now);
            s.opening = Some(Opening {
                started: now,
                dns_started: None,
                dns: Duration::ZERO,
                tls_started: None,
            });
        });
    }

    /// The connection being opened is ready (or failed).
    pub fn connect_done(&self) {
        let now = Instant::now();
        self.with(|s| s.close(now));
    }

    /// Name resolution starts.
    pub fn dns_started(&self) {
        let now = Instant::now();
        self.with(|s| {
            if let Some(o) = &mut s.opening {
                o.dns_started = Some(now);
            }
        });
    }

    /// Name resolution ended.
    pub fn dns_done(&self) {
        let now = Instant::now();
        self.with(|s| {
            if let Some(o) = &mut s.opening
                && let Some(started) = o.dns_started.take()
            {
                let took = now.saturating_duration_since(started);
                o.dns += took;
                s.dns += took;
            }
        });
    }

    /// The TLS handshake starts (the ClientHello is being built); the first
    /// mark of a connection counts.
    pub fn tls_started(&self) {
        let now = Instant::now();
        self.with(|s| {
            if let Some(o) = &mut s.opening {
                o.tls_started.get_or_insert(now);
            }
        });
    }

    /// The final response's head arrived.
    pub fn head(&self) {
        let now = Instant::now();
        self.with(|s| s.head_at = Some(now));
    }

    /// The body was read (to its end or to the limit).
    pub fn body_done(&self) {
        let now = Instant::now();
        self.with(|s| s.body_done_at = Some(now));
    }

    /// The phases as of now; an open connection is charged up to now.
    pub fn phases(&self) -> Phases {
        let now = Instant::now();
        self.with(|s| {
            s.close(now);
            let setup = s.dns + s.connect + s.tls;
            Phases {
                dns: Some(s.dns),
                connect: Some(s.connect),
                tls: Some(s.tls),
                first_byte: s.head_at.map(|head| {
                    head.saturating_duration_since(self.start)
                        .saturating_sub(setup)
                }),
                transfer: s.head_at.and_then(|head| {
                    s.body_done_at
                        .map(|done| done.saturating_duration_since(head))
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_connection_splits_into_dns_connect_and_tls() {
        let t0 = Instant::now();
        let mut s = State {
            opening: Some(Opening {
                started: t0,
                dns_started: None,
                dns: ms(10),
                tls_started: Some(t0 + ms(30)),
            }),
            dns: ms(10),
            ..State::default()
        };
        s.close(t0 + ms(100));
        assert_eq!((s.dns, s.connect, s.tls), (ms(10), ms(20), ms(70)));
        // A second hop adds to the sums; a cut-off resolution is DNS.
        s.opening = Some(Opening {
            started: t0 + ms(200),
            dns_started: Some(t0 + ms(200)),
            dns: Duration::ZERO,
            tls_started: None,
        });
        s.close(t0 + ms(250));
        assert_eq!((s.dns, s.connect, s.tls), (ms(60), ms(20), ms(70)));
    }

    #[tokio::test]
    async fn marks_outside_a_scope_are_ignored_and_inside_recorded() {
        assert!(Recorder::current().is_none());
        let rec = Recorder::new();
        let seen = rec
            .scope(async { Recorder::current().map(|r| Arc::ptr_eq(&r, &rec)) })
            .await;
        assert_eq!(seen, Some(true));
        let phases = rec.phases();
        assert_eq!(phases.dns, Some(Duration::ZERO));
        assert_eq!(phases.first_byte, None);
        assert_eq!(phases.transfer, None);
    }
}
