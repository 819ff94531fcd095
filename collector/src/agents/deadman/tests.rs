//! The liveness actor on tokio's paused clock: deadlines fire exactly a
//! window after the agent was last heard from, once, and hearing from it
//! again brings it back.

use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedReceiver, error::TryRecvError};

use super::*;
use crate::agents::testing::Recorder;

const W: Duration = Duration::from_secs(30);

struct Harness {
    switch: LivenessHandle,
    changes: UnboundedReceiver<Change>,
    _cancel: tokio_util::sync::DropGuard,
}

fn start(settle: Duration, watched: &[(&str, bool)]) -> Harness {
    let (tx, changes) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let watched = watched
        .iter()
        .map(|(agent, dead)| Watched {
            agent: (*agent).into(),
            dead: *dead,
        })
        .collect();
    let switch = LivenessHandle::spawn(
        Recorder(tx),
        LivenessSettings {
            heartbeat_interval: W,
            missed_heartbeats: 1,
            settle_window: settle,
        },
        watched,
        cancel.clone(),
        &TaskTracker::new(),
    );
    Harness {
        switch,
        changes,
        _cancel: cancel.drop_guard(),
    }
}

impl Harness {
    /// The next change, and how long after `since` it came.
    async fn next(&mut self, since: Instant) -> (Change, Duration) {
        let change = self.changes.recv().await.expect("switch running");
        (change, since.elapsed())
    }

    /// Lets `d` pass on the paused clock; no change may happen meanwhile.
    async fn quiet_for(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
        assert_eq!(self.changes.try_recv(), Err(TryRecvError::Empty));
    }

    fn dead(&self) -> Vec<AgentId> {
        self.switch.dead().borrow().iter().cloned().collect()
    }
}

fn down(a: &str) -> Change {
    Change::Down(a.into())
}

#[tokio::test(start_paused = true)]
async fn silent_past_the_window_goes_down_once() {
    let mut h = start(W, &[]);
    let t0 = Instant::now();
    h.switch.watch("a".into()).await;
    assert_eq!(h.next(t0).await, (down("a"), W));
    assert_eq!(h.dead(), ["a"]);
    h.quiet_for(W * 10).await;
}

#[tokio::test(start_paused = true)]
async fn heartbeats_push_the_deadline() {
    let mut h = start(W, &[]);
    let t0 = Instant::now();
    h.switch.watch("a".into()).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        h.switch.heard("a".into()).await;
    }
    assert_eq!(h.next(t0).await, (down("a"), Duration::from_secs(50) + W));
}

#[tokio::test(start_paused = true)]
async fn hearing_from_a_dead_agent_brings_it_back() {
    let mut h = start(W, &[]);
    let t0 = Instant::now();
    h.switch.watch("a".into()).await;
    assert_eq!(h.next(t0).await.0, down("a"));
    h.switch.heard("a".into()).await;
    assert_eq!(h.next(t0).await.0, Change::Up("a".into()));
    assert!(h.dead().is_empty());
    let t1 = Instant::now();
    assert_eq!(h.next(t1).await, (down("a"), W), "watched again");
}

#[tokio::test(start_paused = true)]
async fn the_settle_window_holds_the_first_deadline_after_a_start() {
    let settle = W * 2;
    let mut h = start(settle, &[("a", false), ("b", false), ("gone", true)]);
    let t0 = Instant::now();
    assert_eq!(h.dead(), ["gone"], "an open request is resumed as dead");
    h.switch.heard("b".into()).await;
    assert_eq!(
        h.next(t0).await,
        (down("b"), W),
        "heard: the window applies"
    );
    assert_eq!(h.next(t0).await, (down("a"), settle));
    h.quiet_for(W * 10).await;
    h.switch.heard("gone".into()).await;
    assert_eq!(h.next(t0).await.0, Change::Up("gone".into()));
}

#[tokio::test(start_paused = true)]
async fn agents_not_watched_never_alert() {
    let mut h = start(W, &[("suspended", false)]);
    h.switch.heard("new".into()).await;
    h.switch.watch("a".into()).await;
    h.switch.unwatch("a".into()).await;
    h.switch.unwatch("suspended".into()).await;
    h.quiet_for(W * 10).await;
}

#[tokio::test(start_paused = true)]
async fn unwatching_a_dead_agent_clears_it() {
    let mut h = start(W, &[]);
    h.switch.watch("a".into()).await;
    assert_eq!(h.next(Instant::now()).await.0, down("a"));
    let mut dead = h.switch.dead();
    dead.mark_unchanged();
    h.switch.unwatch("a".into()).await;
    dead.changed().await.expect("published");
    assert!(dead.borrow().is_empty());
    h.switch.heard("a".into()).await;
    h.quiet_for(W * 10).await;
}
