//! The lifecycle actor over a temp SQLite store, on tokio's paused clock
//! held still: verdicts in, stored states, requests and events out, each
//! time read from the test's clock.

use super::*;
use crate::domain::{
    CloseReason, ErrorKind, ProbeOutcome, Request, ServiceMap, Stage, Vote, texts,
};
use crate::maintenance::MaintenanceSet;
use crate::testing::{BASE_MS, Bench, soon};

struct Harness {
    lifecycle: LifecycleHandle,
    bench: Bench,
    /// The running maintenance windows the lifecycle sees.
    _maintenance: watch::Sender<Arc<MaintenanceSet>>,
}

async fn start() -> Harness {
    let bench = Bench::new().await;
    let (maintenance, rx) = watch::channel(Arc::new(MaintenanceSet::new()));
    let (lifecycle, resumed) = LifecycleHandle::spawn(
        bench.store.clone(),
        bench.settings.lifecycle.clone(),
        Arc::new(Metrics::new()),
        bench.time.clock(),
        ResumeFrom {
            maintenance: rx,
            states: &ServiceMap::default(),
        },
        bench.cancel.clone(),
        &bench.tasks,
    );
    resumed.wait().await;
    Harness {
        lifecycle,
        bench,
        _maintenance: maintenance,
    }
}

impl Harness {
    async fn send(&self, service: &str, verdict: Verdict) {
        assert!(
            self.lifecycle.verdict(service.into(), verdict).await,
            "the actor is running"
        );
    }

    /// Stops the actor once it has stored every verdict sent (it drains
    /// its inbox on cancellation).
    async fn drain(&mut self) {
        self.bench.stop().await;
    }

    /// Waits until events up to `seq` are committed.
    async fn committed(&self, seq: i64) {
        let mut events = self.bench.store.subscribe_events();
        soon("the events", events.wait_for(|last| *last >= seq))
            .await
            .expect("the store is open");
    }

    async fn state(&self) -> ServiceState {
        self.bench
            .store
            .get_service(&"shop".into())
            .await
            .expect("shop")
            .state
    }

    async fn requests(&self) -> Vec<Request> {
        self.bench
            .store
            .list_requests(false)
            .await
            .expect("requests")
    }

    async fn events(&self) -> Vec<(String, i64)> {
        self.bench
            .store
            .events_after(0, 100)
            .await
            .expect("events")
            .into_iter()
            .map(|e| (e.event_type.as_str().to_owned(), e.time_ms))
            .collect()
    }
}

fn vote(status: u16) -> Vote {
    let ok = status < 400;
    Vote {
        agent: "a1".into(),
        agent_name: "edge-a1".into(),
        outcome: ProbeOutcome {
            ok,
            status_code: Some(status),
            error_kind: (!ok).then_some(ErrorKind::HttpStatus),
            error: (!ok).then(|| format!("HTTP {status}")),
            duration_us: 1000,
            phases: Default::default(),
            cert_not_after_ms: None,
        },
        time_ms: BASE_MS,
    }
}

fn down() -> Verdict {
    Verdict::Down {
        from: ServiceState::Suspect,
        votes: vec![vote(503)],
    }
}

fn up(had_request: bool) -> Verdict {
    Verdict::Up {
        from: ServiceState::Down,
        had_request,
        votes: vec![vote(200)],
    }
}

/// What a run of verdicts leaves in the store: the service's state, each
/// request's stage and close reason, and the events, all at the clock's
/// (unmoved) time.
#[tokio::test(start_paused = true)]
async fn verdicts_become_states_requests_and_events() {
    type Case = (
        &'static str,
        Vec<(&'static str, Verdict)>,
        ServiceState,
        Vec<(Stage, Option<CloseReason>)>,
        Vec<&'static str>,
    );
    let open = (Stage::Open, None);
    let recovered = (Stage::Done, Some(CloseReason::Recovered));
    let cases: Vec<Case> = vec![
        (
            "a plain state change writes no event",
            vec![(
                "shop",
                Verdict::State {
                    from: ServiceState::Unknown,
                    to: ServiceState::Suspect,
                },
            )],
            ServiceState::Suspect,
            vec![],
            vec![],
        ),
        (
            "down opens one request",
            vec![("shop", down())],
            ServiceState::Down,
            vec![open],
            vec!["service.down", "request.opened"],
        ),
        (
            "down again while the request is open is the same outage",
            vec![("shop", down()), ("shop", down())],
            ServiceState::Down,
            vec![open],
            vec!["service.down", "request.opened"],
        ),
        (
            "up closes the open request",
            vec![("shop", down()), ("shop", up(true))],
            ServiceState::Up,
            vec![recovered],
            vec![
                "service.down",
                "request.opened",
                "service.up",
                "request.closed",
            ],
        ),
        (
            "up from suspect with no request writes no event",
            vec![(
                "shop",
                Verdict::Up {
                    from: ServiceState::Suspect,
                    had_request: false,
                    votes: vec![vote(200)],
                },
            )],
            ServiceState::Up,
            vec![],
            vec![],
        ),
        (
            "a local failure is recorded and leaves the state",
            vec![(
                "shop",
                Verdict::LocalFailure {
                    votes: vec![vote(503)],
                },
            )],
            ServiceState::Unknown,
            vec![],
            vec!["service.local_failure"],
        ),
        (
            "a verdict on a service not configured is skipped",
            vec![("gone", down())],
            ServiceState::Unknown,
            vec![],
            vec![],
        ),
    ];
    for (what, verdicts, state, requests, events) in cases {
        let mut h = start().await;
        for (service, verdict) in verdicts {
            h.send(service, verdict).await;
        }
        h.drain().await;
        assert_eq!(h.state().await, state, "{what}: state");
        let stored: Vec<_> = h
            .requests()
            .await
            .into_iter()
            .map(|r| {
                assert_eq!(r.opened_ms, BASE_MS, "{what}: opened at the clock's time");
                (r.stage, r.close_reason)
            })
            .collect();
        assert_eq!(stored, requests, "{what}: requests");
        let expected: Vec<_> = events.iter().map(|e| (e.to_string(), BASE_MS)).collect();
        assert_eq!(h.events().await, expected, "{what}: events");
    }
}

/// The request opened on `Down` is closed on `Up` a while later, with a
/// note by `picket` dated by the clock at the recovery.
#[tokio::test(start_paused = true)]
async fn the_closing_note_is_dated_by_the_clock() {
    let mut h = start().await;
    h.send("shop", down()).await;
    h.committed(2).await;
    h.bench.time.advance(Duration::from_secs(90)).await;
    h.send("shop", up(true)).await;
    h.drain().await;

    let back_ms = BASE_MS + 90_000;
    let requests = h.requests().await;
    let [request] = requests.as_slice() else {
        panic!("one request, got {requests:?}");
    };
    assert_eq!(
        (request.name.as_str(), request.opened_ms, request.closed_ms),
        ("[HTTP KO] http://shop.test", BASE_MS, Some(back_ms))
    );
    let note = request.notes.last().expect("a closing note");
    let text = texts::closing_note("http://shop.test", &[vote(200)], back_ms);
    assert_eq!(
        (note.author.as_str(), note.time_ms, note.text.as_str()),
        ("picket", back_ms, text.as_str())
    );
    assert!(text.ends_with(" at 2026-01-01T00:01:30.000Z"), "{text}");
    let times: Vec<i64> = h.events().await.into_iter().map(|(_, t)| t).collect();
    assert_eq!(times, [BASE_MS, BASE_MS, back_ms, back_ms]);
}

fn state(from: ServiceState, to: ServiceState) -> Verdict {
    Verdict::State { from, to }
}

/// Quiet verdicts queued in a row are stored together, and a verdict that
/// is not quiet in the middle of them keeps its place: the service goes
/// suspect, up, suspect (quiet), down (a request), up (closed), and
/// suspect again (quiet), and ends suspect with one request closed.
#[tokio::test(start_paused = true)]
async fn quiet_verdicts_are_stored_in_order_around_the_others() {
    use ServiceState::{Suspect, Unknown, Up};
    let mut h = start().await;
    h.send("shop", state(Unknown, Suspect)).await;
    h.send(
        "shop",
        Verdict::Up {
            from: Suspect,
            had_request: false,
            votes: vec![vote(200)],
        },
    )
    .await;
    h.send("shop", state(Up, Suspect)).await;
    h.send("shop", down()).await;
    h.send("shop", up(true)).await;
    h.send("shop", state(Up, Suspect)).await;
    // Not configured: dropped, within a run or not.
    h.send("gone", state(Up, Suspect)).await;
    h.drain().await;

    assert_eq!(h.state().await, Suspect);
    let requests = h.requests().await;
    let stages: Vec<Stage> = requests.iter().map(|r| r.stage).collect();
    assert_eq!(stages, [Stage::Done]);
    let events: Vec<String> = h.events().await.into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        events,
        [
            "service.down",
            "request.opened",
            "service.up",
            "request.closed"
        ]
    );
}
