//! Enrollment against a temp SQLite store.

use super::*;
use crate::agents::testing::{event_types, hello, settings, store};

/// The time the tests enroll and connect at.
const T: i64 = crate::testing::BASE_MS;

#[tokio::test]
async fn a_new_agent_with_the_token_is_registered_and_gets_a_credential() {
    for (auto_approve, state) in [(true, AgentState::Active), (false, AgentState::New)] {
        let settings = settings(auto_approve);
        let (_dir, store) = store(&settings).await;
        let enrolled = authenticate(&store, &settings.registry.enrollment, &hello("a1"), T)
            .await
            .expect("enrolled");
        assert_eq!(enrolled.row.state, state, "auto_approve = {auto_approve}");
        assert_eq!(
            (enrolled.row.created_ms, enrolled.row.last_seen_ms),
            (T, Some(T)),
            "registered at the time given"
        );
        let credential = enrolled.credential.expect("a credential is issued");
        let stored = store
            .get_agent(&"a1".into())
            .await
            .expect("get")
            .expect("registered");
        assert_eq!(stored.state, state);
        let hash = stored.credential_hash.expect("hash stored");
        assert!(auth::verify_credential(&credential, &hash));
        assert_eq!(event_types(&store).await, ["agent.registered"]);
    }
}

#[tokio::test]
async fn a_new_agent_with_a_bad_token_is_refused_and_not_registered() {
    let settings = settings(true);
    let (_dir, store) = store(&settings).await;
    let mut h = hello("a1");
    h.enrollment_token = "guess".into();
    assert_eq!(
        authenticate(&store, &settings.registry.enrollment, &h, T).await,
        Err(Refusal::BadToken)
    );
    assert_eq!(store.get_agent(&"a1".into()).await.expect("get"), None);
}

#[tokio::test]
async fn a_known_agent_needs_its_credential() {
    let settings = settings(true);
    let (_dir, store) = store(&settings).await;
    let first = authenticate(&store, &settings.registry.enrollment, &hello("a1"), T)
        .await
        .expect("enrolled");
    let mut again = hello("a1");
    again.credential = "guess".into();
    assert_eq!(
        authenticate(&store, &settings.registry.enrollment, &again, T).await,
        Err(Refusal::BadCredential("a1".into())),
        "the enrollment token does not replace the credential"
    );
    again.credential = first.credential.expect("issued");
    let known = authenticate(&store, &settings.registry.enrollment, &again, T)
        .await
        .expect("known agent");
    assert_eq!((known.row, known.credential), (first.row, None));
}

#[tokio::test]
async fn wrong_protocol_and_bad_ids_are_refused() {
    let settings = settings(true);
    let (_dir, store) = store(&settings).await;
    let mut h = hello("a1");
    h.protocol_version = PROTOCOL_VERSION + 1;
    assert_eq!(
        authenticate(&store, &settings.registry.enrollment, &h, T).await,
        Err(Refusal::Incompatible(PROTOCOL_VERSION + 1))
    );
    for id in [String::new(), "x".repeat(129)] {
        let h = hello(&id);
        assert!(matches!(
            authenticate(&store, &settings.registry.enrollment, &h, T).await,
            Err(Refusal::Invalid(_))
        ));
    }
}

#[tokio::test]
async fn connected_records_what_the_agent_says_about_itself() {
    let settings = settings(true);
    let (_dir, store) = store(&settings).await;
    let enrolled = authenticate(&store, &settings.registry.enrollment, &hello("a1"), T)
        .await
        .expect("enrolled");
    let mut h = hello("a1");
    h.name = "renamed".into();
    h.region = "us".into();
    h.version = "0.2.0".into();
    let later = T + 60_000;
    let row = connected(&store, enrolled.row, h, later)
        .await
        .expect("connected");
    let stored = store
        .get_agent(&"a1".into())
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (
            stored.name.as_str(),
            stored.region.as_str(),
            stored.version.as_deref(),
            stored.created_ms,
            stored.last_seen_ms,
        ),
        ("renamed", "us", Some("0.2.0"), T, Some(later))
    );
    assert_eq!(stored, row);
}
