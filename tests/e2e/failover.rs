//! Failover without loss or duplicates, with real processes: two collectors
//! on one PostgreSQL, an agent given both URLs, a failing target and a
//! webhook receiver. kill -9 of the leader mid-stream loses no result the
//! target served, opens no second request, and every event of the store's
//! log reaches the receiver under one `webhook-id` whichever collector sent
//! it. Then PostgreSQL itself stopped mid-stream: `/readyz` 503 while it is
//! gone, nothing acked (so nothing lost), everything resumes after.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, SystemTime};

use picket_collector::testing::postgres::PgServer;
use picket_e2e::target::Target;
use picket_e2e::{Agent, Collector, DEADLINE, Seen, Webhook, WebhookSink, wait_until};

use crate::common::{AGENT, SERVICE, is_down_with_request, open_request};
use crate::leadership::{LEASE, shared, wait_leads, wait_standby};

/// The rows `sql` prints on `database` (through `psql`, `|` between fields).
fn psql(pg: &PgServer, database: &str, sql: &str) -> anyhow::Result<Vec<String>> {
    let out = Command::new(PgServer::bin_dir().join("psql"))
        .args(["-h", "127.0.0.1", "-U", "postgres", "-At", "-p"])
        .arg(pg.port().to_string())
        .args(["-d", database, "-c", sql])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// `(results, distinct (agent, service, time))`: a result stored twice
/// shares all three with its first copy.
fn results(pg: &PgServer, database: &str) -> anyhow::Result<(u64, u64)> {
    let rows = psql(
        pg,
        database,
        "SELECT count(*), count(DISTINCT (agent, service, time_ms)) FROM results",
    )?;
    let (all, distinct) = rows
        .first()
        .and_then(|r| r.split_once('|'))
        .ok_or_else(|| anyhow::anyhow!("psql printed {rows:?}"))?;
    Ok((all.parse()?, distinct.parse()?))
}

/// Waits until the store holds a result for every probe the target has
/// served by now, and returns `(results, distinct)`.
async fn wait_every_probe_stored(
    pg: &PgServer,
    database: &str,
    target: &Target,
) -> anyhow::Result<(u64, u64)> {
    let probed = target.hits();
    wait_until(DEADLINE, "every probe's result in the store", async || {
        let (all, distinct) = results(pg, database)?;
        Ok::<_, anyhow::Error>(if distinct >= probed {
            Seen::Ready((all, distinct))
        } else {
            Seen::Pending(format!("{distinct} distinct results of {probed} probes"))
        })
    })
    .await
}

/// Every request of `shop`: `(id, stage)`.
fn requests(pg: &PgServer, database: &str) -> anyhow::Result<Vec<(i64, String)>> {
    psql(
        pg,
        database,
        &format!("SELECT id, stage FROM requests WHERE service_id = '{SERVICE}' ORDER BY id"),
    )?
    .iter()
    .map(|r| {
        let (id, stage) = r
            .split_once('|')
            .ok_or_else(|| anyhow::anyhow!("psql printed {r:?}"))?;
        Ok((id.parse()?, stage.to_owned()))
    })
    .collect()
}

/// Waits until every outbox row is delivered (none pending or failed).
async fn wait_outbox_delivered(pg: &PgServer, database: &str) -> anyhow::Result<()> {
    wait_until(DEADLINE, "every outbox row delivered", async || {
        let rows = psql(
            pg,
            database,
            "SELECT state, count(*) FROM webhook_outbox WHERE state <> 'delivered' GROUP BY state",
        )?;
        Ok::<_, anyhow::Error>(if rows.is_empty() {
            Seen::Ready(())
        } else {
            Seen::Pending(format!("{rows:?}"))
        })
    })
    .await
}

/// Asserts every event of the store's log reached `sink`, and that all the
/// deliveries of one event (whichever collector sent them, every attempt)
/// carry one `webhook-id`, the outbox row's. Returns event id → webhook-ids.
fn assert_events_delivered_once_each(
    pg: &PgServer,
    database: &str,
    sink: &WebhookSink,
) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let mut ids = BTreeMap::<String, BTreeSet<String>>::new();
    for d in sink.deliveries() {
        let event = d.body["event_id"].as_str().unwrap_or_default().to_owned();
        let msg = d.header("webhook-id").unwrap_or_default().to_owned();
        ids.entry(event).or_default().insert(msg);
    }
    let logged = psql(
        pg,
        database,
        "SELECT e.event_id, o.msg_id FROM events e JOIN webhook_outbox o ON o.event_seq = e.seq \
         ORDER BY e.seq",
    )?;
    let all = psql(pg, database, "SELECT count(*) FROM events")?;
    assert_eq!(
        all.first().map(String::as_str),
        Some(logged.len().to_string().as_str()),
        "every event of the log has an outbox row: {logged:?}"
    );
    assert!(!logged.is_empty(), "the log has events");
    for row in &logged {
        let (event, msg) = row
            .split_once('|')
            .ok_or_else(|| anyhow::anyhow!("psql printed {row:?}"))?;
        let sent = ids.get(event);
        assert_eq!(
            sent,
            Some(&BTreeSet::from([msg.to_owned()])),
            "event {event}: every delivery under the outbox's webhook-id {msg}; all: {ids:?}"
        );
    }
    for (event, msgs) in &ids {
        assert_eq!(msgs.len(), 1, "event {event} delivered under {msgs:?}");
    }
    Ok(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_mid_stream_loses_no_result_and_duplicates_nothing() -> anyhow::Result<()>
{
    let pg = tokio::task::spawn_blocking(PgServer::start).await??;
    let target = Target::http().await;
    target.set_status(500);
    let sink = WebhookSink::start().await?;
    // The receiver refuses until after the kill: the old leader's attempts
    // are retried by the new one.
    sink.set_status(503);
    let database = "failover";
    let config = shared(&pg, database, &target)?
        .webhook(Webhook::new("ops", &sink.url()).set("retry_initial", "1s"));
    let mut leader = Collector::start(config.clone()).await?;
    let standby = Collector::start_unready(config).await?;
    wait_standby(&standby, &leader).await?;

    let list = format!("{},{}", leader.grpc_url(), standby.grpc_url());
    let _agent = Agent::start(&leader, "eu", AGENT, None, &["--collector", &list])?;
    let down = leader
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    let request = open_request(&down);
    // The old leader tried to deliver it (and was refused).
    let opened = sink.await_delivery("request.opened", DEADLINE).await?;
    wait_until(DEADLINE, "results streamed to the leader", async || {
        let (all, _) = results(&pg, database)?;
        Ok::<_, anyhow::Error>(if all >= 3 {
            Seen::Ready(())
        } else {
            Seen::Pending(format!("{all} results"))
        })
    })
    .await?;

    leader.kill();
    let killed_at = SystemTime::now();
    let probed_at_kill = target.hits();
    let took = wait_leads(&standby, LEASE + Duration::from_secs(5)).await?;
    println!("takeover: {took:?} after kill -9 (leader_lease {LEASE:?})");
    sink.set_status(200);

    // (a) Every probe served before the kill (and since) is stored, once.
    let (all, distinct) = wait_every_probe_stored(&pg, database, &target).await?;
    assert!(distinct >= probed_at_kill, "{distinct} < {probed_at_kill}");
    assert_eq!(all, distinct, "no result stored twice");

    // (b) The new leader rebuilt the state: the same request, the only one.
    standby
        .wait_service(SERVICE, "checked through the new leader", |s| {
            s["state"] == "down"
                && picket_e2e::parse_time(&s["last_check_at"]).is_some_and(|t| t > killed_at)
        })
        .await?;
    assert_eq!(requests(&pg, database)?, vec![(request, "open".to_owned())]);

    // The service recovers through the new leader: it closes that request.
    target.set_status(200);
    sink.await_delivery("request.closed", DEADLINE).await?;
    assert_eq!(requests(&pg, database)?, vec![(request, "done".to_owned())]);

    // (c), (d) Every event of the log delivered under one webhook-id, also
    // the one both collectors sent.
    wait_outbox_delivered(&pg, database).await?;
    let ids = assert_events_delivered_once_each(&pg, database, &sink)?;
    let event = opened.body["event_id"].as_str().unwrap_or_default();
    let sent_after_kill = sink
        .deliveries_of("request.opened")
        .iter()
        .filter(|d| d.received_at > killed_at)
        .count();
    assert!(
        sent_after_kill > 0,
        "the new leader sent the old leader's request.opened again"
    );
    assert_eq!(ids[event].len(), 1, "{ids:?}");
    Ok(())
}

/// Waits until `c`'s `/readyz` answers `code` and returns its body.
async fn wait_readyz(c: &Collector, code: u16) -> anyhow::Result<String> {
    wait_until(DEADLINE, &format!("/readyz {code}"), async || {
        let (got, body) = c.readyz().await?;
        Ok::<_, anyhow::Error>(if got == code {
            Seen::Ready(body)
        } else {
            Seen::Pending(format!("/readyz {got} {body:?}"))
        })
    })
    .await
}

/// `picket_results_ingested_total` on `c`'s `/metrics`.
async fn ingested(c: &Collector) -> anyhow::Result<u64> {
    let (code, text) = c.http_page("/metrics").await?;
    anyhow::ensure!(code == 200, "/metrics {code}");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("picket_results_ingested_total "))
        .ok_or_else(|| anyhow::anyhow!("no picket_results_ingested_total in /metrics"))?
        .trim()
        .parse()?)
}

/// One collector leading on PostgreSQL (lease `lease`), a failing target
/// with an open request, an agent streaming, a webhook receiver that got
/// `request.opened`; and the number of results stored so far.
struct Streaming {
    pg: PgServer,
    target: Target,
    sink: WebhookSink,
    collector: Collector,
    _agent: Agent,
    request: i64,
}

async fn streaming(database: &str, lease: &str) -> anyhow::Result<Streaming> {
    let pg = tokio::task::spawn_blocking(PgServer::start).await??;
    let target = Target::http().await;
    target.set_status(500);
    let sink = WebhookSink::start().await?;
    let config = shared(&pg, database, &target)?
        .collector("leader_lease", lease)
        .webhook(Webhook::new("ops", &sink.url()).set("retry_initial", "1s"));
    let collector = Collector::start(config).await?;
    let agent = Agent::start(&collector, "eu", AGENT, None, &[])?;
    let down = collector
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    sink.await_delivery("request.opened", DEADLINE).await?;
    Ok(Streaming {
        request: open_request(&down),
        pg,
        target,
        sink,
        collector,
        _agent: agent,
    })
}

/// After PostgreSQL is back: every probe's result stored once, the same
/// request still the only one, and it closes (with its webhook) once the
/// target recovers.
async fn assert_resumed(
    s: &Streaming,
    database: &str,
    probed_in_outage: u64,
) -> anyhow::Result<()> {
    let (all, distinct) = wait_every_probe_stored(&s.pg, database, &s.target).await?;
    assert!(
        distinct >= probed_in_outage,
        "{distinct} < {probed_in_outage}"
    );
    assert_eq!(all, distinct, "no result stored twice");
    assert_eq!(
        requests(&s.pg, database)?,
        vec![(s.request, "open".to_owned())]
    );
    s.target.set_status(200);
    s.sink.await_delivery("request.closed", DEADLINE).await?;
    wait_outbox_delivered(&s.pg, database).await?;
    assert_events_delivered_once_each(&s.pg, database, &s.sink)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_stream_pauses_ingest_and_everything_resumes() -> anyhow::Result<()>
{
    let database = "pg_restart";
    let mut s = streaming(database, "15s").await?;
    let log = |c: &Collector| std::fs::read_to_string(c.log_path()).unwrap_or_default();

    tokio::task::block_in_place(|| s.pg.stop());
    let body = wait_readyz(&s.collector, 503).await?;
    assert_eq!(body.trim(), "store unreachable");
    // The agent keeps probing; the collector cannot store, so it ingests
    // and acks nothing (an acked result the agent drops: all of them reach
    // the store below), and it keeps running; /metrics still answers.
    let before = ingested(&s.collector).await?;
    s.target.wait_hits(s.target.hits() + 3, DEADLINE).await?;
    assert_eq!(ingested(&s.collector).await?, before, "ingest paused");
    assert!(s.collector.is_running(), "{}", s.collector.log_tail(20));
    let probed = s.target.hits();

    tokio::task::block_in_place(|| s.pg.start_again())?;
    assert_eq!(wait_readyz(&s.collector, 200).await?.trim(), "ready");
    assert!(s.collector.is_running(), "{}", s.collector.log_tail(20));
    assert!(
        !log(&s.collector).contains("leadership lost"),
        "an outage shorter than the lease keeps the leader"
    );
    assert_resumed(&s, database, probed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gone_past_the_lease_makes_the_leader_step_down_and_lead_again_after()
-> anyhow::Result<()> {
    let database = "pg_outage";
    let mut s = streaming(database, "2s").await?;

    tokio::task::block_in_place(|| s.pg.stop());
    // Its lease cannot be renewed: it steps down and exits non-zero for
    // its supervisor to restart it.
    let status = s.collector.wait_exit(DEADLINE).await?;
    assert!(!status.success(), "{status}");
    let log = std::fs::read_to_string(s.collector.log_path())?;
    assert!(
        log.contains("the lease ended before it could be renewed"),
        "{}",
        s.collector.log_tail(20)
    );
    s.target.wait_hits(s.target.hits() + 2, DEADLINE).await?;
    let probed = s.target.hits();

    // The supervisor restarts it once the database is back: it campaigns
    // afresh, leads, and the agent replays what it kept.
    tokio::task::block_in_place(|| s.pg.start_again())?;
    s.collector.start_again().await?;
    assert_eq!(wait_readyz(&s.collector, 200).await?.trim(), "ready");
    assert_resumed(&s, database, probed).await
}
