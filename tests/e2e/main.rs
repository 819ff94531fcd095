//! End-to-end tests: the real `picket-collector`, `picket-agent` and
//! `picketctl` binaries against real loopback targets, one module per theme.
//!
//! Build the binaries first: `cargo build --workspace --bins`.
//! `PICKET_E2E_KEEP=1` keeps each test's temp dirs (config, database, logs).

mod agent_mute;
mod agents;
mod checkins;
mod cli;
mod collector_urls;
mod config;
mod deploy;
mod error_kinds;
mod failover;
mod leadership;
mod manual;
mod mute;
mod reload;
mod restart;
mod root_cause;
mod secrets;
mod status_page;
mod tls;
mod webhooks;

/// Fixtures shared by the themes: one equipment, one service, one agent.
mod common {
    use picket_e2e::{Agent, Collector, Config, Service, parse_time};
    use serde_json::Value;

    pub const EQUIPMENT: &str = "web-1";
    pub const EQUIPMENT_NAME: &str = "Web server 1";
    pub const SERVICE: &str = "shop";
    pub const AGENT: &str = "edge-1";

    /// Fast config with one equipment and one service `shop` on `url`.
    pub fn one_service(url: &str) -> Config {
        Config::fast()
            .equipment(EQUIPMENT, EQUIPMENT_NAME)
            .service(Service::new(SERVICE, EQUIPMENT, url))
    }

    /// Starts a collector on `config` and one agent (`extra` flags), and
    /// waits until the agent is active and live.
    pub async fn start(config: Config, extra: &[&str]) -> anyhow::Result<(Collector, Agent)> {
        let collector = Collector::start(config).await?;
        let agent = Agent::start(&collector, "eu", AGENT, None, extra)?;
        collector.wait_agent_live(AGENT).await?;
        Ok((collector, agent))
    }

    /// Whether the service is `down` with an open request.
    pub fn is_down_with_request(service: &Value) -> bool {
        service["state"] == "down" && service["open_request"].is_i64()
    }

    /// The `open_request` of a service, which must be an integer.
    pub fn open_request(service: &Value) -> i64 {
        service["open_request"]
            .as_i64()
            .unwrap_or_else(|| panic!("open_request is not an integer in {service}"))
    }

    /// Asserts the fields every open `[HTTP KO]` request of `shop` has.
    pub fn assert_open_http_ko(request: &Value, url: &str, label: &str) {
        assert!(request["id"].is_i64(), "id is not an integer: {request}");
        assert_eq!(request["name"], format!("[HTTP KO] {url}"), "{request}");
        assert_eq!(request["kind"], "corrective", "{request}");
        assert_eq!(
            request["priority"], "2",
            "priority must be the string \"2\": {request}"
        );
        assert_eq!(request["stage"], "open", "{request}");
        assert_eq!(request["service"], SERVICE, "{request}");
        assert_eq!(request["equipment"], EQUIPMENT, "{request}");
        assert_starts_with(&request["description"], label, "description", request);
        assert!(
            parse_time(&request["opened_at"]).is_some(),
            "opened_at is not RFC 3339: {request}"
        );
        assert!(
            request["closed_at"].is_null(),
            "closed_at of an open request: {request}"
        );
        assert!(
            request["close_reason"].is_null(),
            "close_reason of an open request: {request}"
        );
    }

    /// Asserts that `value` is a string starting with `prefix`.
    pub fn assert_starts_with(value: &Value, prefix: &str, field: &str, whole: &Value) {
        let text = value
            .as_str()
            .unwrap_or_else(|| panic!("{field} is not a string in {whole}"));
        assert!(
            text.starts_with(prefix),
            "{field} {text:?} does not start with {prefix:?} in {whole}"
        );
    }
}
