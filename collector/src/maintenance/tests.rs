//! The maintenance actor over a temp SQLite store, on tokio's paused clock
//! held still: a window ends when the test's clock reaches its end, not a
//! millisecond before; by hand; or at once when it expired while the
//! collector was down.

use super::*;
use crate::agents::testing::event_types;
use crate::domain::MaintenanceMode;
use crate::testing::{BASE_MS, Bench, settle, soon};

const HOUR: Duration = Duration::from_secs(3600);
const MS: Duration = Duration::from_millis(1);

struct Harness {
    handle: MaintenanceHandle,
    set: watch::Receiver<Arc<MaintenanceSet>>,
    bench: Bench,
}

async fn spawn(bench: &Bench) -> (MaintenanceHandle, watch::Receiver<Arc<MaintenanceSet>>) {
    MaintenanceHandle::spawn(
        bench.store.clone(),
        bench.settings.maintenance.clone(),
        bench.time.clock(),
        bench.cancel.clone(),
        &bench.tasks,
    )
    .await
    .expect("spawned")
}

async fn start() -> Harness {
    let bench = Bench::new().await;
    let (handle, set) = spawn(&bench).await;
    Harness { handle, set, bench }
}

impl Harness {
    /// Stops the actor and starts a new one over the same store (a
    /// collector restart), after `down` of paused time.
    async fn restart_after(&mut self, down: Duration) {
        self.bench.stop().await;
        self.bench.time.advance(down).await;
        (self.handle, self.set) = spawn(&self.bench).await;
    }

    async fn start_window(&self, duration: Duration) -> MaintenanceWindow {
        soon(
            "the window to start",
            self.handle.start(
                "web-1".into(),
                Some(duration),
                "tests".into(),
                MaintenanceMode::Pause,
            ),
        )
        .await
        .expect("started")
    }

    /// A round trip through the actor: what it was doing is done.
    async fn barrier(&self) {
        let reply = soon("a reply", self.handle.end("nowhere".into())).await;
        assert!(matches!(reply, Err(MaintenanceError::UnknownEquipment(_))));
    }

    /// Whether web-1 is in the published set and its stored window active.
    async fn running(&self) -> (bool, bool) {
        let published = self.set.borrow().contains_key("web-1");
        let stored = self
            .bench
            .store
            .maintenance_of(&"web-1".into())
            .await
            .expect("window");
        (published, stored.active)
    }

    /// Waits until web-1 has left the published set; returns the stored
    /// window.
    async fn ended(&mut self) -> MaintenanceWindow {
        soon(
            "the window to end",
            self.set.wait_for(|set| !set.contains_key("web-1")),
        )
        .await
        .expect("the actor is running");
        self.bench
            .store
            .maintenance_of(&"web-1".into())
            .await
            .expect("window")
    }
}

fn window(starts_ms: i64, ends_ms: i64, active: bool) -> MaintenanceWindow {
    MaintenanceWindow {
        equipment: "web-1".into(),
        starts_ms,
        ends_ms,
        reason: "tests".into(),
        active,
        mode: MaintenanceMode::Pause,
        schedule: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_window_ends_exactly_at_its_end() {
    let mut h = start().await;
    let end = BASE_MS + HOUR.as_millis() as i64;
    assert_eq!(h.start_window(HOUR).await, window(BASE_MS, end, true));
    assert_eq!(h.running().await, (true, true));

    h.bench.time.advance(HOUR - MS).await;
    h.barrier().await;
    assert_eq!(h.running().await, (true, true), "ended a millisecond early");

    h.bench.time.advance(MS).await;
    assert_eq!(h.ended().await, window(BASE_MS, end, false));
    assert_eq!(
        event_types(&h.bench.store).await,
        ["maintenance.started", "maintenance.ended"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_window_started_again_is_extended_from_now() {
    let mut h = start().await;
    h.start_window(HOUR).await;
    h.bench.time.advance(Duration::from_secs(600)).await;
    let end = BASE_MS + 600_000 + HOUR.as_millis() as i64;
    assert_eq!(
        h.start_window(HOUR).await,
        window(BASE_MS, end, true),
        "the start is kept, the end moves"
    );

    h.bench.time.advance(HOUR - MS).await;
    h.barrier().await;
    assert_eq!(h.running().await, (true, true), "ended at the first end");
    h.bench.time.advance(MS).await;
    assert_eq!(h.ended().await, window(BASE_MS, end, false));
}

#[tokio::test(start_paused = true)]
async fn a_window_ended_by_hand_ends_now_and_its_timer_with_it() {
    let mut h = start().await;
    h.start_window(HOUR).await;
    h.bench.time.advance(Duration::from_secs(60)).await;
    let ended = soon("the end", h.handle.end("web-1".into()))
        .await
        .expect("ended");
    assert_eq!(ended, window(BASE_MS, BASE_MS + 60_000, false));
    assert_eq!(h.ended().await, ended);

    h.bench.time.advance(HOUR * 2).await;
    h.barrier().await;
    assert_eq!(
        event_types(&h.bench.store).await,
        ["maintenance.started", "maintenance.ended"],
        "ended once"
    );
    assert!(matches!(
        h.handle.end("web-1".into()).await,
        Err(MaintenanceError::NotInMaintenance(_))
    ));
}

/// At a start, a window that expired while the collector was down is ended
/// at once, at its planned end; one still running ends at its end.
#[tokio::test(start_paused = true)]
async fn windows_loaded_at_a_start_end_at_their_end() {
    let mut h = start().await;
    let end = BASE_MS + HOUR.as_millis() as i64;
    h.start_window(HOUR).await;
    h.restart_after(HOUR * 2).await;
    assert_eq!(h.ended().await, window(BASE_MS, end, false));
    assert_eq!(
        event_types(&h.bench.store).await,
        ["maintenance.started", "maintenance.ended"]
    );

    let started = h.bench.time.now_ms();
    let end = started + HOUR.as_millis() as i64;
    h.start_window(HOUR).await;
    h.restart_after(HOUR / 2).await;
    settle().await;
    assert_eq!(h.running().await, (true, true), "loaded and running");
    h.bench.time.advance(HOUR / 2 - MS).await;
    h.barrier().await;
    assert_eq!(h.running().await, (true, true), "ended a millisecond early");
    h.bench.time.advance(MS).await;
    assert_eq!(h.ended().await, window(started, end, false));
}

#[tokio::test(start_paused = true)]
async fn what_the_actor_refuses() {
    let h = start().await;
    for (what, duration, equipment, expected) in [
        (
            "zero duration",
            Some(Duration::ZERO),
            "web-1",
            "duration must be more than 0s",
        ),
        (
            "unknown equipment",
            Some(HOUR),
            "nowhere",
            "unknown equipment \"nowhere\"",
        ),
    ] {
        let refused = h
            .handle
            .start(
                equipment.into(),
                duration,
                "tests".into(),
                MaintenanceMode::Pause,
            )
            .await
            .expect_err(what);
        assert_eq!(refused.to_string(), expected, "{what}");
    }
    let refused = h.handle.end("web-1".into()).await.expect_err("not running");
    assert_eq!(
        refused.to_string(),
        "equipment \"web-1\" is not in maintenance"
    );
    assert!(event_types(&h.bench.store).await.is_empty());
}
