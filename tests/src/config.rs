//! [`Config`]: a small builder for the collector's `picket.toml`.
//!
//! It renders a TOML *template*: the `[collector]` section uses the
//! placeholders below, which [`crate::Collector`] fills with the ports, paths
//! and tokens of the test. Tests that need exact text (bad configs, line
//! numbers) write a template by hand with the same placeholders.
//!
//! | placeholder          | replaced by                                 |
//! | -------------------- | ------------------------------------------- |
//! | `{grpc_listen}`      | `127.0.0.1:PORT` of the gRPC listener       |
//! | `{http_listen}`      | `127.0.0.1:PORT` of the HTTP listener       |
//! | `{database}`         | `sqlite:///ABS/DIR/picket.db`               |
//! | `{public_url}`       | `http://` + `{http_listen}`                 |
//! | `{admin_token}`      | [`crate::ADMIN_TOKEN`]                      |
//! | `{enrollment_token}` | [`crate::ENROLLMENT_TOKEN`]                 |
//! | `{dir}`              | the collector's temp dir                    |
//!
//! `PORT` is 0 at the first start: the collector binds free ports, gives a
//! `public_url` naming port 0 the HTTP port it got, and reports both ports
//! ([`crate::ports`]); restarts name those ports. [`Config::fast`] leaves
//! `public_url` out: the collector's default names the HTTP listener.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::pki::TlsClient;

/// A TOML value as it is written in the file.
pub trait ToToml {
    fn to_toml(&self) -> String;
}

/// A value written verbatim (arrays of tables, inline tables, …).
#[derive(Debug, Clone)]
pub struct Raw(pub String);

impl ToToml for Raw {
    fn to_toml(&self) -> String {
        self.0.clone()
    }
}

impl ToToml for &str {
    fn to_toml(&self) -> String {
        // A JSON string is a valid TOML basic string (same escapes).
        serde_json::Value::from(*self).to_string()
    }
}

impl ToToml for String {
    fn to_toml(&self) -> String {
        self.as_str().to_toml()
    }
}

impl ToToml for bool {
    fn to_toml(&self) -> String {
        self.to_string()
    }
}

macro_rules! int_to_toml {
    ($($t:ty),*) => {$(
        impl ToToml for $t {
            fn to_toml(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_to_toml!(i32, i64, u16, u32, u64, usize);

impl ToToml for &[&str] {
    fn to_toml(&self) -> String {
        let items: Vec<String> = self.iter().map(|s| s.to_toml()).collect();
        format!("[{}]", items.join(", "))
    }
}

impl<const N: usize> ToToml for [&str; N] {
    fn to_toml(&self) -> String {
        self.as_slice().to_toml()
    }
}

impl ToToml for &[u16] {
    fn to_toml(&self) -> String {
        let items: Vec<String> = self.iter().map(u16::to_string).collect();
        format!("[{}]", items.join(", "))
    }
}

/// `{ user = "…", password = "…" }`
pub fn basic_auth(user: &str, password: &str) -> Raw {
    Raw(format!(
        "{{ user = {}, password = {} }}",
        user.to_toml(),
        password.to_toml()
    ))
}

/// Ordered `key = value` lines of one table; setting a key again replaces it.
#[derive(Debug, Clone, Default)]
struct Table(Vec<(String, String)>);

impl Table {
    fn set(&mut self, key: &str, value: &dyn ToToml) {
        let value = value.to_toml();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    fn render(&self, out: &mut String) {
        for (key, value) in &self.0 {
            let _ = writeln!(out, "{key} = {value}");
        }
    }
}

/// One `[[services]]` entry.
#[derive(Debug, Clone)]
pub struct Service {
    table: Table,
}

impl Service {
    /// A service with its id, equipment id and URL; everything else is
    /// inherited from `[defaults]` unless [`Service::set`].
    pub fn new(id: &str, equipment: &str, url: &str) -> Service {
        let mut table = Table::default();
        table.set("id", &id);
        table.set("equipment", &equipment);
        table.set("url", &url);
        Service { table }
    }

    /// Sets any service key (`interval`, `timeout`, `path`, `priority`, …).
    pub fn set(mut self, key: &str, value: impl ToToml) -> Service {
        self.table.set(key, &value);
        self
    }
}

/// One `[[webhooks]]` entry.
#[derive(Debug, Clone)]
pub struct Webhook {
    table: Table,
}

impl Webhook {
    pub fn new(name: &str, url: &str) -> Webhook {
        let mut table = Table::default();
        table.set("name", &name);
        table.set("url", &url);
        Webhook { table }
    }

    pub fn events(self, events: &[&str]) -> Webhook {
        self.set("events", events)
    }

    pub fn basic_auth(self, user: &str, password: &str) -> Webhook {
        self.set("basic_auth", basic_auth(user, password))
    }

    /// Sets any webhook key (`secret`, `timeout`, `retry_initial`, …).
    pub fn set(mut self, key: &str, value: impl ToToml) -> Webhook {
        self.table.set(key, &value);
        self
    }
}

/// The collector configuration of one test.
#[derive(Debug, Clone)]
pub struct Config {
    collector: Table,
    agents: Table,
    defaults: Table,
    maintenance: Table,
    equipment: Vec<(String, String)>,
    services: Vec<Service>,
    webhooks: Vec<Webhook>,
    raw: String,
    /// How the harness's own clients reach a TLS collector ([`Config::tls`]).
    tls: Option<HarnessTls>,
}

/// How the harness's own clients (picketctl, the readiness probe) reach a
/// collector with TLS.
#[derive(Debug, Clone)]
pub struct HarnessTls {
    /// What picketctl trusts and presents on `grpc_listen`.
    pub client: TlsClient,
    /// Whether `http_listen` serves TLS too (`http_tls`).
    pub http: bool,
}

impl Config {
    /// Defaults that make tests fast: agents approved automatically and
    /// heartbeating every second; checks every second with a 1 s timeout and
    /// a 1 s recheck delay; plain HTTP kept as HTTP.
    pub fn fast() -> Config {
        let mut collector = Table::default();
        collector.set("grpc_listen", &"{grpc_listen}");
        collector.set("http_listen", &"{http_listen}");
        collector.set("database", &"{database}");
        collector.set("admin_token", &"{admin_token}");
        let mut agents = Table::default();
        agents.set("enrollment_token", &"{enrollment_token}");
        agents.set("auto_approve", &true);
        agents.set("heartbeat_interval", &"1s");
        let mut defaults = Table::default();
        defaults.set("interval", &"1s");
        defaults.set("timeout", &"1s");
        defaults.set("recheck_delay", &"1s");
        defaults.set("upgrade_to_https", &false);
        Config {
            collector,
            agents,
            defaults,
            maintenance: Table::default(),
            equipment: Vec::new(),
            services: Vec::new(),
            webhooks: Vec::new(),
            raw: String::new(),
            tls: None,
        }
    }

    /// Sets a `[collector]` key.
    pub fn collector(mut self, key: &str, value: impl ToToml) -> Config {
        self.collector.set(key, &value);
        self
    }

    /// Sets an `[agents]` key.
    pub fn agents(mut self, key: &str, value: impl ToToml) -> Config {
        self.agents.set(key, &value);
        self
    }

    /// Sets a `[defaults]` key.
    pub fn defaults(mut self, key: &str, value: impl ToToml) -> Config {
        self.defaults.set(key, &value);
        self
    }

    /// Sets a `[maintenance]` key.
    pub fn maintenance(mut self, key: &str, value: impl ToToml) -> Config {
        self.maintenance.set(key, &value);
        self
    }

    /// Adds an `[[equipment]]` entry.
    pub fn equipment(mut self, id: &str, name: &str) -> Config {
        self.equipment.push((id.to_owned(), name.to_owned()));
        self
    }

    pub fn service(mut self, service: Service) -> Config {
        self.services.push(service);
        self
    }

    pub fn webhook(mut self, webhook: Webhook) -> Config {
        self.webhooks.push(webhook);
        self
    }

    /// TLS on the listeners: `tls_cert` and `tls_key` from `server`,
    /// `client_ca` when given (mutual TLS), `http_tls`; `client` is what the
    /// harness's picketctl trusts and presents.
    pub fn tls(
        mut self,
        server: &(PathBuf, PathBuf),
        client_ca: Option<&Path>,
        http_tls: bool,
        client: TlsClient,
    ) -> Config {
        let path = |p: &Path| p.display().to_string();
        self.collector.set("tls_cert", &path(&server.0));
        self.collector.set("tls_key", &path(&server.1));
        if let Some(ca) = client_ca {
            self.collector.set("client_ca", &path(ca));
        }
        if http_tls {
            self.collector.set("http_tls", &true);
        }
        self.tls = Some(HarnessTls {
            client,
            http: http_tls,
        });
        self
    }

    /// What [`Config::tls`] set for the harness's clients.
    pub fn harness_tls(&self) -> Option<&HarnessTls> {
        self.tls.as_ref()
    }

    /// Appends TOML text verbatim at the end of the file.
    pub fn raw(mut self, toml: &str) -> Config {
        self.raw.push_str(toml);
        if !self.raw.ends_with('\n') {
            self.raw.push('\n');
        }
        self
    }

    /// The TOML template, with the `{placeholders}` of the module docs.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, table) in [
            ("collector", &self.collector),
            ("agents", &self.agents),
            ("defaults", &self.defaults),
            ("maintenance", &self.maintenance),
        ] {
            if table.0.is_empty() {
                continue;
            }
            let _ = writeln!(out, "[{name}]");
            table.render(&mut out);
            out.push('\n');
        }
        for (id, name) in &self.equipment {
            let _ = writeln!(
                out,
                "[[equipment]]\nid = {}\nname = {}\n",
                id.as_str().to_toml(),
                name.as_str().to_toml()
            );
        }
        for service in &self.services {
            out.push_str("[[services]]\n");
            service.table.render(&mut out);
            out.push('\n');
        }
        for webhook in &self.webhooks {
            out.push_str("[[webhooks]]\n");
            webhook.table.render(&mut out);
            out.push('\n');
        }
        out.push_str(&self.raw);
        out
    }
}

/// Values substituted for the placeholders of a template.
#[derive(Debug, Clone)]
pub struct Placeholders {
    pub grpc_listen: String,
    pub http_listen: String,
    pub database: String,
    pub public_url: String,
    pub admin_token: String,
    pub enrollment_token: String,
    pub dir: String,
}

impl Placeholders {
    pub fn fill(&self, template: &str) -> String {
        template
            .replace("{grpc_listen}", &self.grpc_listen)
            .replace("{http_listen}", &self.http_listen)
            .replace("{database}", &self.database)
            .replace("{public_url}", &self.public_url)
            .replace("{admin_token}", &self.admin_token)
            .replace("{enrollment_token}", &self.enrollment_token)
            .replace("{dir}", &self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sections_services_and_overrides() {
        let text = Config::fast()
            .defaults("interval", "5s")
            .maintenance("default_duration", "1h")
            .equipment("web-1", "Web \"one\"")
            .service(Service::new("shop", "web-1", "http://x/").set("priority", "3"))
            .webhook(
                Webhook::new("ops", "http://h/")
                    .events(&["request.opened"])
                    .basic_auth("u", "p"),
            )
            .render();
        assert!(text.contains("interval = \"5s\"\n"), "{text}");
        assert!(!text.contains("\ninterval = \"1s\""), "{text}");
        assert!(
            text.contains("[maintenance]\ndefault_duration = \"1h\""),
            "{text}"
        );
        assert!(text.contains("name = \"Web \\\"one\\\"\""), "{text}");
        assert!(
            text.contains("[[services]]\nid = \"shop\"\nequipment = \"web-1\"\nurl = \"http://x/\"\npriority = \"3\"\n"),
            "{text}"
        );
        assert!(text.contains("events = [\"request.opened\"]"), "{text}");
        assert!(
            text.contains("basic_auth = { user = \"u\", password = \"p\" }"),
            "{text}"
        );
        assert!(text.contains("auto_approve = true"), "{text}");
    }

    #[test]
    fn fills_every_placeholder() {
        let p = Placeholders {
            grpc_listen: "127.0.0.1:1".into(),
            http_listen: "127.0.0.1:2".into(),
            database: "sqlite:///d/picket.db".into(),
            public_url: "http://127.0.0.1:2".into(),
            admin_token: "a".into(),
            enrollment_token: "e".into(),
            dir: "/d".into(),
        };
        let fast = Config::fast().render();
        assert!(!fast.contains("public_url"), "{fast}");
        let text = p.fill(
            &Config::fast()
                .collector("public_url", "{public_url}")
                .render(),
        );
        assert!(!text.contains('{'), "a placeholder is left in\n{text}");
        for needle in [
            "grpc_listen = \"127.0.0.1:1\"",
            "http_listen = \"127.0.0.1:2\"",
            "database = \"sqlite:///d/picket.db\"",
            "public_url = \"http://127.0.0.1:2\"",
            "admin_token = \"a\"",
            "enrollment_token = \"e\"",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
    }
}
