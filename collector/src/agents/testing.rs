//! Test fixtures shared by the agents tests: a temp SQLite store and hellos.

use crate::config::settings::Settings;
use crate::domain::Hello;
use crate::store::Store;
use crate::store::testdb::TestDb;
use crate::time::Clock;

/// Every actor's settings from a config with one service, one agent per
/// service, and `auto_approve` as given.
pub fn settings(auto_approve: bool) -> Settings {
    let toml = format!(
        r#"
[collector]
database = "sqlite://unused.db"
[agents]
enrollment_token = "token"
auto_approve = {auto_approve}
agents_per_service = 1
heartbeat_interval = "10s"
missed_heartbeats = 3
[[equipment]]
id = "web-1"
[[services]]
id = "shop"
equipment = "web-1"
url = "http://shop.test"
"#
    );
    Settings::from(&crate::config::parse(std::path::Path::new("t.toml"), &toml).expect("config"))
}

/// A migrated store in a fresh database (kept alive by the returned guard;
/// SQLite unless the test runs under `store::testdb::on`), its catalog
/// synced from `settings`, on the system clock.
pub async fn store(settings: &Settings) -> (TestDb, Store) {
    store_on(settings, Clock::system()).await
}

/// [`store`] stamping its times from `clock`.
pub async fn store_on(settings: &Settings, clock: Clock) -> (TestDb, Store) {
    let (db, url) = crate::store::testdb::database().await;
    let store = Store::open(&url, settings.events.clone(), clock)
        .await
        .expect("open store");
    store
        .sync_config(&settings.catalog)
        .await
        .expect("sync config");
    (db, store)
}

/// A first hello of agent `id` with the right token.
pub fn hello(id: &str) -> Hello {
    Hello {
        protocol_version: super::PROTOCOL_VERSION,
        agent_id: id.into(),
        credential: String::new(),
        enrollment_token: "token".into(),
        name: format!("edge-{id}"),
        region: "eu".into(),
        labels: Default::default(),
        version: "0.1.0".into(),
        assignment_digest: None,
    }
}

/// The types of the events recorded so far, in order.
pub async fn event_types(store: &Store) -> Vec<String> {
    store
        .events_after(0, 1000)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect()
}

/// Records what the dead-man's switch asked for instead of writing requests.
pub struct Recorder(pub tokio::sync::mpsc::UnboundedSender<super::deadlines::Change>);

impl super::deadman::AgentRequests for Recorder {
    async fn down(&mut self, agent: &crate::domain::AgentId) {
        let _ = self.0.send(super::deadlines::Change::Down(agent.clone()));
    }
    async fn up(&mut self, agent: &crate::domain::AgentId) {
        let _ = self.0.send(super::deadlines::Change::Up(agent.clone()));
    }
}
