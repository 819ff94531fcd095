//! Configuration reload on the real binaries: SIGHUP adds a service that
//! a real agent then probes without reconnecting; `picketctl reload`
//! refuses a bad file (exit 1, `FILE:LINE: reason`) and applies a good
//! one; `picket-collector --check-config` exits 0 or 2.

use std::time::Duration;

use picket_e2e::target::Target;
use picket_e2e::{Collector, DEADLINE, line_of};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{AGENT, SERVICE, one_service, start};

/// The value of the unlabelled metric `name` on `/metrics`.
async fn metric(c: &Collector, name: &str) -> anyhow::Result<Option<f64>> {
    let mut stream = tokio::net::TcpStream::connect(c.http_addr()).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nhost: picket\r\n\r\n")
        .await?;
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut text)).await??;
    Ok(text.lines().find_map(|l| {
        let value = l.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    }))
}

/// Appends a `[[services]]` entry to the running collector's file.
fn add_service(c: &Collector, id: &str, url: &str) -> anyhow::Result<()> {
    let mut text = std::fs::read_to_string(c.config_path())?;
    text.push_str(&format!(
        "\n[[services]]\nid = \"{id}\"\nequipment = \"web-1\"\nurl = \"{url}\"\n"
    ));
    Ok(std::fs::write(c.config_path(), text)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_a_service_that_the_agent_probes_without_reconnecting() -> anyhow::Result<()> {
    let (shop, blog) = (Target::http().await, Target::http().await);
    let (c, _agent) = start(one_service(&shop.url()), &[]).await?;
    c.wait_state(SERVICE, "up").await?;
    let connections = "picket_agent_connections_total";
    assert_eq!(metric(&c, connections).await?, Some(1.0));

    add_service(&c, "blog", &blog.url())?;
    c.sighup()?;
    blog.wait_hits(1, DEADLINE).await?;
    c.wait_state("blog", "up").await?;
    let agents = c.agents().await?;
    let agent = agents.iter().find(|a| a["name"] == AGENT);
    assert!(agent.is_some(), "{agents:?}");
    assert_eq!(
        metric(&c, connections).await?,
        Some(1.0),
        "the agent reconnected"
    );
    assert_eq!(
        metric(&c, "picket_config_last_reload_successful").await?,
        Some(1.0)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picketctl_reload_refuses_a_bad_file_with_its_line_and_applies_a_good_one()
-> anyhow::Result<()> {
    let shop = Target::http().await;
    let c = Collector::start(one_service(&shop.url())).await?;
    let good = std::fs::read_to_string(c.config_path())?;

    let bad = format!(
        "{good}\n[[services]]\nid = \"blog\"\nequipment = \"nowhere\"\nurl = \"http://127.0.0.1:9/\"\n"
    );
    std::fs::write(c.config_path(), &bad)?;
    let out = c.ctl_raw(&["reload"]).await?;
    assert_eq!(out.code, Some(1), "{out:?}");
    let at = format!(
        "{}:{}: ",
        c.config_path().display(),
        line_of(&bad, "equipment = \"nowhere\"")
    );
    assert!(out.stderr.contains(&at), "no {at:?} in {out:?}");
    assert!(out.stderr.contains("nowhere"), "{out:?}");
    let json = c.ctl_raw(&["reload", "--json"]).await?;
    assert_eq!(json.code, Some(1), "{json:?}");
    let answer: serde_json::Value = serde_json::from_str(&json.stdout)?;
    assert_eq!(answer["ok"], false, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&at),
        "{answer}"
    );
    assert_eq!(
        metric(&c, "picket_config_last_reload_successful").await?,
        Some(0.0)
    );
    // The running configuration stayed: no `blog`.
    let ids: Vec<_> = c
        .services()
        .await?
        .into_iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, [SERVICE], "{ids:?}");

    std::fs::write(c.config_path(), &good)?;
    add_service(&c, "blog", "http://127.0.0.1:9/")?;
    let out = c.ctl_raw(&["reload"]).await?;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.trim(), "reloaded", "{out:?}");
    c.service("blog").await?;
    assert_eq!(
        metric(&c, "picket_config_last_reload_successful").await?,
        Some(1.0)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_exits_0_for_a_good_file_and_2_for_a_bad_one() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("picket.toml");
    let valid = "[collector]\ndatabase = \"sqlite://never-created.db\"\nadmin_token = \"t\"\n\n\
                 [agents]\nenrollment_token = \"e\"\n";
    let run = |text: &str| -> anyhow::Result<std::process::Output> {
        std::fs::write(&path, text)?;
        Ok(
            std::process::Command::new(picket_e2e::binary("picket-collector")?)
                .args(["--check-config", "--config"])
                .arg(&path)
                .current_dir(dir.path())
                .output()?,
        )
    };
    let ok = run(valid)?;
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(stdout.trim(), format!("{}: ok", path.display()));
    assert!(
        !dir.path().join("never-created.db").exists(),
        "--check-config opened the database"
    );

    // Off loopback without TLS: the plaintext rule of a real start.
    let plaintext = valid.replace(
        "[collector]\n",
        "[collector]\ngrpc_listen = \"0.0.0.0:7070\"\n",
    );
    let bad = run(&plaintext)?;
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains(&format!("{}: grpc_listen: ", path.display())),
        "{stderr}"
    );
    // A bad line: refused with FILE:LINE.
    let typo = run(&valid.replace("admin_token", "admin_tokn"))?;
    assert_eq!(typo.status.code(), Some(2), "{typo:?}");
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(
        stderr.contains(&format!("{}:3: ", path.display())),
        "{stderr}"
    );
    Ok(())
}
