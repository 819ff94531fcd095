//! `[[maintenance.windows]]` on the paused clock: a scheduled window
//! starts and ends by itself at its local time (Europe/Paris), and a
//! collector started in the middle of an occurrence starts that window at
//! once for the rest of it (and a restart keeps it).

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use picket_e2e::Config;
use picket_e2e::inproc::{Harness, epoch_ms};

use crate::common::{SERVICE, one_service};

const MINUTE: i64 = 60_000;

/// A daily cron at the local (Paris) minute of `at_ms`.
fn daily_at(at_ms: i64) -> String {
    let local = Timestamp::from_millisecond(at_ms)
        .expect("ms")
        .to_zoned(TimeZone::get("Europe/Paris").expect("tz"));
    format!("{} {} * * *", local.minute(), local.hour())
}

fn with_window(cron: &str, duration: &str) -> Config {
    one_service().agents("heartbeat_interval", "2h").raw(&format!(
        "[[maintenance.windows]]\nname = \"nightly\"\nequipment = \"web-1\"\ncron = \"{cron}\"\nduration = \"{duration}\"\ntimezone = \"Europe/Paris\"\n"
    ))
}

fn now_ms() -> i64 {
    picket_collector::time::Clock::system().now_ms()
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_window_starts_and_ends_by_itself_at_its_local_time() -> anyhow::Result<()> {
    // A whole minute at least ten minutes ahead.
    let start = (now_ms() / MINUTE + 11) * MINUTE;
    let h = Harness::start(&with_window(&daily_at(start), "30m")).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()]);
    let list = h.list_maintenance().await?;
    assert!(list.windows.is_empty(), "{list:?}");
    assert_eq!(list.schedules.len(), 1);
    assert_eq!(list.schedules[0].name, "nightly");
    assert_eq!(epoch_ms(list.schedules[0].next_start.as_ref()), Some(start));

    h.advance(Duration::from_millis((start - h.now_ms() - 1000) as u64))
        .await;
    assert!(
        h.list_maintenance().await?.windows.is_empty(),
        "started early"
    );
    h.advance(Duration::from_secs(1)).await;
    let started = h.await_event("maintenance.started", |_| true).await?;
    assert_eq!(started["schedule"], "nightly", "{started}");
    assert_eq!(started["mode"], "pause", "{started}");
    let windows = h.list_maintenance().await?.windows;
    assert_eq!(windows.len(), 1);
    assert_eq!(epoch_ms(windows[0].starts_at.as_ref()), Some(start));
    assert_eq!(
        epoch_ms(windows[0].ends_at.as_ref()),
        Some(start + 30 * MINUTE)
    );
    assert_eq!(windows[0].schedule, "nightly");
    h.wait_state(SERVICE, "maintenance").await?;
    assert!(a.assignment().await?.is_empty());

    h.advance(Duration::from_secs(30 * 60)).await;
    h.await_event("maintenance.ended", |b| b["schedule"] == "nightly")
        .await?;
    assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()]);
    let next = h.list_maintenance().await?.schedules[0].next_start;
    assert_eq!(
        epoch_ms(next.as_ref()),
        Some(start + 24 * 60 * MINUTE),
        "tomorrow"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_collector_started_in_the_middle_of_an_occurrence_starts_it_for_the_rest()
-> anyhow::Result<()> {
    // The occurrence began up to two minutes ago and lasts an hour.
    let began = (now_ms() / MINUTE - 1) * MINUTE;
    let mut h = Harness::start(&with_window(&daily_at(began), "1h")).await?;
    let started = h.await_event("maintenance.started", |_| true).await?;
    assert_eq!(started["schedule"], "nightly", "{started}");
    let windows = h.list_maintenance().await?.windows;
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(
        epoch_ms(windows[0].ends_at.as_ref()),
        Some(began + 60 * MINUTE),
        "for the rest of the occurrence"
    );
    h.wait_state(SERVICE, "maintenance").await?;

    // A restart in the middle keeps the same window, ending on time.
    h.advance(Duration::from_secs(10 * 60)).await;
    h.restart().await?;
    let windows = h.list_maintenance().await?.windows;
    assert_eq!(
        epoch_ms(windows[0].ends_at.as_ref()),
        Some(began + 60 * MINUTE)
    );
    h.advance(Duration::from_millis(
        (began + 60 * MINUTE - h.now_ms()) as u64,
    ))
    .await;
    h.await_event("maintenance.ended", |b| b["schedule"] == "nightly")
        .await?;
    let log = h.events_until("maintenance.ended", |_| true).await?;
    let starts = log
        .iter()
        .filter(|(t, _)| t == "maintenance.started")
        .count();
    assert_eq!(starts, 1, "started once: {log:?}");
    Ok(())
}

/// A reload that adds a schedule whose occurrence is running starts its
/// window at once; one that removes it leaves no schedule listed.
#[tokio::test(start_paused = true)]
async fn a_reload_applies_schedule_changes() -> anyhow::Result<()> {
    let mut h = Harness::start(&one_service()).await?;
    assert!(h.list_maintenance().await?.schedules.is_empty());
    let began = (now_ms() / MINUTE - 1) * MINUTE;
    h.rewrite(&with_window(&daily_at(began), "1h"))?;
    let answer = h.reload().await?;
    assert!(answer.ok, "{answer:?}");
    let started = h.await_event("maintenance.started", |_| true).await?;
    assert_eq!(started["schedule"], "nightly", "{started}");
    assert_eq!(h.list_maintenance().await?.schedules.len(), 1);
    h.rewrite(&one_service())?;
    assert!(h.reload().await?.ok);
    assert!(h.list_maintenance().await?.schedules.is_empty());
    Ok(())
}

/// A window started by hand wins over a scheduled one: an occurrence due
/// while it runs is skipped (no `maintenance.started` of the schedule; the
/// hand window keeps its own end, and nothing starts when it ends), and a
/// hand start during an occurrence replaces the scheduled window (its end,
/// no schedule).
#[tokio::test(start_paused = true)]
async fn a_window_started_by_hand_wins_over_a_scheduled_one() -> anyhow::Result<()> {
    let start = (now_ms() / MINUTE + 11) * MINUTE;
    let h = Harness::start(&with_window(&daily_at(start), "30m")).await?;
    let hand_end = start + 5 * MINUTE;
    let until_hand_end = Duration::from_millis((hand_end - h.now_ms()) as u64);
    h.start_maintenance_in("web-1", until_hand_end, "pause")
        .await?;
    h.await_event("maintenance.started", |_| true).await?;

    // The occurrence's start passes: skipped.
    h.advance(Duration::from_millis((start - h.now_ms()) as u64 + 1000))
        .await;
    let windows = h.list_maintenance().await?.windows;
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(
        (
            windows[0].schedule.as_str(),
            epoch_ms(windows[0].ends_at.as_ref())
        ),
        ("", Some(hand_end))
    );
    // The hand window ends at its end, inside the occurrence: nothing
    // starts for the rest of it.
    h.advance(Duration::from_millis((hand_end - h.now_ms()) as u64))
        .await;
    let log = h
        .events_until("maintenance.ended", |b| b["schedule"].is_null())
        .await?;
    let started: Vec<_> = log
        .iter()
        .filter(|(kind, _)| kind == "maintenance.started")
        .map(|(_, b)| b["schedule"].clone())
        .collect();
    assert_eq!(started, [serde_json::Value::Null], "by hand only: {log:?}");
    assert!(h.list_maintenance().await?.windows.is_empty());

    // The next day's occurrence starts; a hand start during it replaces it.
    let tomorrow = start + 24 * 60 * MINUTE;
    h.advance(Duration::from_millis((tomorrow - h.now_ms()) as u64))
        .await;
    h.await_event("maintenance.started", |b| b["schedule"] == "nightly")
        .await?;
    h.start_maintenance_in("web-1", Duration::from_secs(3600), "pause")
        .await?;
    let windows = h.list_maintenance().await?.windows;
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(
        (
            windows[0].schedule.as_str(),
            epoch_ms(windows[0].ends_at.as_ref())
        ),
        ("", Some(h.now_ms() + 3600 * 1000))
    );
    Ok(())
}
