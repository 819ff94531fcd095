//! The in-process harness: `picket_collector::run` inside the test, on
//! listeners the harness bound (`127.0.0.1:0`), a temp SQLite file (or a
//! PostgreSQL database: `database.rs`, `store_scenarios!`), and
//! tokio's paused clock, which only the test moves.
//!
//! Scenarios that are about time (recheck rounds, quorum, maintenance
//! expiry, the dead-man's switch) run here in milliseconds: agents are
//! [`ScriptedAgent`]s speaking the real protocol, the collector is the real
//! one with its real store, and `advance(recheck_delay)` replaces waiting
//! two seconds. What only processes show (exit codes, signals, `kill -9`,
//! the CLI, real probes) stays in the `e2e` suite over the binaries.
//!
//! Use it from `#[tokio::test(start_paused = true)]`. Waits are bounded in
//! real time ([`within`]) since the paused clock never runs out by itself.
//! The collector reads its wall time from a clock that follows the paused
//! one ([`TestClock`]), so stored times, notes and maintenance ends are
//! exact: [`Harness::now_ms`] is what the collector stamps now.
//!
//! **Invariant**: the harness keeps its own clones of the listening
//! sockets, so a [`Harness::restart`] serves on the same ports and there is
//! no port race.

mod assembly;
mod checkins;
mod database;
pub mod hostile;
mod maintenance;
mod manual;
mod mute;
pub mod net;
mod outcome;
mod realtime;
mod reload;
mod scripted;
mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use picket_proto::v1 as api;
use picket_proto::v1::picket_client::PicketClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt as _;
use tonic::transport::Channel;

pub use assembly::Update;
pub use database::{Backend, on};
pub use net::HttpAnswer;
pub use realtime::{TestClock, TimedOut, epoch_ms, within};
pub use reload::with_token;
pub use scripted::{Identity, Order, Outcome, Phases, Refused, ScriptedAgent};

use crate::ADMIN_TOKEN;
use crate::config::Config;

/// How long (real time) a scenario waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(20);

/// A collector running inside the test, stopped when dropped.
pub struct Harness {
    /// Holds `picket.toml` and `picket.db`.
    dir: tempfile::TempDir,
    database: database::Database,
    config_path: PathBuf,
    config_text: String,
    /// The bound sockets; each run serves on clones of them.
    grpc: std::net::TcpListener,
    http: std::net::TcpListener,
    running: Option<Running>,
    client: PicketClient<Channel>,
    /// Keeps the paused clock from auto-advancing; the collector's wall
    /// clock follows it (kept across restarts).
    time: TestClock,
}

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), picket_collector::RunError>>,
}

fn tokio_listener(l: &std::net::TcpListener) -> anyhow::Result<tokio::net::TcpListener> {
    let l = l.try_clone()?;
    l.set_nonblocking(true)?;
    Ok(tokio::net::TcpListener::from_std(l)?)
}

/// `tonic::Request` with the admin bearer token.
fn admin<T>(msg: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(msg);
    if let Ok(value) = format!("Bearer {ADMIN_TOKEN}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

impl Harness {
    /// Starts a collector on `config` (the `{placeholders}` of
    /// [`crate::config`] are filled).
    pub async fn start(config: &Config) -> anyhow::Result<Harness> {
        init_logging();
        let dir = crate::temp_dir("picket-inproc-")?;
        let grpc = std::net::TcpListener::bind("127.0.0.1:0")?;
        let http = std::net::TcpListener::bind("127.0.0.1:0")?;
        let (grpc_addr, http_addr) = (grpc.local_addr()?, http.local_addr()?);
        let database = database::Database::create(dir.path()).await?;
        let config_text = reload::placeholders(dir.path(), &database.url, grpc_addr, http_addr)
            .fill(&config.render());
        let config_path = dir.path().join("picket.toml");
        std::fs::write(&config_path, &config_text)?;
        let client =
            net::api_client(Channel::from_shared(format!("http://{grpc_addr}"))?.connect_lazy());
        let mut harness = Harness {
            dir,
            database,
            config_path,
            config_text,
            grpc,
            http,
            running: None,
            client,
            time: TestClock::hold(picket_collector::time::Clock::system().now_ms()),
        };
        harness.run().await?;
        Ok(harness)
    }

    /// Starts the collector and waits until it leads (`/readyz` 200), so
    /// that the test's clock starts from a collector that is up.
    async fn run(&mut self) -> anyhow::Result<()> {
        let config = picket_collector::config::parse(&self.config_path, &self.config_text)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let listeners = picket_collector::Listeners {
            grpc: tokio_listener(&self.grpc)?,
            http: tokio_listener(&self.http)?,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        // `Reload` calls re-read the file (`Harness::rewrite`).
        let reloads = picket_collector::reload::Source::file(
            &self.config_path,
            picket_collector::reload::none(),
        );
        let task = tokio::spawn(picket_collector::run_reloadable_with_clock(
            config,
            listeners,
            self.time.clock(),
            reloads,
            async move {
                let _ = stopped.await;
            },
        ));
        self.running = Some(Running { stop, task });
        // Ready means leading with every part started (a collector that
        // is still taking the leadership already answers read calls).
        self.wait_for("the collector to lead (/readyz 200)", || async {
            let answer = self.http_get("/readyz").await?;
            Ok(if answer.status == 200 {
                Ok(())
            } else {
                Err(format!("/readyz {} {:?}", answer.status, answer.body))
            })
        })
        .await?;
        Ok(())
    }

    /// Shuts the collector down gracefully and waits until it has.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            within(WAIT, "the collector to shut down", running.task).await???;
        }
        Ok(())
    }

    /// Stops and starts the collector again on the same ports and database.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.run().await
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Moves the paused clock forward by `by`, then lets the collector run
    /// what became due.
    pub async fn advance(&self, by: Duration) {
        self.time.advance(by).await;
    }

    /// The collector's wall time now, in epoch milliseconds: what it stamps
    /// on anything it records before the clock moves again.
    pub fn now_ms(&self) -> i64 {
        self.time.now_ms()
    }

    /// Enrolls a scripted agent (the test config approves it by itself).
    pub async fn agent(&self, name: &str, region: &str) -> anyhow::Result<ScriptedAgent> {
        ScriptedAgent::enroll(self.grpc_addr(), name, region).await
    }

    /// Connects a known agent again with its credential.
    pub async fn reconnect(
        &self,
        identity: &Identity,
    ) -> anyhow::Result<Result<ScriptedAgent, Refused>> {
        ScriptedAgent::connect(self.grpc_addr(), identity.clone(), "").await
    }

    /// [`Harness::reconnect`], the Hello claiming the assignment `digest`.
    pub async fn reconnect_with_digest(
        &self,
        identity: &Identity,
        digest: u64,
    ) -> anyhow::Result<Result<ScriptedAgent, Refused>> {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://{}", self.grpc_addr()))?
                .connect()
                .await?;
        ScriptedAgent::connect_with_digest(channel, identity.clone(), "", digest).await
    }

    // -- the client API ---------------------------------------------------

    pub async fn service(&self, id: &str) -> anyhow::Result<api::Service> {
        let request = admin(api::GetServiceRequest { id: id.into() });
        Ok(self.client.clone().get_service(request).await?.into_inner())
    }

    pub async fn requests(&self) -> anyhow::Result<Vec<api::Request>> {
        let request = admin(api::ListRequestsRequest::default());
        Ok(self
            .client
            .clone()
            .list_requests(request)
            .await?
            .into_inner()
            .requests)
    }

    pub async fn request(&self, id: i64) -> anyhow::Result<api::Request> {
        let request = admin(api::GetRequestRequest { id });
        Ok(self.client.clone().get_request(request).await?.into_inner())
    }

    pub async fn agents(&self) -> anyhow::Result<Vec<api::Agent>> {
        let request = admin(api::ListAgentsRequest::default());
        Ok(self
            .client
            .clone()
            .list_agents(request)
            .await?
            .into_inner()
            .agents)
    }

    pub async fn approve(&self, agent: &str) -> anyhow::Result<api::Agent> {
        let request = admin(api::AgentRef { id: agent.into() });
        Ok(self
            .client
            .clone()
            .approve_agent(request)
            .await?
            .into_inner())
    }

    pub async fn suspend(&self, agent: &str) -> anyhow::Result<api::Agent> {
        let request = admin(api::AgentRef { id: agent.into() });
        Ok(self
            .client
            .clone()
            .suspend_agent(request)
            .await?
            .into_inner())
    }

    pub async fn start_maintenance(
        &self,
        equipment: &str,
        duration: Duration,
    ) -> anyhow::Result<api::Maintenance> {
        self.start_maintenance_in(equipment, duration, "").await
    }

    pub async fn end_maintenance(&self, equipment: &str) -> anyhow::Result<api::Maintenance> {
        let request = admin(api::EndMaintenanceRequest {
            equipment: equipment.into(),
        });
        Ok(self
            .client
            .clone()
            .end_maintenance(request)
            .await?
            .into_inner())
    }

    // -- waiting ------------------------------------------------------------

    /// Polls `probe` until it returns `Some`, for at most [`WAIT`] of real
    /// time; the error names `what` and the last value seen.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, mut probe: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Result<T, String>>>,
    {
        let mut last = String::from("nothing yet");
        let polled = within(WAIT, what, async {
            loop {
                match probe().await {
                    Ok(Ok(value)) => return value,
                    Ok(Err(seen)) => last = seen,
                    Err(e) => last = format!("error: {e:#}"),
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        polled.map_err(|e| anyhow::anyhow!("{e}; last seen: {last}"))
    }

    /// Waits until service `id` satisfies `pred`; returns it.
    pub async fn wait_service(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&api::Service) -> bool,
    ) -> anyhow::Result<api::Service> {
        self.wait_for(what, || async {
            let s = self.service(id).await?;
            Ok(if pred(&s) {
                Ok(s)
            } else {
                Err(format!("{s:?}"))
            })
        })
        .await
    }

    /// Waits until service `id` is in `state`.
    pub async fn wait_state(&self, id: &str, state: &str) -> anyhow::Result<api::Service> {
        self.wait_service(id, &format!("service {id} {state}"), |s| s.state == state)
            .await
    }

    /// Waits until agent `id` satisfies `pred`; returns it.
    pub async fn wait_agent(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&api::Agent) -> bool,
    ) -> anyhow::Result<api::Agent> {
        self.wait_for(what, || async {
            let agents = self.agents().await?;
            let agent = agents.into_iter().find(|a| a.id == id);
            Ok(match agent {
                Some(a) if pred(&a) => Ok(a),
                other => Err(format!("{other:?}")),
            })
        })
        .await
    }

    /// Waits for the first event of type `kind` whose JSON body satisfies
    /// `pred`, reading the event log from the start; returns the body.
    pub async fn await_event(
        &self,
        kind: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<serde_json::Value> {
        let mut log = self.events_until(kind, pred).await?;
        Ok(log.pop().map(|(_, body)| body).unwrap_or_default())
    }

    /// The event log from the start up to and including the first event
    /// of type `kind` whose body satisfies `pred`, as (type, body): what
    /// happened before a known later event, to assert that something did
    /// not.
    pub async fn events_until(
        &self,
        kind: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
        let request = admin(api::WatchEventsRequest { after_seq: 0 });
        let mut stream = self
            .client
            .clone()
            .watch_events(request)
            .await?
            .into_inner();
        within(WAIT, &format!("a {kind} event"), async {
            let mut log = Vec::new();
            while let Some(event) = stream.next().await {
                let event = event?;
                let body: serde_json::Value = serde_json::from_str(&event.payload_json)?;
                let found = event.r#type == kind && pred(&body);
                log.push((event.r#type, body));
                if found {
                    return Ok(log);
                }
            }
            anyhow::bail!("the event stream ended")
        })
        .await?
    }
}

/// The collector's logs go to the test's output (shown by the runner when
/// the test fails), filtered by `PICKET_LOG` (default `info`).
fn init_logging() {
    let filter = std::env::var("PICKET_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_test_writer()
        .try_init();
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            running.task.abort();
        }
    }
}
