//! No secret leaves the collector or the agent: a full run with every kind
//! of secret configured (admin, read and enrollment tokens, a webhook's
//! basic-auth password and signing secret, a probe's basic-auth password),
//! an agent enrolled with an issued credential, a wrong guess at each
//! token, every picketctl command, a request opened and its webhook
//! delivered; then the logs of both processes at `debug` for every crate,
//! the event log and every answer are searched for each secret.

use picket_e2e::config::basic_auth;
use picket_e2e::target::Target;
use picket_e2e::{
    ADMIN_TOKEN, Agent, AgentOptions, Collector, DEADLINE, ENROLLMENT_TOKEN, Webhook, WebhookSink,
};

use crate::common::{AGENT, EQUIPMENT, SERVICE, is_down_with_request, one_service, open_request};

const READ_TOKEN: &str = "e2e-read-token-5f2c";
const WEBHOOK_PASSWORD: &str = "e2e-webhook-password-81d3";
/// A Standard Webhooks secret: `whsec_` + base64 of the key.
const WEBHOOK_KEY_B64: &str = "ZTJlLXdlYmhvb2stc2lnbmluZy1rZXktMzNhOQ==";
const PROBE_PASSWORD: &str = "e2e-probe-password-07be";
const WRONG_TOKEN: &str = "e2e-wrong-guess-9c41";

/// `picketctl --collector URL --token TOKEN ARGS`: its stdout and stderr
/// together (whatever the exit code).
async fn picketctl(c: &Collector, token: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(picket_e2e::binary("picketctl")?)
        .args(["--collector", &c.grpc_url(), "--token", token])
        .args(args)
        .kill_on_drop(true)
        .output()
        .await?;
    Ok(format!(
        "$ picketctl {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_events_or_answers() -> anyhow::Result<()> {
    picket_e2e::set_log_filter("debug");
    let sink = WebhookSink::start().await?;
    let target = Target::http().await;
    let config = one_service(&target.url())
        .collector("read_token", READ_TOKEN)
        .defaults("basic_auth", basic_auth("prober", PROBE_PASSWORD))
        .webhook(
            Webhook::new("ops", &sink.url())
                .basic_auth("n8n", WEBHOOK_PASSWORD)
                .set("secret", format!("whsec_{WEBHOOK_KEY_B64}")),
        );
    let c = Collector::start(config).await?;
    let mut agent = Agent::start(&c, "eu", AGENT, None, &[])?;
    c.wait_agent_live(AGENT).await?;
    c.wait_state(SERVICE, "up").await?;
    let identity = std::fs::read_to_string(agent.state_dir().join("agent.json"))?;
    let identity: serde_json::Value = serde_json::from_str(&identity)?;
    let credential = identity["credential"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(credential.len(), 64, "an issued credential: {identity}");

    // Guesses: an agent with a wrong enrollment token, API calls with a
    // wrong token (each refused, and each must not be echoed).
    let mut guesser = Agent::start_with(
        &c,
        "eu",
        "guesser",
        AgentOptions {
            enrollment_token: Some(WRONG_TOKEN.to_owned()),
            ..AgentOptions::default()
        },
    )?;
    let exit = guesser.wait_exit(DEADLINE).await?;
    assert_eq!(exit.code(), Some(3), "a wrong enrollment token is fatal");

    // The request and its webhook.
    target.set_status(503);
    let down = c
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    let id = open_request(&down).to_string();
    let opened = sink.await_delivery("request.opened", DEADLINE).await?;
    assert_eq!(
        opened.basic_auth(),
        Some(("n8n".to_owned(), WEBHOOK_PASSWORD.to_owned())),
        "delivered with its basic auth"
    );
    assert!(opened.header("webhook-signature").is_some(), "signed");

    // Every command, with each token and (last, as it uses up this
    // address's allowance of failures) a wrong one.
    let events = picketctl(&c, ADMIN_TOKEN, &["events", "--json"]).await?;
    assert!(events.contains("request.opened"), "{events}");
    let mut answers = Vec::new();
    for token in [ADMIN_TOKEN, READ_TOKEN, WRONG_TOKEN] {
        for json in [true, false] {
            for args in [
                vec!["services"],
                vec!["service", SERVICE],
                vec!["requests"],
                vec!["request", &id],
                vec!["agents"],
                vec!["events"],
                vec!["check", SERVICE],
                vec!["maintenance", "start", EQUIPMENT, "--for", "1h"],
                vec!["maintenance", "end", EQUIPMENT],
                vec!["agents", "approve", "no-such-agent"],
            ] {
                let mut args = args.clone();
                if json {
                    args.push("--json");
                }
                answers.push(picketctl(&c, token, &args).await?);
            }
        }
    }
    let answers = answers.join("\n");
    assert!(
        answers.contains("missing or wrong bearer token"),
        "the wrong token was refused: {answers}"
    );
    assert!(
        answers.contains("too many failed authentications"),
        "the wrong token was rate limited: {answers}"
    );
    agent.kill();
    let webhooks: Vec<String> = sink.deliveries().into_iter().map(|d| d.raw_body).collect();

    let searched = [
        ("collector log", std::fs::read_to_string(c.log_path())?),
        ("agent log", agent.log_text()),
        ("guesser log", guesser.log_text()),
        ("picketctl answers", answers),
        ("event log", events),
        ("webhook bodies", webhooks.join("\n")),
    ];
    for (what, text) in &searched {
        assert!(
            text.len() > 100,
            "{what} is too short to prove anything:\n{text}"
        );
        for (secret, value) in [
            ("admin_token", ADMIN_TOKEN),
            ("read_token", READ_TOKEN),
            ("enrollment_token", ENROLLMENT_TOKEN),
            ("webhook password", WEBHOOK_PASSWORD),
            ("webhook secret", WEBHOOK_KEY_B64),
            ("probe password", PROBE_PASSWORD),
            ("a wrong guess", WRONG_TOKEN),
            ("the issued credential", &credential),
        ] {
            if let Some(at) = text.find(value) {
                let line = text[..at].lines().count();
                panic!(
                    "the {secret} appears in the {what} (line {line}): {}",
                    text.lines().nth(line.saturating_sub(1)).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
