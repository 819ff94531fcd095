//! The heartbeats actor over a temp SQLite store, on tokio's paused clock
//! held still: a missed check-in the store cannot take at once is not
//! lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::HeartbeatsHandle;
use crate::config::settings::Settings;
use crate::domain::RequestKind;
use crate::maintenance::MaintenanceSet;
use crate::metrics::Metrics;
use crate::testing::{Bench, settle, soon};

const CONFIG: &str = r#"
[collector]
database = "sqlite://unused.db"
public_url = "http://picket.test"
[agents]
enrollment_token = "t"
[[heartbeats]]
id = "cron"
period = "60s"
grace = "10s"
"#;

/// `period + grace` above.
const WINDOW: Duration = Duration::from_secs(70);

/// The store times out the read of the silent heartbeat (the write
/// connection it reads through is taken): the actor tries again once it
/// can, and the request opens; one request, not two.
#[tokio::test(start_paused = true)]
async fn a_missed_check_in_the_store_refuses_is_tried_again_until_stored() {
    let bench = Bench::new().await;
    let config = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
    let settings = Settings::from(&config);
    let (_maintenance, running) = watch::channel(Arc::new(MaintenanceSet::new()));
    let _handle = HeartbeatsHandle::spawn(
        bench.store.clone(),
        &settings.heartbeats,
        Arc::new(Metrics::new()),
        bench.time.clock(),
        running,
        bench.cancel.clone(),
        &bench.tasks,
    )
    .await
    .expect("spawned");

    let held = bench.store.hold_write().await;
    bench
        .time
        .advance_over_work(WINDOW + Duration::from_secs(1))
        .await;
    settle().await;
    // The read waiting for the connection times out (30 s).
    bench.time.advance_over_work(Duration::from_secs(31)).await;
    settle().await;
    drop(held);
    assert!(
        bench
            .store
            .list_requests(true)
            .await
            .expect("list")
            .is_empty(),
        "nothing stored while the store refused"
    );
    bench.time.advance(Duration::from_secs(1)).await;
    let opened = soon("the request to open", async {
        loop {
            let open = bench.store.list_requests(true).await.expect("list");
            if !open.is_empty() {
                return open;
            }
            settle().await;
        }
    })
    .await;
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(
        (opened[0].kind, opened[0].name.as_str()),
        (RequestKind::Checkin, "[NO CHECK-IN] cron")
    );
}
