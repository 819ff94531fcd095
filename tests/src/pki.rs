//! Certificates for TLS on the collector's listeners, made with rcgen in
//! the test: a [`Pki`] is one CA with files in its own temp dir, and
//! [`TlsClient`] is what a client (picketctl, an agent, the harness's
//! readiness probe) trusts and presents. [`crate::Collector::sighup`]
//! asks a collector to re-read its TLS files.

use std::path::PathBuf;

use anyhow::Context as _;
use rcgen::ExtendedKeyUsagePurpose;

use crate::target::TestCa;

/// One CA and the files it issued, in a temp dir.
pub struct Pki {
    dir: tempfile::TempDir,
    ca: TestCa,
    /// The CA certificate (`--ca-cert`, `client_ca`).
    pub ca_pem: PathBuf,
}

impl Pki {
    /// A new CA; `name` prefixes its files.
    pub fn new(name: &str) -> anyhow::Result<Pki> {
        let dir = crate::temp_dir(&format!("picket-e2e-pki-{name}-"))?;
        let ca = TestCa::named(&format!("Picket Test CA {name}"));
        let ca_pem = dir.path().join(format!("{name}-ca.pem"));
        std::fs::write(&ca_pem, &ca.cert_pem)?;
        Ok(Pki { dir, ca, ca_pem })
    }

    /// A server certificate for `127.0.0.1` and `localhost`:
    /// `(cert, key)` paths named `STEM.crt`, `STEM.key`.
    pub fn server(&self, stem: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
        let pem = self.ca.leaf_pem(
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
            false,
        );
        self.write(stem, pem)
    }

    /// A client certificate (expired since 2001 when `expired`).
    pub fn client(&self, stem: &str, expired: bool) -> anyhow::Result<(PathBuf, PathBuf)> {
        let pem = self.ca.leaf_pem(
            &["picket-client"],
            ExtendedKeyUsagePurpose::ClientAuth,
            expired,
        );
        self.write(stem, pem)
    }

    fn write(
        &self,
        stem: &str,
        (cert, key): (String, String),
    ) -> anyhow::Result<(PathBuf, PathBuf)> {
        let cert_path = self.dir.path().join(format!("{stem}.crt"));
        let key_path = self.dir.path().join(format!("{stem}.key"));
        std::fs::write(&cert_path, cert)?;
        std::fs::write(&key_path, key)?;
        Ok((cert_path, key_path))
    }
}

/// What a client of a TLS collector trusts and presents.
#[derive(Debug, Clone)]
pub struct TlsClient {
    /// `--ca-cert`.
    pub ca: PathBuf,
    /// `--client-cert`, `--client-key`.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl TlsClient {
    /// The flags picketctl and the agent take for this.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["--ca-cert".to_owned(), self.ca.display().to_string()];
        if let Some((cert, key)) = &self.client {
            args.extend([
                "--client-cert".to_owned(),
                cert.display().to_string(),
                "--client-key".to_owned(),
                key.display().to_string(),
            ]);
        }
        args
    }
}

impl crate::Collector {
    /// Sends SIGHUP (a reload request: the TLS files are re-read).
    pub fn sighup(&self) -> anyhow::Result<()> {
        let pid = self.pid().context("collector is not running")?;
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -HUP {pid} failed: {status}");
        Ok(())
    }
}
