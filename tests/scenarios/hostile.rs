//! Hostile input on the agent link and the client API: each message is
//! refused with a clear status (or dropped and counted in
//! `picket_link_rejected_total{reason}`), what was acked before stays
//! committed, and a bystander agent keeps its session and its acks.

use std::time::Duration;

use picket_collector::link::HELLO_TIMEOUT;
use picket_collector::link::guard::REASSIGNMENT_GRACE;
use picket_e2e::Config;
use picket_e2e::config::Service;
use picket_e2e::inproc::hostile::{self, HelloFields};
use picket_e2e::inproc::{Harness, Outcome, ScriptedAgent, within};
use tonic::Code;

/// Two services, one agent each, heartbeats far apart (the clock moves by
/// minutes here and nobody should be declared dead for it).
fn two_services() -> Config {
    Config::fast()
        .agents("heartbeat_interval", "1h")
        .agents("agents_per_service", 1)
        .equipment("web-1", "Web server 1")
        .service(Service::new("shop", "web-1", "http://shop.test/"))
        .service(Service::new("blog", "web-1", "http://blog.test/"))
}

/// Starts the collector with a hostile agent and a bystander, each
/// assigned one check; returns them with their checks.
async fn two_agents() -> anyhow::Result<(Harness, ScriptedAgent, String, ScriptedAgent, String)> {
    let h = Harness::start(&two_services()).await?;
    let mut a = h.agent("hostile", "eu").await?;
    assert_eq!(a.assignment().await?.len(), 2);
    let mut b = h.agent("bystander", "eu").await?;
    let theirs = one(b.assignment().await?)?;
    let mine = one(a.assignment().await?)?;
    assert_ne!(mine, theirs);
    Ok((h, a, mine, b, theirs))
}

fn one(checks: Vec<String>) -> anyhow::Result<String> {
    match <[String; 1]>::try_from(checks) {
        Ok([check]) => Ok(check),
        Err(checks) => anyhow::bail!("expected one check, got {checks:?}"),
    }
}

/// The bystander still has its session: its result is acked.
async fn bystander_unaffected(b: &mut ScriptedAgent, check: &str) -> anyhow::Result<()> {
    b.report(check, &Outcome::ok()).await
}

async fn last_status(h: &Harness, service: &str) -> anyhow::Result<Option<u32>> {
    Ok(h.service(service).await?.last_status_code)
}

/// After a refused stream, the agent reconnects and is told that every
/// result it had acked is committed.
async fn still_committed(h: &Harness, a: &ScriptedAgent, acked: u64) -> anyhow::Result<()> {
    let again = h
        .reconnect(a.identity())
        .await?
        .map_err(|r| anyhow::anyhow!("refused on reconnect: {r}"))?;
    assert!(
        again.last_committed >= acked,
        "acked up to {acked}, committed {}",
        again.last_committed
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn results_for_checks_not_assigned_are_dropped_and_counted_the_session_kept()
-> anyhow::Result<()> {
    let (h, mut a, mine, mut b, theirs) = two_agents().await?;
    // Just moved away: a probe in flight when it moved is still taken.
    a.report(&theirs, &Outcome::status(500)).await?;
    assert_eq!(last_status(&h, &theirs).await?, Some(500));

    h.advance(REASSIGNMENT_GRACE + Duration::from_secs(1)).await;
    a.send_next(&theirs, &Outcome::status(503)).await?;
    a.send_next(&theirs, &Outcome::status(503)).await?;
    a.send_next("no-such-check", &Outcome::ok()).await?;
    // The session goes on: a result for its own check is acked after them.
    a.report(&mine, &Outcome::ok()).await?;
    assert_eq!(
        last_status(&h, &theirs).await?,
        Some(500),
        "a result for a check not assigned was stored"
    );
    assert_eq!(hostile::rejected(&h, "unassigned_check").await?, 2);
    assert_eq!(hostile::rejected(&h, "unknown_check").await?, 1);
    bystander_unaffected(&mut b, &theirs).await
}

#[tokio::test(start_paused = true)]
async fn a_seq_going_back_is_dropped_and_an_absurd_jump_refuses_the_stream() -> anyhow::Result<()> {
    let (h, mut a, mine, mut b, theirs) = two_agents().await?;
    for _ in 0..3 {
        a.report(&mine, &Outcome::ok()).await?;
    }
    let acked = a.next_seq() - 1;
    a.send_seq(acked - 1, &mine, &Outcome::status(503)).await?;
    a.report(&mine, &Outcome::ok()).await?;
    assert_eq!(
        last_status(&h, &mine).await?,
        Some(200),
        "a seq that went back was stored"
    );
    assert_eq!(hostile::rejected(&h, "seq_backwards").await?, 1);

    let acked = a.next_seq() - 1;
    a.send_seq(acked + (1 << 33), &mine, &Outcome::status(503))
        .await?;
    let refused = a.closed().await?;
    assert_eq!(refused.code, Code::InvalidArgument, "{refused}");
    assert!(refused.message.contains("jumps more than"), "{refused}");
    assert_eq!(hostile::rejected(&h, "seq_jump").await?, 1);
    bystander_unaffected(&mut b, &theirs).await?;
    still_committed(&h, &a, acked).await
}

#[tokio::test(start_paused = true)]
async fn a_message_over_the_size_limit_ends_the_stream_with_invalid_argument() -> anyhow::Result<()>
{
    let (h, mut a, mine, mut b, theirs) = two_agents().await?;
    a.report(&mine, &Outcome::ok()).await?;
    let acked = a.next_seq() - 1;
    a.send_oversized(&mine, 5 << 20).await?;
    let refused = a.closed().await?;
    assert_eq!(refused.code, Code::InvalidArgument, "{refused}");
    assert!(refused.message.contains("size limit"), "{refused}");
    assert!(refused.message.contains("4194304"), "{refused}");
    assert_eq!(hostile::rejected(&h, "too_large").await?, 1);
    bystander_unaffected(&mut b, &theirs).await?;
    still_committed(&h, &a, acked).await
}

#[tokio::test(start_paused = true)]
async fn absurd_hellos_are_refused_naming_the_field() -> anyhow::Result<()> {
    let (h, _a, _mine, mut b, theirs) = two_agents().await?;
    let grpc = h.grpc_addr();
    let check = |fields: HelloFields, expected: &'static str| async move {
        let refused = hostile::hello_refused(grpc, fields).await?;
        assert_eq!(refused.code, Code::InvalidArgument, "{refused}");
        assert!(refused.message.contains(expected), "{refused}");
        anyhow::Ok(())
    };
    let base = || HelloFields::new("absurd");
    check(
        HelloFields {
            name: "n".repeat(10 << 20),
            ..base()
        },
        "size limit",
    )
    .await?;
    check(
        HelloFields {
            name: "n".repeat(1000),
            ..base()
        },
        "invalid hello: name: 1000 bytes, at most 256",
    )
    .await?;
    check(
        HelloFields {
            labels: (0..10_000).map(|i| (format!("k{i}"), "v".into())).collect(),
            ..base()
        },
        "invalid hello: labels: 10000 labels, at most 64",
    )
    .await?;
    check(
        HelloFields {
            agent_id: "../../etc".into(),
            ..base()
        },
        "invalid hello: agent_id: character '/'",
    )
    .await?;
    assert_eq!(hostile::rejected(&h, "too_large").await?, 1);
    assert_eq!(hostile::rejected(&h, "bad_hello").await?, 3);
    assert_eq!(h.agents().await?.len(), 2, "an absurd hello was registered");
    bystander_unaffected(&mut b, &theirs).await
}

#[tokio::test(start_paused = true)]
async fn a_flood_before_hello_is_refused_at_the_first_message() -> anyhow::Result<()> {
    let (h, _a, _mine, mut b, theirs) = two_agents().await?;
    let refused = hostile::flood_before_hello(h.grpc_addr(), 1000).await?;
    assert_eq!(refused.code, Code::InvalidArgument, "{refused}");
    assert_eq!(refused.message, "the first message must be a hello");
    assert_eq!(hostile::rejected(&h, "no_hello").await?, 1);
    assert_eq!(
        h.agents().await?.len(),
        2,
        "the flood's hello was registered"
    );
    bystander_unaffected(&mut b, &theirs).await
}

#[tokio::test(start_paused = true)]
async fn a_stream_silent_past_the_hello_timeout_is_refused() -> anyhow::Result<()> {
    let (h, _a, _mine, mut b, theirs) = two_agents().await?;
    let opened = h.now_ms();
    let silent = tokio::spawn(hostile::silent(h.grpc_addr()));
    within(
        picket_e2e::inproc::WAIT,
        "the silent stream refused",
        async {
            while !silent.is_finished() {
                h.advance(Duration::from_secs(1)).await;
            }
        },
    )
    .await?;
    let refused = silent.await??;
    assert_eq!(refused.code, Code::DeadlineExceeded, "{refused}");
    assert_eq!(refused.message, "no hello within 10s");
    assert!(h.now_ms() - opened >= HELLO_TIMEOUT.as_millis() as i64);
    assert_eq!(hostile::rejected(&h, "hello_timeout").await?, 1);
    bystander_unaffected(&mut b, &theirs).await
}

#[tokio::test(start_paused = true)]
async fn the_client_api_refuses_oversized_requests_and_unknown_ids_clearly() -> anyhow::Result<()> {
    let h = Harness::start(&two_services()).await?;
    let status = |e: anyhow::Error| {
        e.downcast::<tonic::Status>()
            .map(|s| (s.code(), s.message().to_owned()))
            .map_err(|e| anyhow::anyhow!("not a status: {e}"))
    };
    let (code, message) = status(h.service(&"s".repeat(100_000)).await.unwrap_err())?;
    assert_eq!(code, Code::OutOfRange, "{message}");
    assert!(message.contains("65536"), "{message}");
    let (code, message) = status(h.service(&"s".repeat(10_000)).await.unwrap_err())?;
    assert_eq!(
        (code, message.as_str()),
        (Code::InvalidArgument, "id: 10000 bytes, at most 128")
    );
    let (code, message) = status(h.service("nope").await.unwrap_err())?;
    assert_eq!(code, Code::NotFound, "{message}");
    let (code, message) = status(h.approve("nope").await.unwrap_err())?;
    assert_eq!(code, Code::NotFound, "{message}");
    let (code, message) = status(h.request(999).await.unwrap_err())?;
    assert_eq!(code, Code::NotFound, "{message}");
    // The same client goes on.
    assert_eq!(h.service("shop").await?.id, "shop");
    Ok(())
}
