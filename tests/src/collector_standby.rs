//! Collectors that do not lead (yet): started without waiting for `/readyz`
//! 200, paused and resumed, waited on until they exit, and `/readyz` (or
//! any page) read with its body (`standby; leader is URL`).

use std::net::SocketAddr;
use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;

use super::{Collector, READY_WITHIN};
use crate::config::Config;

impl Collector {
    /// Starts a collector on `config` and waits only until it has bound its
    /// listeners (a standby never answers `/readyz` with 200).
    pub async fn start_unready(config: Config) -> anyhow::Result<Collector> {
        let mut collector = Collector::prepare(&config.render())?;
        collector.spawn()?;
        collector
            .wait_bound(std::time::Instant::now() + READY_WITHIN)
            .await?;
        Ok(collector)
    }

    /// `GET /readyz`: status code and body.
    pub async fn readyz(&self) -> anyhow::Result<(u16, String)> {
        http_get(self.listen.http, "/readyz").await
    }

    /// `GET PATH` on the HTTP listener: status code and body.
    pub async fn http_page(&self, path: &str) -> anyhow::Result<(u16, String)> {
        http_get(self.listen.http, path).await
    }

    /// Sends `SIGSTOP` (`pause`) or `SIGCONT` to the process.
    pub fn signal(&self, sig: &str) -> anyhow::Result<()> {
        let pid = self.pid().context("collector is not running")?;
        let status = std::process::Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -{sig} {pid} failed: {status}");
        Ok(())
    }

    /// Waits until the process exits by itself, at most `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "collector still running after {within:?}\n{}",
                self.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `GET PATH` over HTTP/1.1 on `addr`: status code and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await?;
        let text = String::from_utf8_lossy(&all).into_owned();
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .with_context(|| format!("not an HTTP response: {text:?}"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        Ok::<_, anyhow::Error>((code, body))
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| anyhow::anyhow!("GET {path}: no answer within 2s"))?
}
