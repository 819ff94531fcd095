//! The harness's configuration reloads: rewrite `picket.toml` while the
//! collector runs, call `Reload` (with the test's admin token or another),
//! read a metric, and reach the API with any token.

use std::net::SocketAddr;
use std::path::Path;

use picket_proto::v1 as api;
use picket_proto::v1::picket_client::PicketClient;
use tonic::transport::Channel;

use super::Harness;
use crate::config::{Config, Placeholders};
use crate::{ADMIN_TOKEN, ENROLLMENT_TOKEN};

/// The placeholders of a harness in `dir` on `database` serving on these
/// addresses.
pub(super) fn placeholders(
    dir: &Path,
    database: &str,
    grpc: SocketAddr,
    http: SocketAddr,
) -> Placeholders {
    Placeholders {
        grpc_listen: grpc.to_string(),
        http_listen: http.to_string(),
        database: database.to_owned(),
        public_url: format!("http://{http}"),
        admin_token: ADMIN_TOKEN.into(),
        enrollment_token: ENROLLMENT_TOKEN.into(),
        dir: dir.display().to_string(),
    }
}

/// `msg` with `authorization: Bearer {token}`.
pub fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(msg);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

impl Harness {
    /// Rewrites `picket.toml` from `config` (placeholders filled as at the
    /// start); the collector reads it at the next reload (and restart).
    pub fn rewrite(&mut self, config: &Config) -> anyhow::Result<()> {
        let p = placeholders(
            self.dir.path(),
            &self.database.url,
            self.grpc_addr(),
            self.http_addr(),
        );
        self.config_text = p.fill(&config.render());
        std::fs::write(&self.config_path, &self.config_text)?;
        Ok(())
    }

    /// Writes `text` as `picket.toml` verbatim (a bad file, say); a restart
    /// keeps the last file [`Harness::rewrite`] wrote.
    pub fn rewrite_text(&self, text: &str) -> anyhow::Result<()> {
        Ok(std::fs::write(&self.config_path, text)?)
    }

    /// The path of `picket.toml`.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// `Reload` with the test's admin token.
    pub async fn reload(&self) -> anyhow::Result<api::ReloadResponse> {
        self.reload_as(ADMIN_TOKEN).await
    }

    /// `Reload` with `token`.
    pub async fn reload_as(&self, token: &str) -> anyhow::Result<api::ReloadResponse> {
        let request = with_token(api::ReloadRequest {}, token);
        Ok(self.client.clone().reload(request).await?.into_inner())
    }

    /// A client of the collector's API (no token: see [`with_token`]).
    pub fn client(&self) -> PicketClient<Channel> {
        self.client.clone()
    }

    /// The value of the metric line starting with `series` (name and
    /// labels as `/metrics` writes them), if there is one.
    pub async fn metric(&self, series: &str) -> anyhow::Result<Option<f64>> {
        let text = self.metrics().await?;
        Ok(text.lines().find_map(|line| {
            let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
            rest.trim().parse().ok()
        }))
    }
}
