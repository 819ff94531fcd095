//! The link actor against an in-process AgentLink server: Hello contents,
//! Welcome handling (credential stored), assignments and rechecks, acks,
//! replay after a reconnect, duplicate refusals and fatal refusals (bad
//! token, invalid hello).

#![allow(clippy::unwrap_used)] // test fixtures: a failed setup should panic

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pb::agent_link_server::{AgentLink, AgentLinkServer};
use pb::agent_message::Msg as Up;
use pb::collector_message::Msg as Down;
use picket_agent::domain::{Check, ProbeReport};
use picket_agent::identity::IdentityStore;
use picket_agent::link::{LinkActor, LinkError, LinkSettings};
use picket_agent::outbox::Outbox;
use picket_agent::probe::Probe;
use picket_agent::scheduler::SchedulerHandle;
use picket_proto::agent::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

const DEADLINE: Duration = Duration::from_secs(10);

/// One accepted stream, handed to the test.
struct Session {
    hello: pb::Hello,
    inbound: Streaming<pb::AgentMessage>,
    /// Messages to the agent.
    outbound: mpsc::Sender<Result<pb::CollectorMessage, Status>>,
}

impl Session {
    async fn send(&self, msg: Down) {
        self.outbound
            .send(Ok(pb::CollectorMessage { msg: Some(msg) }))
            .await
            .expect("agent stream gone");
    }

    /// Next message from the agent, within the deadline.
    async fn next(&mut self) -> Up {
        let msg = tokio::time::timeout(DEADLINE, self.inbound.message())
            .await
            .expect("agent sent nothing within the deadline")
            .expect("stream error")
            .expect("agent closed the stream");
        msg.msg.expect("empty agent message")
    }

    /// Collects results until `n` arrived, skipping heartbeats.
    async fn results(&mut self, n: usize) -> Vec<pb::ProbeResult> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.next().await {
                Up::Results(batch) => out.extend(batch.results),
                Up::Heartbeat(_) => {}
                Up::Hello(_) => panic!("second hello"),
            }
        }
        out
    }
}

#[derive(Default)]
struct Server {
    /// Statuses to refuse the next connections with, in order.
    refusals: Mutex<VecDeque<Status>>,
    /// Accepted sessions go to the test.
    sessions: Mutex<Option<mpsc::Sender<Session>>>,
}

/// The service: a handle on the shared server state.
struct Svc(Arc<Server>);

#[tonic::async_trait]
impl AgentLink for Svc {
    type ConnectStream = ReceiverStream<Result<pb::CollectorMessage, Status>>;

    async fn connect(
        &self,
        request: Request<Streaming<pb::AgentMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let mut inbound = request.into_inner();
        let hello = match inbound.message().await? {
            Some(pb::AgentMessage {
                msg: Some(Up::Hello(hello)),
            }) => hello,
            other => {
                return Err(Status::invalid_argument(format!(
                    "expected hello, got {other:?}"
                )));
            }
        };
        if let Some(status) = self.0.refusals.lock().unwrap().pop_front() {
            return Err(status);
        }
        let (outbound, rx) = mpsc::channel(16);
        let sessions = self.0.sessions.lock().unwrap().clone().expect("test gone");
        sessions
            .send(Session {
                hello,
                inbound,
                outbound,
            })
            .await
            .map_err(|_| Status::internal("test gone"))?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Instant, always-successful probes; tells the test about each one.
struct Fake {
    /// One message per probe.
    probed: mpsc::UnboundedSender<()>,
}

impl Probe for Fake {
    async fn probe(&self, check: &Check) -> ProbeReport {
        let _ = self.probed.send(());
        ProbeReport {
            check_id: check.id.clone(),
            round_id: 0,
            started_at: SystemTime::now(),
            duration: Duration::from_millis(1),
            status_code: 200,
            failure: None,
            phases: Default::default(),
            cert_not_after: None,
        }
    }
}

struct Harness {
    sessions: mpsc::Receiver<Session>,
    /// One message per probe the agent ran.
    probes: mpsc::UnboundedReceiver<()>,
    server: Arc<Server>,
    store: IdentityStore,
    agent_id: String,
    token: CancellationToken,
    link: tokio::task::JoinHandle<Result<(), LinkError>>,
    _dir: tempfile::TempDir,
}

/// Starts a fake collector on 127.0.0.1:0 that refuses with `refusals`
/// first, then hands accepted sessions to the returned receiver.
async fn start_server(refusals: Vec<Status>) -> (SocketAddr, Arc<Server>, mpsc::Receiver<Session>) {
    let server = Arc::new(Server::default());
    *server.refusals.lock().unwrap() = refusals.into();
    let (tx, sessions) = mpsc::channel(4);
    *server.sessions.lock().unwrap() = Some(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let svc = AgentLinkServer::new(Svc(server.clone()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (addr, server, sessions)
}

impl Harness {
    async fn start(refusals: Vec<Status>) -> Harness {
        let (addr, server, sessions) = start_server(refusals).await;

        let dir = tempfile::tempdir().unwrap();
        let store = IdentityStore::new(dir.path());
        let identity = store.load_or_create().unwrap();
        let mut settings = LinkSettings::new(
            vec![format!("http://{addr}")],
            "tok".into(),
            "edge-1".into(),
            "eu".into(),
            BTreeMap::from([("net".to_owned(), "a".to_owned())]),
        );
        settings.backoff_initial = Duration::from_millis(20);
        settings.backoff_max = Duration::from_millis(100);
        let token = CancellationToken::new();
        let (results_tx, results_rx) = mpsc::channel(64);
        let (probed, probes) = mpsc::unbounded_channel();
        let scheduler = SchedulerHandle::spawn(
            Arc::new(Fake { probed }),
            results_tx,
            identity.agent_id.clone(),
            token.child_token(),
        );
        let actor = LinkActor::new(
            settings,
            identity.clone(),
            store.clone(),
            Outbox::new(100),
            results_rx,
            scheduler,
        );
        let link = tokio::spawn(actor.run(token.clone()));
        Harness {
            sessions,
            probes,
            server,
            store,
            agent_id: identity.agent_id.into(),
            token,
            link,
            _dir: dir,
        }
    }

    async fn session(&mut self) -> Session {
        tokio::time::timeout(DEADLINE, self.sessions.recv())
            .await
            .expect("agent did not connect within the deadline")
            .expect("server gone")
    }
}

fn welcome(agent_id: &str, credential: &str, last_committed_seq: u64) -> Down {
    Down::Welcome(pb::Welcome {
        agent_id: agent_id.into(),
        credential: credential.into(),
        state: "active".into(),
        heartbeat_interval_ms: 60_000,
        last_committed_seq,
    })
}

fn assignment() -> Down {
    Down::Assignment(pb::Assignment {
        checks: vec![pb::Check {
            id: "c1".into(),
            url: "http://c1.test/".into(),
            interval_ms: 1000,
            ..Default::default()
        }],
        generation: 1,
        kind: pb::AssignmentKind::Full.into(),
        last: true,
        digest: 11,
        ..Default::default()
    })
}

#[path = "link/assignments.rs"]
mod assignments;

fn seqs(results: &[pb::ProbeResult]) -> Vec<u64> {
    results.iter().map(|r| r.seq).collect()
}

#[tokio::test]
async fn session_replay_and_credential() {
    let mut h = Harness::start(vec![]).await;
    let mut s1 = h.session().await;
    let hello = &s1.hello;
    assert_eq!(
        hello.protocol_version,
        picket_proto::contract::PROTOCOL_VERSION
    );
    assert_eq!(hello.assignment_digest, 0, "no set yet");
    assert_eq!(hello.agent_id, h.agent_id);
    assert_eq!(hello.credential, "");
    assert_eq!(hello.enrollment_token, "tok");
    assert_eq!(
        (hello.name.as_str(), hello.region.as_str()),
        ("edge-1", "eu")
    );
    assert_eq!(hello.labels.get("net").map(String::as_str), Some("a"));
    assert_eq!(hello.version, env!("CARGO_PKG_VERSION"));

    s1.send(welcome(&h.agent_id, "cred-1", 0)).await;
    // A heartbeat comes right after the welcome.
    assert!(matches!(s1.next().await, Up::Heartbeat(_)));
    s1.send(assignment()).await;
    s1.send(Down::Recheck(pb::Recheck {
        check_id: "c1".into(),
        round_id: 5,
    }))
    .await;
    let first = s1.results(3).await;
    assert_eq!(seqs(&first), [1, 2, 3]);
    assert!(first.iter().any(|r| r.round_id == 5), "{first:?}");
    assert!(first.iter().all(|r| r.ok && r.check_id == "c1"));

    // Ack 1, then the collector goes away.
    s1.send(Down::Ack(pb::Ack { seq: 1 })).await;
    drop(s1);

    let mut s2 = h.session().await;
    assert_eq!(s2.hello.credential, "cred-1");
    assert_eq!(s2.hello.assignment_digest, 11, "the set it has");
    assert_eq!(h.store.load_or_create().unwrap().credential, "cred-1");
    // The collector says 2 was committed too: replay starts at 3.
    s2.send(welcome(&h.agent_id, "", 2)).await;
    let replayed = s2.results(2).await;
    assert_eq!(replayed[0].seq, 3);
    assert!(
        seqs(&replayed).windows(2).all(|w| w[1] == w[0] + 1),
        "{replayed:?}"
    );

    h.token.cancel();
    let ended = tokio::time::timeout(DEADLINE, h.link)
        .await
        .expect("link did not stop");
    assert!(ended.unwrap().is_ok());
}

#[tokio::test]
async fn duplicate_id_is_retried() {
    let mut h = Harness::start(vec![Status::already_exists(
        "agent id X is already connected",
    )])
    .await;
    let mut s = h.session().await;
    s.send(welcome(&h.agent_id, "", 0)).await;
    assert!(matches!(s.next().await, Up::Heartbeat(_)));
    assert!(h.server.refusals.lock().unwrap().is_empty());
    h.token.cancel();
}

/// The link ends with `Refused(reason)` after the collector answers `status`.
async fn check_fatal(status: Status, reason: &str) {
    let h = Harness::start(vec![status]).await;
    let ended = tokio::time::timeout(DEADLINE, h.link)
        .await
        .expect("link did not stop")
        .unwrap();
    match ended {
        Err(LinkError::Refused(r)) => assert_eq!(r, reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_token_is_fatal() {
    check_fatal(
        Status::unauthenticated("bad enrollment token"),
        "bad enrollment token",
    )
    .await;
}

#[tokio::test]
async fn invalid_hello_is_fatal() {
    let reason = "invalid hello: agent_id must be 1 to 128 characters";
    check_fatal(Status::invalid_argument(reason), reason).await;
}

/// Runs the real binary against the fake collector.
fn agent_command(collector: &str, state_dir: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_picket-agent"));
    cmd.args([
        "--collector",
        collector,
        "--enrollment-token",
        "tok",
        "--region",
        "eu",
    ])
    .arg("--state-dir")
    .arg(state_dir)
    .env("PICKET_LOG", "debug")
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true);
    cmd
}

async fn finish(child: tokio::process::Child) -> std::process::Output {
    tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .expect("agent did not exit within the deadline")
        .unwrap()
}

/// The real binary exits 3 with one clear line after the collector
/// answers `status`.
async fn check_binary_refused(status: Status, line: &str) {
    let (addr, _server, _sessions) = start_server(vec![status]).await;
    let dir = tempfile::tempdir().unwrap();
    let child = agent_command(&format!("http://{addr}"), dir.path())
        .spawn()
        .unwrap();
    let out = finish(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.lines().any(|l| l == line), "{stderr}");
}

#[tokio::test]
async fn binary_exits_3_when_refused() {
    check_binary_refused(
        Status::unauthenticated("bad enrollment token"),
        "picket-agent: refused by collector: bad enrollment token",
    )
    .await;
}

#[tokio::test]
async fn binary_exits_3_on_an_invalid_hello() {
    check_binary_refused(
        Status::invalid_argument("invalid hello: agent_id must be 1 to 128 characters"),
        "picket-agent: refused by collector: invalid hello: agent_id must be 1 to 128 characters",
    )
    .await;
}

#[tokio::test]
async fn binary_exits_2_on_an_unreadable_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let child = agent_command("https://127.0.0.1:1", dir.path())
        .args([
            "--client-cert",
            "missing.crt",
            "--client-key",
            "missing.key",
        ])
        .spawn()
        .unwrap();
    let out = finish(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--client-cert"), "{stderr}");
    assert!(stderr.contains("cannot read missing.crt"), "{stderr}");
}

#[tokio::test]
async fn binary_stops_cleanly_on_sigterm() {
    let (addr, _server, mut sessions) = start_server(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let child = agent_command(&format!("http://{addr}"), dir.path())
        .spawn()
        .unwrap();
    // Once it has connected (so it is fully up), ask it to stop.
    let mut session = tokio::time::timeout(DEADLINE, sessions.recv())
        .await
        .expect("agent did not connect")
        .unwrap();
    session
        .send(welcome(&session.hello.agent_id.clone(), "", 0))
        .await;
    assert!(matches!(session.next().await, Up::Heartbeat(_)));
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = finish(child).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let identity = IdentityStore::new(dir.path()).load_or_create().unwrap();
    assert_eq!(identity.agent_id, session.hello.agent_id.as_str());
}

#[tokio::test]
async fn probing_continues_while_disconnected() {
    let mut h = Harness::start(vec![]).await;
    let mut s1 = h.session().await;
    s1.send(welcome(&h.agent_id, "", 0)).await;
    s1.send(assignment()).await;
    let sent = s1.results(1).await;
    let last = sent.last().unwrap().seq;

    // The collector goes away and refuses to come back for now.
    h.server
        .refusals
        .lock()
        .unwrap()
        .extend((0..10_000).map(|_| Status::unavailable("down")));
    drop(s1);
    // Drain probes seen so far, then wait for two more while disconnected.
    while h.probes.try_recv().is_ok() {}
    for _ in 0..2 {
        tokio::time::timeout(DEADLINE, h.probes.recv())
            .await
            .expect("agent stopped probing while disconnected")
            .unwrap();
    }
    h.server.refusals.lock().unwrap().clear();

    let mut s2 = h.session().await;
    s2.send(welcome(&h.agent_id, "", last)).await;
    let replayed = s2.results(2).await;
    assert_eq!(seqs(&replayed)[..2], [last + 1, last + 2]);
    h.token.cancel();
}
