//! The leadership lease and the fence, on both engines: two stores on one
//! database stand for two collectors.

use super::tests::{CONFIG, new_request, shop};
use super::*;
use crate::config::settings::CatalogSettings;
use crate::domain::ServiceState;
use crate::store::testdb::{self, TestDb, store_tests};

store_tests!(
    the_lease_is_taken_when_free_or_ended_and_renewed_by_its_holder,
    a_deposed_leaders_write_is_fenced_and_writes_nothing,
);

/// Two stores (collectors) on one fresh database with the test catalog.
async fn two() -> (TestDb, Store, Store) {
    let config = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
    let (db, url) = testdb::database().await;
    let open = || Store::open(&url, EventSettings::from(&config), Clock::system());
    let a = open().await.expect("open a");
    let b = open().await.expect("open b");
    a.sync_config(&CatalogSettings::from(&config))
        .await
        .expect("sync");
    (db, a, b)
}

async fn the_lease_is_taken_when_free_or_ended_and_renewed_by_its_holder() {
    let (_db, a, b) = two().await;
    assert_eq!(a.lease().await.expect("lease").epoch, 0);
    let take = |s: &Store, who: &'static str, now: i64| {
        let s = s.clone();
        async move {
            s.campaign(who, &format!("http://{who}"), now, 5_000, false)
                .await
        }
    };
    assert_eq!(take(&a, "a", 1_000).await.expect("a"), Some(1), "free");
    assert_eq!(take(&b, "b", 2_000).await.expect("b"), None, "held");
    assert!(a.renew("a", 1, 3_000, 5_000).await.expect("renew"));
    assert_eq!(take(&b, "b", 7_999).await.expect("b"), None, "renewed");
    assert_eq!(take(&b, "b", 8_000).await.expect("b"), Some(2), "ended");
    assert_eq!(
        a.campaign("a", "", 8_001, 5_000, true).await.expect("a"),
        Some(3),
        "taken regardless"
    );
    assert!(a.renew("a", 3, 8_002, 5_000).await.expect("renew"));
    a.release("a").await.expect("release");
    assert_eq!(take(&b, "b", 8_003).await.expect("b"), Some(4), "released");
    assert!(
        !a.renew("a", 1, 8_000, 5_000).await.expect("renew"),
        "deposed"
    );
    let lease = a.lease().await.expect("lease");
    assert_eq!(
        lease,
        Lease {
            holder: "b".into(),
            epoch: 4,
            expires_at_ms: 13_003,
            advertise_url: "http://b".into()
        }
    );
}

async fn a_deposed_leaders_write_is_fenced_and_writes_nothing() {
    let (_db, a, b) = two().await;
    let epoch = a.campaign("a", "", 1_000, 5_000, false).await.expect("a");
    a.fence(epoch.expect("took"));
    a.set_service_state(&"shop".into(), ServiceState::Up)
        .await
        .expect("the leader writes");
    let taken = b.campaign("b", "", 6_000, 5_000, false).await.expect("b");
    b.fence(taken.expect("took"));
    let before = a.events_after(0, 100).await.expect("events").len();
    let err = a
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect_err("fenced");
    assert!(
        matches!(err, StoreError::Fenced { epoch: Some(2) }),
        "{err:?}"
    );
    let err = a
        .set_service_state(&"shop".into(), ServiceState::Down)
        .await
        .expect_err("still fenced");
    assert!(matches!(err, StoreError::Fenced { .. }), "{err:?}");
    assert_eq!(a.events_after(0, 100).await.expect("events").len(), before);
    assert_eq!(
        a.open_requests_count().await.expect("open"),
        0,
        "no request"
    );
    let row = b.get_service(&"shop".into()).await.expect("shop");
    assert_eq!(
        row.state,
        ServiceState::Up,
        "the fenced write left no trace"
    );
    b.service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("the new leader writes");
}
