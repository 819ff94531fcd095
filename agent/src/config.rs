//! The agent's command line and its validated form.
//!
//! `Cli` is what clap parses (flags with `PICKET_*` environment fallbacks);
//! `AgentConfig::from_cli` checks it and loads the files it names. Nothing
//! here talks to the network or keeps state.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use picket_proto::contract::collectors;
pub use picket_proto::contract::collectors::is_https;
use picket_tls::ClientIdentity;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Default bound on buffered, unacknowledged results.
pub const DEFAULT_BUFFER_SIZE: usize = 100_000;

/// `picket-agent`: probes the HTTP(S) checks its collector assigns and
/// streams the results back.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "picket-agent", version = picket_proto::build::VERSION, about)]
pub struct Cli {
    /// Collector gRPC URL, e.g. http://127.0.0.1:7070 or https://collector:7070;
    /// several (a comma list or the flag repeated) are tried in order, and
    /// the agent follows a standby's "leader is URL" to the leader
    #[arg(
        long,
        env = "PICKET_COLLECTOR",
        value_name = "URL[,URL...]",
        required = true
    )]
    pub collector: Vec<String>,

    /// Enrollment token for the first contact
    #[arg(
        long,
        env = "PICKET_ENROLLMENT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub enrollment_token: String,

    /// Region this agent probes from
    #[arg(long, env = "PICKET_REGION", value_name = "NAME")]
    pub region: String,

    /// Human-readable name (default: the host name)
    #[arg(long, env = "PICKET_NAME", value_name = "NAME")]
    pub name: Option<String>,

    /// Labels, as k=v,k2=v2
    #[arg(long, env = "PICKET_LABELS", value_name = "K=V,...")]
    pub labels: Option<String>,

    /// Directory holding the agent's identity file
    #[arg(
        long,
        env = "PICKET_STATE_DIR",
        value_name = "DIR",
        default_value = "/var/lib/picket-agent"
    )]
    pub state_dir: PathBuf,

    /// Local address for outgoing probe connections
    #[arg(long, env = "PICKET_SOURCE_ADDRESS", value_name = "IP")]
    pub source_address: Option<IpAddr>,

    /// Extra trusted root certificate(s), PEM (added to the system roots)
    #[arg(long, env = "PICKET_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Client certificate chain (PEM) presented to an https collector
    #[arg(
        long,
        env = "PICKET_CLIENT_CERT",
        value_name = "FILE",
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,

    /// Private key of --client-cert (PEM: PKCS#8, SEC1 or PKCS#1)
    #[arg(
        long,
        env = "PICKET_CLIENT_KEY",
        value_name = "FILE",
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,

    /// Most unacknowledged results kept while the collector is away
    #[arg(long, env = "PICKET_BUFFER_SIZE", value_name = "N", default_value_t = DEFAULT_BUFFER_SIZE)]
    pub buffer_size: usize,

    /// Log filter, e.g. `info` or `picket_agent=debug`
    #[arg(
        long,
        env = "PICKET_LOG",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub log_level: String,
}

/// A refused configuration: which flag and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A client certificate without an https collector.
    #[error("--client-cert needs https:// --collector URLs ({0} is not)")]
    ClientCertWithoutTls(String),
    /// The client certificate or key cannot be used.
    #[error("--client-cert/--client-key: {0}")]
    ClientCert(#[from] picket_tls::client::ClientTlsError),
    /// An element of `--collector` is empty or not http(s)://host:port.
    #[error("--collector {0}")]
    BadCollector(#[from] picket_proto::contract::collectors::BadUrl),
    /// A label is not `k=v`.
    #[error("--labels: {0:?} is not k=v")]
    BadLabel(String),
    /// A required text flag is empty.
    #[error("--{0} must not be empty")]
    Empty(&'static str),
    /// The buffer size is zero.
    #[error("--buffer-size must be at least 1")]
    ZeroBuffer,
    /// The CA file cannot be read or holds no certificate.
    #[error("--ca-cert {}: {reason}", path.display())]
    CaCert {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
}

/// Validated agent settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Collector URLs (http://… or https://…), tried in this order.
    pub collectors: Vec<String>,
    /// Enrollment token, always sent in Hello.
    pub enrollment_token: String,
    /// Region name.
    pub region: String,
    /// Agent name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Directory holding `agent.json`.
    pub state_dir: PathBuf,
    /// Local address for probe connections.
    pub source_address: Option<IpAddr>,
    /// Extra trusted roots for probes and the link.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The client certificate presented to an https collector.
    pub client_identity: Option<ClientIdentity>,
    /// Bound on buffered results.
    pub buffer_size: usize,
}

impl AgentConfig {
    /// Validates the command line and loads the CA file it names.
    pub fn from_cli(cli: Cli) -> Result<AgentConfig, ConfigError> {
        let collectors = collectors::parse_urls(&cli.collector)?;
        if cli.enrollment_token.is_empty() {
            return Err(ConfigError::Empty("enrollment-token"));
        }
        if cli.region.trim().is_empty() {
            return Err(ConfigError::Empty("region"));
        }
        let name = match cli.name {
            Some(n) if n.trim().is_empty() => return Err(ConfigError::Empty("name")),
            Some(n) => n,
            None => hostname(),
        };
        let labels = parse_labels(cli.labels.as_deref().unwrap_or(""))?;
        if cli.buffer_size == 0 {
            return Err(ConfigError::ZeroBuffer);
        }
        let extra_roots = match &cli.ca_cert {
            Some(path) => load_roots(path)?,
            None => Vec::new(),
        };
        let client_identity = match (&cli.client_cert, &cli.client_key) {
            (Some(_), _) if let Some(http) = collectors.iter().find(|u| !is_https(u)) => {
                return Err(ConfigError::ClientCertWithoutTls(http.clone()));
            }
            (Some(cert), Some(key)) => Some(ClientIdentity::load(cert, key)?),
            _ => None,
        };
        Ok(AgentConfig {
            collectors,
            enrollment_token: cli.enrollment_token,
            region: cli.region,
            name,
            labels,
            state_dir: cli.state_dir,
            source_address: cli.source_address,
            extra_roots,
            client_identity,
            buffer_size: cli.buffer_size,
        })
    }
}

/// Parses `k=v,k2=v2` (empty → no labels).
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut labels = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                labels.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            _ => return Err(ConfigError::BadLabel(item.to_owned())),
        }
    }
    Ok(labels)
}

fn load_roots(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let err = |reason: String| ConfigError::CaCert {
        path: path.to_owned(),
        reason,
    };
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate found".to_owned()));
    }
    Ok(certs)
}

/// The host name from the kernel, else `agent`.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "agent".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
        let base = [
            "picket-agent",
            "--collector",
            "http://127.0.0.1:7070",
            "--enrollment-token",
            "t",
            "--region",
            "eu",
        ];
        Cli::try_parse_from(base.iter().chain(args.iter()))
    }

    #[test]
    fn labels_parse() {
        fn check(text: &str, expected: Result<&[(&str, &str)], ()>) {
            let got = parse_labels(text).map_err(|_| ());
            let expected = expected.map(|pairs| {
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()
            });
            assert_eq!(got, expected, "{text:?}");
        }
        check("", Ok(&[]));
        check("a=1", Ok(&[("a", "1")]));
        check("a=1, b = 2 ,", Ok(&[("a", "1"), ("b", "2")]));
        check("a=", Ok(&[("a", "")]));
        check("a", Err(()));
        check("=1", Err(()));
    }

    #[test]
    fn defaults_and_validation() {
        let c = AgentConfig::from_cli(cli(&["--name", "edge-1"]).unwrap()).unwrap();
        assert_eq!(c.name, "edge-1");
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/picket-agent"));
        assert_eq!(c.buffer_size, DEFAULT_BUFFER_SIZE);
        assert!(c.labels.is_empty());

        let c = AgentConfig::from_cli(cli(&[]).unwrap()).unwrap();
        assert!(!c.name.is_empty());

        let https = Cli {
            collector: vec!["https://c:7070".into()],
            ..cli(&[]).unwrap()
        };
        assert_eq!(
            AgentConfig::from_cli(https).unwrap().collectors,
            ["https://c:7070"]
        );
        let cert_over_http = cli(&["--client-cert", "c.pem", "--client-key", "k.pem"]).unwrap();
        assert!(matches!(
            AgentConfig::from_cli(cert_over_http),
            Err(ConfigError::ClientCertWithoutTls(_))
        ));
        assert!(
            cli(&["--client-cert", "c.pem"]).is_err(),
            "a cert needs its key"
        );

        let ftp = Cli {
            collector: vec!["ftp://c".into()],
            ..cli(&[]).unwrap()
        };
        assert!(AgentConfig::from_cli(ftp).is_err());
        assert!(cli(&["--source-address", "not-an-ip"]).is_err());
    }

    #[test]
    fn ca_cert_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not pem").unwrap();
        let c = Cli {
            ca_cert: Some(path.clone()),
            ..cli(&[]).unwrap()
        };
        let err = AgentConfig::from_cli(c).unwrap_err().to_string();
        assert!(err.contains("ca.pem"), "{err}");
    }

    #[test]
    fn collector_lists_and_their_errors() {
        let c = cli(&[
            "--collector",
            "http://b:2,http://c:3",
            "--collector",
            "http://d:4",
        ])
        .unwrap();
        // The base's URL comes first, then the list, then the repeat.
        let got = AgentConfig::from_cli(c).unwrap().collectors;
        assert_eq!(
            got,
            [
                "http://127.0.0.1:7070",
                "http://b:2",
                "http://c:3",
                "http://d:4"
            ]
        );

        let err = |value: &str| {
            let c = Cli {
                collector: vec![value.to_owned()],
                ..cli(&[]).unwrap()
            };
            AgentConfig::from_cli(c).unwrap_err().to_string()
        };
        assert_eq!(
            err("http://a:1,,http://b:2"),
            "--collector \"\": empty element"
        );
        assert_eq!(
            err("http://a:1,nope"),
            "--collector \"nope\": expected an http:// or https:// URL"
        );
        let mixed = Cli {
            collector: vec!["https://a:1,http://b:2".into()],
            ..cli(&["--client-cert", "c.pem", "--client-key", "k.pem"]).unwrap()
        };
        let text = AgentConfig::from_cli(mixed).unwrap_err().to_string();
        assert!(text.contains("http://b:2 is not"), "{text}");
    }
}
