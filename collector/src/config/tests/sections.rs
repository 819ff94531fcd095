//! One table per section: a snippet, and the exact error it gives (or that
//! it is accepted). Each snippet is completed with the sections it does not
//! test, written after it, so its line numbers are its own.

use super::*;

const COLLECTOR: &str = "[collector]\ndatabase = \"sqlite://x.db\"\n";
const AGENTS: &str = "[agents]\nenrollment_token = \"t\"\n";
const EQUIPMENT: &str = "[[equipment]]\nid = \"e\"\n";

/// Parses `text` as `p.toml`: `Ok(config)` or the error as displayed.
fn parse_p(text: &str) -> Result<Config, String> {
    parse(Path::new("p.toml"), text).map_err(|e| e.to_string())
}

/// `expected` is `"ok"` or the whole error line.
fn check(text: &str, expected: &str) {
    let got = match parse_p(text) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e,
    };
    assert_eq!(got, expected, "config:\n{text}");
}

#[test]
fn collector_section() {
    let check =
        |collector: &str, expected| check(&format!("[collector]\n{collector}\n{AGENTS}"), expected);
    check("database = \"sqlite://x.db\"", "ok");
    check("database = \"postgres://db\"", "ok");
    check(
        "database = \"postgresql://u:p@127.0.0.1:5432/db?sslmode=require\"",
        "ok",
    );
    check(
        "database = \"mysql://db\"",
        "p.toml:2: database: \"mysql://db\" is not supported (use sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DATABASE)",
    );
    check(
        "database = \"sqlite://x.db\"\nhttp_listen = \"localhost\"",
        "p.toml:3: http_listen: \"localhost\" is not an address like 127.0.0.1:7070",
    );
    check(
        "database = \"sqlite://x.db\"\ngrpc_listen = \":7070\"",
        "p.toml:3: grpc_listen: \":7070\" is not an address like 127.0.0.1:7070",
    );
    check(
        "database = \"sqlite://x.db\"\npublic_url = \"http://\"",
        "p.toml:3: public_url: invalid URL \"http://\": empty host",
    );
    check(
        "database = \"sqlite://x.db\"\npublic_url = \"ws://picket\"",
        "p.toml:3: public_url: invalid URL \"ws://picket\": the scheme must be http or https",
    );
    check(
        "database = \"sqlite://x.db\"\nport = 1",
        "p.toml:3: unknown field `port`, expected one of `grpc_listen`, `http_listen`, `database`, `public_url`, `admin_token`, `read_token`, `allow_plaintext`, `tls_cert`, `tls_key`, `client_ca`, `http_tls`, `leader_lease`, `advertise_url`, `heartbeat_enrollment_token`",
    );
    check("", "p.toml:1: missing field `database`");
}

#[test]
fn collector_defaults() {
    let c = parse_p(&format!(
        "{COLLECTOR}http_listen = \"0.0.0.0:9000\"\nadmin_token = \"\"\n{AGENTS}"
    ))
    .expect("valid");
    assert_eq!(c.collector.grpc_listen.to_string(), "127.0.0.1:7070");
    assert_eq!(
        c.collector.public_url, "http://0.0.0.0:9000",
        "from http_listen"
    );
    assert_eq!(c.collector.admin_token, None, "an empty token is none");
    let c = parse_p(&format!(
        "{COLLECTOR}public_url = \"https://picket.example.com/base/\"\n{AGENTS}"
    ))
    .expect("valid");
    assert_eq!(
        c.collector.public_url, "https://picket.example.com/base",
        "no trailing slash"
    );
}

#[test]
fn agents_section() {
    let check =
        |agents: &str, expected| check(&format!("{COLLECTOR}[agents]\n{agents}\n"), expected);
    check("enrollment_token = \"t\"", "ok");
    check(
        "enrollment_token = \"\"",
        "p.toml:4: enrollment_token: must not be empty",
    );
    check(
        "auto_approve = true",
        "p.toml: agents.enrollment_token: is required",
    );
    check(
        "enrollment_token = \"t\"\nmissed_heartbeats = 0",
        "p.toml:5: missed_heartbeats: must be at least 1",
    );
    check(
        "enrollment_token = \"t\"\nagents_per_service = 0",
        "p.toml:5: agents_per_service: must be at least 1",
    );
    check(
        "enrollment_token = \"t\"\nheartbeat_interval = \"50ms\"",
        "p.toml: agents.heartbeat_interval: must be at least 100ms",
    );
    check(
        "enrollment_token = \"t\"\nheartbeat_interval = \"100ms\"",
        "ok",
    );
    check(
        "enrollment_token = \"t\"\nsettle_window = \"soon\"",
        "p.toml:5: settle_window: invalid duration \"soon\" (expected number at 0); write e.g. 1500ms, 2s, 10m, 4h, 1h30m",
    );
}

#[test]
fn agents_settle_window() {
    let settle = |agents: &str| {
        parse_p(&format!("{COLLECTOR}{AGENTS}{agents}\n")).map(|c| c.agents.settle_window)
    };
    assert_eq!(
        settle(""),
        Ok(Duration::from_secs(3 * 10 + 30)),
        "3 × 10s + backoff cap"
    );
    assert_eq!(
        settle("heartbeat_interval = \"1s\"\nmissed_heartbeats = 5"),
        Ok(Duration::from_secs(5 + 30))
    );
    assert_eq!(
        settle("settle_window = \"0s\""),
        Ok(Duration::ZERO),
        "explicit wins"
    );
}

#[test]
fn maintenance_section() {
    let check = |m: &str, expected| {
        check(
            &format!("{COLLECTOR}{AGENTS}[maintenance]\n{m}\n"),
            expected,
        )
    };
    check("", "ok");
    check("default_duration = \"30m\"", "ok");
    check(
        "default_duration = \"a while\"",
        "p.toml:6: default_duration: invalid duration \"a while\" (expected number at 0); write e.g. 1500ms, 2s, 10m, 4h, 1h30m",
    );
    check(
        "duration = \"1h\"",
        "p.toml:6: unknown field `duration`, expected `default_duration` or `windows`",
    );
}

#[test]
fn equipment_section() {
    let check = |e: &str, expected| check(&format!("{COLLECTOR}{AGENTS}{e}\n"), expected);
    check("[[equipment]]\nid = \"web-1.a_b\"", "ok");
    check(
        "[[equipment]]\nid = \"web 1\"",
        "p.toml:6: equipment id \"web 1\": use letters, digits, '-', '_' or '.'",
    );
    check(
        "[[equipment]]\nid = \"\"",
        "p.toml:6: equipment id \"\": use letters, digits, '-', '_' or '.'",
    );
    check(
        "[[equipment]]\nid = \"e\"\n[[equipment]]\nid = \"e\"",
        "p.toml:8: equipment id \"e\" is defined twice",
    );
    let c = parse_p(&format!("{COLLECTOR}{AGENTS}{EQUIPMENT}")).expect("valid");
    assert_eq!(
        c.equipment(&"e".into()).map(|e| e.name.as_str()),
        Some("e"),
        "name defaults to the id"
    );
}

/// A service `s` (after `id`, `equipment` and `url` lines 7–9) with
/// `[defaults]` `d` written after it.
fn service(s: &str, d: &str) -> String {
    service_at("http://s.example.com", s, d)
}

fn service_at(url: &str, s: &str, d: &str) -> String {
    format!(
        "{COLLECTOR}{AGENTS}{EQUIPMENT}[[services]]\nid = \"s\"\nequipment = \"e\"\nurl = \"{url}\"\n{s}\n[defaults]\n{d}\n"
    )
}

#[test]
fn services_section() {
    let check_s = |s: &str, expected| check(&service(s, ""), expected);
    check_s("", "ok");
    check_s(
        "timeout = \"0s\"",
        "p.toml:11: timeout: must be more than 0s",
    );
    check_s(
        "failures_before_down = 0",
        "p.toml:11: failures_before_down: must be at least 1",
    );
    check_s(
        "expected_status = []",
        "p.toml:11: expected_status: must list at least one status",
    );
    check_s(
        "expected_status = [200, 99]",
        "p.toml:11: expected_status: 99 is not an HTTP status",
    );
    check_s(
        "method = \"post\"",
        "p.toml:11: method: \"POST\" is not GET or HEAD",
    );
    check_s(
        "max_body = \"1GB\"",
        "p.toml:11: max_body: \"1GB\" is not a size like 1MiB",
    );
    check_s(
        "max_body = \"lots\"",
        "p.toml:11: max_body: \"lots\" is not a size like 1MiB",
    );
    check_s("quorum = \"all\"\npriority = 0", "ok");
    check_s(
        "priority = 4",
        "p.toml:11: priority: \"4\" is not \"0\" to \"3\"",
    );
    check_s(
        "[[services]]\nid = \"s\"\nequipment = \"e\"\nurl = \"http://t\"",
        "p.toml:12: service id \"s\" is defined twice (first at p.toml:8)",
    );
    check_s(
        "[[services]]\nid = \"t/u\"\nequipment = \"e\"\nurl = \"http://t\"",
        "p.toml:12: service id \"t/u\": use letters, digits, '-', '_' or '.'",
    );
    check(
        &format!(
            "{COLLECTOR}{AGENTS}[[services]]\nid = \"s\"\nequipment = \"e\"\nurl = \"http://x\"\n"
        ),
        "p.toml:7: service \"s\": unknown equipment \"e\" (add an [[equipment]] with that id)",
    );
    check(
        &format!("{COLLECTOR}{AGENTS}[[services]]\nid = \"s\"\nequipment = \"e\"\n"),
        "p.toml:5: missing field `url`",
    );
}

/// A bad `[defaults]` value is reported at its own line, when a service
/// inherits it; a service that sets the key itself does not.
#[test]
fn defaults_section() {
    let check_d = |s: &str, d: &str, expected| check(&service(s, d), expected);
    check_d(
        "",
        "interval = \"500ms\"",
        "p.toml:13: interval: must be at least 1s",
    );
    check_d("interval = \"5s\"", "interval = \"500ms\"", "ok");
    check_d(
        "",
        "priority = \"9\"",
        "p.toml:13: priority: \"9\" is not \"0\" to \"3\"",
    );
    check_d(
        "",
        "timeout = \"x\"",
        "p.toml:13: timeout: invalid duration \"x\" (expected number at 0); write e.g. 1500ms, 2s, 10m, 4h, 1h30m",
    );
    check_d(
        "",
        "active = false",
        "p.toml:13: unknown field `active`, expected one of `interval`, `timeout`, `recheck_delay`, `recheck_timeout`, `quorum`, `failures_before_down`, `upgrade_to_https`, `expected_status`, `method`, `path`, `headers`, `basic_auth`, `body_contains`, `follow_redirects`, `max_redirects`, `max_body`, `reuse_connections`, `regions`, `priority`, `cert_expiry_warning`, `degraded_after`, `remind_every`, `equipment_down_ratio`, `host_grouping_window`, `monitoring_down_ratio`",
    );
    check_d("", "equipment_down_ratio = 0.5", "ok");
    check_d(
        "",
        "equipment_down_ratio = 0",
        "p.toml:13: equipment_down_ratio: 0 is out of range: it must be more than 0 and at most 1",
    );
    check_d(
        "",
        "monitoring_down_ratio = 1.5",
        "p.toml:13: monitoring_down_ratio: 1.5 is out of range: it must be more than 0 and at most 1",
    );
    check_d(
        "",
        "host_grouping_window = \"0s\"",
        "p.toml:13: host_grouping_window: must be more than 0s",
    );
}

#[test]
fn ids_and_urls_have_a_bounded_length() {
    let long_url = format!("http://s.example.com/{}", "a".repeat(8200));
    check(
        &service_at(&long_url, "", ""),
        "p.toml:10: url: the URL is 8221 bytes long; at most 8192 are allowed",
    );
    let fits = format!("http://s.example.com/{}", "a".repeat(8192 - 21));
    check(&service_at(&fits, "", ""), "ok");
    let id = "s".repeat(129);
    check(
        &format!("{COLLECTOR}{AGENTS}[[equipment]]\nid = \"{id}\"\n"),
        &format!(
            "p.toml:6: equipment id \"{}\"…: at most 128 characters are allowed",
            "s".repeat(32)
        ),
    );
    check(
        &format!(
            "{COLLECTOR}{AGENTS}[[equipment]]\nid = \"{}\"\n",
            "s".repeat(128)
        ),
        "ok",
    );
}

#[test]
fn services_inherit_defaults_and_built_ins() {
    let svc = |s: &str, d: &str| parse_p(&service(s, d)).expect("valid").services[0].clone();
    let s = svc("", "");
    assert_eq!(s.check.url, "https://s.example.com/", "upgraded by default");
    assert_eq!((s.check.interval_ms, s.check.timeout_ms), (60_000, 10_000));
    assert_eq!(
        (s.recheck_delay, s.recheck_timeout),
        (Duration::from_secs(2), Duration::from_secs(12))
    );
    assert_eq!(
        (s.quorum, s.failures_before_down, s.priority.as_str()),
        (Quorum::Majority, 1, "2")
    );
    assert_eq!(
        (
            s.check.method.as_str(),
            s.check.max_redirects,
            s.check.max_body_bytes
        ),
        ("GET", 10, 1 << 20)
    );
    assert!(s.active && s.check.follow_redirects && !s.check.reuse_connections);

    let s = svc(
        "timeout = \"4s\"\nregions = [\"eu\"]",
        "timeout = \"1s\"\nregions = [\"us\"]\nmax_body = \"512KiB\"\nbody_contains = \"\"\nupgrade_to_https = false",
    );
    assert_eq!(s.check.timeout_ms, 4_000, "own key wins");
    assert_eq!(
        s.recheck_timeout,
        Duration::from_secs(6),
        "built-in follows the own timeout"
    );
    assert_eq!(s.regions, ["eu"]);
    assert_eq!(s.check.max_body_bytes, 512 * 1024, "from [defaults]");
    assert_eq!(s.check.body_contains, None, "empty is none");
    assert_eq!(s.check.url, "http://s.example.com/", "no upgrade");

    let text = service_at("http://s.example.com:80/api/", "path = \"/health\"", "");
    let s = parse_p(&text).expect("valid").services[0].clone();
    assert_eq!(
        s.check.url, "https://s.example.com/api/health",
        "port 80 dropped, path joined"
    );
    assert_eq!(
        s.url, "http://s.example.com:80/api/",
        "the URL as configured"
    );
}

#[test]
fn webhooks_section() {
    let check = |w: &str, expected| {
        check(
            &format!("{COLLECTOR}{AGENTS}[[webhooks]]\nname = \"w\"\n{w}\n"),
            expected,
        )
    };
    check("url = \"https://h.example.com/x\"", "ok");
    check(
        "url = \"h.example.com\"",
        "p.toml:7: url: invalid URL \"h.example.com\": relative URL without a base",
    );
    check(
        "url = \"https://h\"\nsecret = \"whsec_!!\"",
        "p.toml:8: secret: expected whsec_ followed by base64",
    );
    check("url = \"https://h\"\nretry_for = \"1 day\"", "ok");
    check(
        "url = \"https://h\"\nretry_for = \"forever\"",
        "p.toml:8: retry_for: invalid duration \"forever\" (expected number at 0); write e.g. 1500ms, 2s, 10m, 4h, 1h30m",
    );
    check(
        "url = \"https://h\"\n[[webhooks]]\nname = \"w\"\nurl = \"https://i\"",
        "p.toml:9: webhook name \"w\" is used twice",
    );
    check(
        "url = \"https://h\"\nevents = [\"agent.up\", \"agent.gone\"]",
        "p.toml:8: webhook \"w\": unknown event \"agent.gone\" (known: request.opened, \
         request.closed, service.down, service.up, service.local_failure, \
         service.cert_expiring, agent.registered, agent.approved, agent.suspended, \
         agent.down, agent.up, agent.duplicate, maintenance.started, maintenance.ended, \
         webhook.disabled, service.degraded, service.degraded_ended, agent.muted, \
         agent.unmuted, request.reminder, request.acknowledged, heartbeat.registered, \
         heartbeat.approved, heartbeat.suspended, heartbeat.missed, heartbeat.resumed, \
         heartbeat.cloned)",
    );
    check(
        "url = \"https://h\"\nevents = [\"service.cert_expiring\"]",
        "ok",
    );
    let c = parse_p(&format!(
        "{COLLECTOR}{AGENTS}[[webhooks]]\nname = \"w\"\nurl = \"https://h\"\n"
    ))
    .expect("valid");
    let w = &c.webhooks[0];
    assert_eq!(
        (
            w.timeout,
            w.retry_initial,
            w.retry_max_interval,
            w.retry_for
        ),
        (
            Duration::from_secs(15),
            Duration::from_secs(5),
            Duration::from_secs(3600),
            Duration::from_secs(24 * 3600)
        )
    );
    assert!(w.wants(EventType::AgentUp) && w.secret.is_none() && w.basic_auth.is_none());
}
