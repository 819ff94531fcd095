//! The status page in a real browser: the real `picket-collector` and
//! `picket-agent` probing real loopback targets (one up, one down with an
//! open request, one paused), rendered by headless Chromium (Debian's
//! `chromium`, which `.ci/run` installs when missing) to PNG screenshots,
//! with the DOM Chromium built checked for the states in words, the bars,
//! the request link and the latency chart.
//!
//! `PICKET_SCREENSHOT_DIR=DIR` keeps the screenshots there (README's
//! `collector/docs/status-page.png` comes from it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use picket_e2e::target::Target;
use picket_e2e::{Agent, Collector, Config, Service};
use tokio::process::Command;

use crate::common::{EQUIPMENT, EQUIPMENT_NAME, is_down_with_request, open_request};

/// The browser, found on the PATH.
fn chromium() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    anyhow::bail!(
        "chromium not found on PATH: install Debian's package (apt-get install -y chromium), \
         as .ci/run does"
    )
}

/// Runs headless Chromium on `url` with `args` (a private profile in
/// `dir`); returns its stdout.
async fn browse(dir: &Path, url: &str, args: &[&str]) -> anyhow::Result<String> {
    let profile = dir.join("chromium-profile");
    let mut command = Command::new(chromium()?);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .map_err(|_| anyhow::anyhow!("chromium did not finish on {url} within 90 s"))??;
    anyhow::ensure!(
        out.status.success(),
        "chromium failed on {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Screenshots `url` at `size` into `png` and checks it is a PNG.
async fn screenshot(dir: &Path, url: &str, size: &str, png: &Path) -> anyhow::Result<()> {
    browse(
        dir,
        url,
        &[
            &format!("--window-size={size}"),
            &format!("--screenshot={}", png.display()),
        ],
    )
    .await?;
    let bytes = std::fs::read(png)?;
    anyhow::ensure!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
        "{} is not a rendered PNG ({} bytes)",
        png.display(),
        bytes.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_status_and_service_pages() -> anyhow::Result<()> {
    let up = Target::http().await;
    let down = Target::http().await;
    down.set_status(503);
    let config = Config::fast()
        .equipment(EQUIPMENT, EQUIPMENT_NAME)
        .service(Service::new("shop", EQUIPMENT, &up.url()))
        .service(Service::new("api", EQUIPMENT, &down.url()))
        .service(Service::new("archive", EQUIPMENT, &up.url()).set("active", false));
    let c = Collector::start(config).await?;
    let _agent = Agent::start(&c, "eu", "edge-1", None, &[])?;
    c.wait_agent_live("edge-1").await?;
    c.wait_state("shop", "up").await?;
    c.wait_state("archive", "paused").await?;
    let api = c
        .wait_service("api", "down with an open request", is_down_with_request)
        .await?;
    let request = open_request(&api);

    let dir = tempfile::tempdir()?;
    let base = c.http_url();
    let index_png = dir.path().join("status-page.png");
    screenshot(dir.path(), &format!("{base}/"), "1280,720", &index_png).await?;
    let service_png = dir.path().join("service-page.png");
    screenshot(
        dir.path(),
        &format!("{base}/services/shop"),
        "1280,1200",
        &service_png,
    )
    .await?;
    if let Some(keep) = std::env::var_os("PICKET_SCREENSHOT_DIR") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep)?;
        std::fs::copy(&index_png, keep.join("status-page.png"))?;
        std::fs::copy(&service_png, keep.join("service-page.png"))?;
    }

    let dom = browse(dir.path(), &format!("{base}/"), &["--dump-dom"]).await?;
    assert!(dom.contains("<html lang=\"en\">"), "{dom}");
    for (id, word) in [("shop", "Up"), ("api", "Down"), ("archive", "Paused")] {
        let row = dom
            .find(&format!("<a href=\"/services/{id}\">"))
            .map(|at| &dom[at..])
            .unwrap_or_else(|| panic!("no row for {id} in {dom}"));
        let row = &row[..row.find("</tr>").unwrap_or(row.len())];
        assert!(
            row.contains(&format!(">{word}</span>")),
            "{id} is not {word}: {row}"
        );
    }
    assert!(dom.contains(&format!("<a href=\"/requests/{request}\">#{request}</a>")));
    assert_eq!(
        dom.matches("<svg class=\"bars\"").count(),
        3,
        "one bar chart per service"
    );

    let dom = browse(
        dir.path(),
        &format!("{base}/services/shop"),
        &["--dump-dom"],
    )
    .await?;
    assert!(dom.contains("<h1>Service shop</h1>"), "{dom}");
    assert!(
        dom.contains("<th scope=\"row\">edge-1</th>"),
        "the agent's latest result"
    );
    assert!(dom.contains("<polyline class=\"p50\""), "the latency line");
    assert!(dom.contains("Over the last 24 hours: median latency"));
    Ok(())
}
