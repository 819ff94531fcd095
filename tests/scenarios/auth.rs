//! Authentication on the collector's two gRPC services: who may call what
//! (admin and read tokens), and the per-address brake on guessing secrets.
//! The clock is paused, so the limiter's buckets refill only when the test
//! moves time, and the counts below are exact.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use picket_e2e::ENROLLMENT_TOKEN;
use picket_e2e::inproc::net::channel_from;
use picket_e2e::inproc::{Harness, Identity, ScriptedAgent};
use picket_proto::agent::v1 as pb;
use picket_proto::agent::v1::agent_link_client::AgentLinkClient;
use picket_proto::contract::PROTOCOL_VERSION;
use picket_proto::v1 as api;
use picket_proto::v1::picket_client::PicketClient;
use tokio::task::JoinSet;
use tokio_stream::StreamExt as _;
use tonic::Code;
use tonic::transport::Channel;

use crate::common::one_service;

/// The address the guesser calls from; good agents use 127.0.0.1.
const GUESSER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// One hello with a wrong enrollment token; the code it is answered with.
async fn bad_hello(channel: Channel, n: usize) -> Code {
    let hello = pb::Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_id: format!("guess-{n}"),
        enrollment_token: format!("guess-{n}"),
        name: "guess".into(),
        region: "eu".into(),
        version: "scripted".into(),
        ..Default::default()
    };
    let first = pb::AgentMessage {
        msg: Some(pb::agent_message::Msg::Hello(hello)),
    };
    let uplink = tokio_stream::iter([first]).chain(tokio_stream::pending());
    match AgentLinkClient::new(channel).connect(uplink).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// `(UNAUTHENTICATED, RESOURCE_EXHAUSTED)` counts of `n` bad hellos sent
/// from [`GUESSER`], 16 at a time.
async fn flood(h: &Harness, n: usize) -> anyhow::Result<(usize, usize)> {
    let channel = channel_from(h.grpc_addr(), GUESSER).await?;
    let mut workers = JoinSet::new();
    for w in 0..16 {
        let channel = channel.clone();
        workers.spawn(async move {
            let mut codes = Vec::new();
            for i in (w..n).step_by(16) {
                codes.push(bad_hello(channel.clone(), i).await);
            }
            codes
        });
    }
    let (mut unauthenticated, mut exhausted) = (0, 0);
    while let Some(codes) = workers.join_next().await {
        for code in codes? {
            match code {
                Code::Unauthenticated => unauthenticated += 1,
                Code::ResourceExhausted => exhausted += 1,
                other => anyhow::bail!("a bad hello was answered {other:?}"),
            }
        }
    }
    Ok((unauthenticated, exhausted))
}

/// The value of the metric line starting with `name` (0 when absent).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_bad_tokens_are_limited_while_a_good_agent_connects() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let (unauthenticated, exhausted) = flood(&h, 10_000).await?;
    assert_eq!(
        (unauthenticated, exhausted),
        (10, 9_990),
        "ten tries are checked, the rest refused unread"
    );
    // Another address is not affected: a good agent enrolls meanwhile.
    let mut good = h.agent("edge-1", "eu").await?;
    good.assignment().await?;
    // The guesser's address is refused even with the right token...
    let identity = Identity {
        id: "late-agent".into(),
        name: "late".into(),
        region: "eu".into(),
        credential: String::new(),
    };
    let refused = ScriptedAgent::connect_on(
        channel_from(h.grpc_addr(), GUESSER).await?,
        identity.clone(),
        ENROLLMENT_TOKEN,
    )
    .await?
    .expect_err("a limited address is not read");
    assert_eq!(refused.code, Code::ResourceExhausted, "{refused}");
    // ... until its bucket refills one try (6 s).
    h.advance(Duration::from_secs(6)).await;
    ScriptedAgent::connect_on(
        channel_from(h.grpc_addr(), GUESSER).await?,
        identity,
        ENROLLMENT_TOKEN,
    )
    .await?
    .map_err(|r| anyhow::anyhow!("refused after the refill: {r}"))?;

    let metrics = h.metrics().await?;
    assert_eq!(
        metric(
            &metrics,
            "picket_auth_failures_total{kind=\"enrollment_token\"}"
        ),
        10,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "picket_auth_rate_limited_total"),
        9_991,
        "{metrics}"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_wrong_credential_counts_and_bearer_guesses_share_the_limit() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let good = h.agent("edge-1", "eu").await?;
    let mut stolen = good.identity().clone();
    drop(good);
    stolen.credential = "0".repeat(64);
    let channel = channel_from(h.grpc_addr(), GUESSER).await?;
    for _ in 0..4 {
        let refused = ScriptedAgent::connect_on(channel.clone(), stolen.clone(), "")
            .await?
            .expect_err("a wrong credential");
        assert_eq!(refused.code, Code::Unauthenticated, "{refused}");
    }
    let mut client = PicketClient::new(channel);
    let mut codes = Vec::new();
    for _ in 0..10 {
        let request = bearer(
            "guess",
            api::AgentRef {
                id: stolen.id.clone(),
            },
        );
        let refused = client
            .approve_agent(request)
            .await
            .expect_err("a wrong token");
        codes.push(refused.code());
    }
    let expected: Vec<Code> = [Code::Unauthenticated; 6]
        .into_iter()
        .chain([Code::ResourceExhausted; 4])
        .collect();
    assert_eq!(
        codes, expected,
        "4 credential + 6 bearer failures use the 10"
    );
    // The admin, calling from 127.0.0.1, is not affected.
    h.approve(&stolen.id).await?;
    let metrics = h.metrics().await?;
    assert_eq!(
        metric(&metrics, "picket_auth_failures_total{kind=\"credential\"}"),
        4
    );
    assert_eq!(
        metric(&metrics, "picket_auth_failures_total{kind=\"bearer\"}"),
        6
    );
    Ok(())
}

/// `msg` with `authorization: Bearer TOKEN` (none when `token` is empty).
fn bearer<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(msg);
    if let Ok(value) = format!("Bearer {token}").parse()
        && !token.is_empty()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// The codes of a read call and an admin call made with `token`, from an
/// address of their own.
async fn calls_with(h: &Harness, token: &str) -> anyhow::Result<(Code, Code)> {
    let channel = channel_from(h.grpc_addr(), IpAddr::from([127, 0, 0, 3])).await?;
    let mut client = PicketClient::new(channel);
    let code = |s: tonic::Status| s.code();
    let read = client
        .list_services(bearer(token, api::ListServicesRequest::default()))
        .await
        .map_or_else(code, |_| Code::Ok);
    // Every read call is gated alike, the webhook listings too.
    let webhooks = client
        .list_webhooks(bearer(token, api::ListWebhooksRequest {}))
        .await
        .map_or_else(code, |_| Code::Ok);
    assert_eq!(webhooks, read, "ListWebhooks and ListServices disagree");
    let end = api::EndMaintenanceRequest {
        equipment: "web-1".into(),
    };
    let admin = client
        .end_maintenance(bearer(token, end))
        .await
        .map_or_else(code, |_| Code::Ok);
    Ok((read, admin))
}

#[tokio::test(start_paused = true)]
async fn reads_need_the_read_or_admin_token_once_a_read_token_is_set() -> anyhow::Result<()> {
    let h = Harness::start(&one_service().collector("read_token", "viewer-secret")).await?;
    // Not in maintenance: an admin call that got through says so.
    let past_auth = Code::InvalidArgument;
    assert_eq!(
        calls_with(&h, "").await?,
        (Code::Unauthenticated, Code::Unauthenticated)
    );
    assert_eq!(
        calls_with(&h, "viewer-secret").await?,
        (Code::Ok, Code::Unauthenticated)
    );
    assert_eq!(
        calls_with(&h, picket_e2e::ADMIN_TOKEN).await?,
        (Code::Ok, past_auth)
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn without_tokens_reads_are_open_and_admin_calls_refused() -> anyhow::Result<()> {
    let h = Harness::start(&one_service().collector("admin_token", "")).await?;
    let disabled = Code::PermissionDenied;
    assert_eq!(calls_with(&h, "").await?, (Code::Ok, disabled));
    assert_eq!(calls_with(&h, "anything").await?, (Code::Ok, disabled));
    Ok(())
}
