//! TLS on the collector's listeners, with real processes and real
//! handshakes (certificates made here with rcgen): agents and picketctl
//! over `https://`, mutual TLS accepting only good client certificates,
//! certificates rotated on SIGHUP under a connected agent, and `http_tls`.

use std::time::SystemTime;

use picket_e2e::pki::{Pki, TlsClient};
use picket_e2e::status::https_get_status;
use picket_e2e::{Agent, Collector, Config, DEADLINE, Seen, parse_time, wait_until};

/// A collector with TLS from `pki` (server cert `server`), optionally
/// requiring client certificates from `client_ca`; the harness's
/// picketctl trusts `pki` and presents `client`.
async fn tls_collector(
    pki: &Pki,
    client_ca: Option<&Pki>,
    client: Option<(std::path::PathBuf, std::path::PathBuf)>,
    http_tls: bool,
) -> anyhow::Result<Collector> {
    let server = pki.server("server")?;
    let harness = TlsClient {
        ca: pki.ca_pem.clone(),
        client,
    };
    let config = Config::fast().tls(
        &server,
        client_ca.map(|c| c.ca_pem.as_path()),
        http_tls,
        harness,
    );
    Collector::start(config).await
}

/// Waits until the agent's log has a line containing `needle`.
async fn await_log(agent: &Agent, needle: &str) -> anyhow::Result<()> {
    wait_until(
        DEADLINE,
        &format!("agent log line {needle:?}"),
        async || agent.log_text().contains(needle),
    )
    .await
}

/// picketctl `services` with these TLS flags: exit code and stderr.
async fn ctl_with(c: &Collector, flags: &[String]) -> anyhow::Result<(Option<i32>, String)> {
    let out = tokio::process::Command::new(picket_e2e::binary("picketctl")?)
        .arg("--collector")
        .arg(c.grpc_url())
        .args(flags)
        .arg("services")
        .output()
        .await?;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test]
async fn agent_and_picketctl_work_over_tls_and_the_listener_refuses_plaintext() -> anyhow::Result<()>
{
    let pki = Pki::new("tls")?;
    let c = tls_collector(&pki, None, None, false).await?;
    assert!(c.grpc_url().starts_with("https://"), "{}", c.grpc_url());
    let flags = c.tls_client().expect("tls").args();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let _agent = Agent::start(&c, "eu", "edge-tls", None, &flags)?;
    // The harness's picketctl runs over https with --ca-cert.
    c.wait_agent_live("edge-tls").await?;

    // Without --ca-cert the collector's private CA is unknown.
    let (code, stderr) = ctl_with(&c, &[]).await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("unknown CA"), "{stderr}");
    // A plaintext client gets no gRPC answer from the TLS listener.
    let plain = tokio::process::Command::new(picket_e2e::binary("picketctl")?)
        .args([
            "--collector",
            &format!("http://{}", c.grpc_addr()),
            "services",
        ])
        .output()
        .await?;
    assert_eq!(
        plain.status.code(),
        Some(1),
        "plaintext picketctl was answered"
    );
    Ok(())
}

#[tokio::test]
async fn mutual_tls_accepts_a_good_client_certificate_and_refuses_the_rest() -> anyhow::Result<()> {
    let pki = Pki::new("server")?;
    let clients = Pki::new("clients")?;
    let other = Pki::new("other")?;
    let good = clients.client("good", false)?;
    let c = tls_collector(&pki, Some(&clients), Some(good.clone()), false).await?;
    let flags_for = |cert: Option<&(std::path::PathBuf, std::path::PathBuf)>| {
        TlsClient {
            ca: pki.ca_pem.clone(),
            client: cert.cloned(),
        }
        .args()
    };

    let good_flags = flags_for(Some(&good));
    let good_flags: Vec<&str> = good_flags.iter().map(String::as_str).collect();
    let _good = Agent::start(&c, "eu", "edge-good", None, &good_flags)?;
    c.wait_agent_live("edge-good").await?;

    let foreign = other.client("foreign", false)?;
    let expired = clients.client("expired", true)?;
    let cases = [
        ("edge-none", None, "certificate required"),
        ("edge-foreign", Some(&foreign), "unknown CA"),
        ("edge-expired", Some(&expired), "expired"),
    ];
    let mut agents = Vec::new();
    for (name, cert, _) in &cases {
        let flags = flags_for(*cert);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        agents.push(Agent::start(&c, "eu", name, None, &flags)?);
    }
    for ((name, cert, cause), agent) in cases.iter().zip(&agents) {
        await_log(
            agent,
            &format!("TLS handshake with collector failed: {cause}"),
        )
        .await?;
        let (code, stderr) = ctl_with(&c, &flags_for(*cert)).await?;
        assert_eq!(code, Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains("TLS handshake with the collector") && stderr.contains(cause),
            "{name}: {stderr}"
        );
    }
    let listed = c.agents().await?;
    for (name, _, _) in &cases {
        assert!(
            !listed.iter().any(|a| a["name"] == *name),
            "{name} got in: {listed:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn certificates_rotate_on_sighup_without_dropping_the_connected_agent() -> anyhow::Result<()>
{
    let old = Pki::new("old")?;
    let new = Pki::new("new")?;
    let c = tls_collector(&old, None, None, false).await?;
    // The agent trusts both CAs, so it could reconnect after the rotation;
    // the point is that it has no need to.
    let both = old.ca_pem.with_file_name("both-ca.pem");
    std::fs::write(
        &both,
        std::fs::read_to_string(&old.ca_pem)? + &std::fs::read_to_string(&new.ca_pem)?,
    )?;
    let both_arg = both.display().to_string();
    let agent = Agent::start(&c, "eu", "edge-rot", None, &["--ca-cert", &both_arg])?;
    c.wait_agent_live("edge-rot").await?;
    let old_flags = TlsClient {
        ca: old.ca_pem.clone(),
        client: None,
    }
    .args();
    let new_flags = TlsClient {
        ca: new.ca_pem.clone(),
        client: None,
    }
    .args();

    // Rotate: new files at the same paths, then SIGHUP.
    let (cert, key) = new.server("rotated")?;
    let collector_cert = old.ca_pem.with_file_name("server.crt");
    let collector_key = old.ca_pem.with_file_name("server.key");
    std::fs::copy(&cert, &collector_cert)?;
    std::fs::copy(&key, &collector_key)?;
    c.sighup()?;
    wait_until(
        DEADLINE,
        "collector log: TLS certificates reloaded",
        async || c.log_tail(200).contains("TLS certificates reloaded"),
    )
    .await?;
    let reloaded_at = SystemTime::now();

    // A new connection sees the new certificate.
    let (code, stderr) = ctl_with(&c, &new_flags).await?;
    assert_eq!(code, Some(0), "new CA refused after rotation: {stderr}");
    let (code, stderr) = ctl_with(&c, &old_flags).await?;
    assert_eq!(code, Some(1), "old CA still accepted: {stderr}");
    assert!(stderr.contains("unknown CA"), "{stderr}");

    // The agent keeps its stream: it is heard after the rotation and never
    // reconnected.
    wait_until(
        DEADLINE,
        "a heartbeat of edge-rot after the rotation",
        async || {
            let out = ctl_with_json(&c, &new_flags).await?;
            let seen = out
                .iter()
                .find(|a| a["name"] == "edge-rot")
                .and_then(|a| parse_time(&a["last_seen"]));
            Ok::<_, anyhow::Error>(match seen {
                Some(t) if t > reloaded_at => Seen::Ready(()),
                other => Seen::Pending(format!("last_seen {other:?}")),
            })
        },
    )
    .await?;
    let log = agent.log_text();
    assert_eq!(log.matches("connected to collector").count(), 1, "{log}");
    assert!(!log.contains("link to collector lost"), "{log}");

    // A bad certificate on the next SIGHUP is refused (the reload
    // validates the file and loads the TLS files first); the current one
    // stays.
    std::fs::write(&collector_cert, "not a certificate")?;
    c.sighup()?;
    wait_until(
        DEADLINE,
        "collector log: configuration reload refused for tls_cert",
        async || {
            let log = c.log_tail(200);
            log.lines()
                .any(|l| l.contains("configuration reload refused") && l.contains("tls_cert"))
        },
    )
    .await?;
    let (code, stderr) = ctl_with(&c, &new_flags).await?;
    assert_eq!(
        code,
        Some(0),
        "the current certificate was dropped: {stderr}"
    );
    Ok(())
}

/// `agents --json` over TLS with these flags.
async fn ctl_with_json(c: &Collector, flags: &[String]) -> anyhow::Result<Vec<serde_json::Value>> {
    let out = tokio::process::Command::new(picket_e2e::binary("picketctl")?)
        .arg("--collector")
        .arg(c.grpc_url())
        .args(flags)
        .args(["agents", "--json"])
        .output()
        .await?;
    anyhow::ensure!(
        out.status.success(),
        "picketctl agents: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[tokio::test]
async fn http_tls_serves_healthz_over_tls_only() -> anyhow::Result<()> {
    let pki = Pki::new("http")?;
    // The harness waits for /readyz over TLS before this returns.
    let c = tls_collector(&pki, None, None, true).await?;
    let status = https_get_status(c.http_addr(), "/healthz", &pki.ca_pem).await?;
    assert_eq!(status, 200);
    let plain = picket_e2e::collector::http_get_status(c.http_addr(), "/healthz").await;
    assert!(plain.is_err(), "plaintext HTTP was answered: {plain:?}");
    Ok(())
}

#[tokio::test]
async fn a_missing_certificate_file_is_refused_at_start_naming_the_key() -> anyhow::Result<()> {
    let template = Config::fast()
        .collector("tls_cert", "missing.crt")
        .collector("tls_key", "missing.key")
        .render();
    let refusal = Collector::refuses(&template).await?;
    assert_eq!(refusal.code, Some(2), "{}", refusal.stderr);
    let expected = format!("{}: tls_cert: cannot read ", refusal.config_path.display());
    assert!(refusal.stderr.contains(&expected), "{}", refusal.stderr);
    assert!(refusal.stderr.contains("missing.crt"), "{}", refusal.stderr);
    Ok(())
}
