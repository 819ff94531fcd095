//! What a new configuration changes that a reload cannot apply, pure.
//!
//! The listeners (`grpc_listen`, `http_listen`), the `database` and the
//! listeners' TLS keys (`tls_cert`, `tls_key`, `client_ca`, `http_tls`;
//! the files themselves are re-read by every reload) are bound or opened
//! at start: a reload names them and keeps the running ones
//! ([`running`]). (`settle_window` only matters at a start: a new one
//! applies to the next.) A shorter
//! `heartbeat_interval` would reach connected agents only when they
//! reconnect (their welcome told them theirs) while the dead-man's switch
//! would already expect it, declaring them dead: it is named and kept (a
//! longer one applies live). Everything else applies live.

use crate::config::Config;

/// The options of `new` that differ from `old` and need a restart, by
/// their config key, in file order.
pub fn restart_needed(old: &Config, new: &Config) -> Vec<&'static str> {
    let (o, n) = (&old.collector, &new.collector);
    let mut keys = Vec::new();
    let mut check = |key, differs: bool| {
        if differs {
            keys.push(key);
        }
    };
    check("grpc_listen", o.grpc_listen != n.grpc_listen);
    check("http_listen", o.http_listen != n.http_listen);
    check("database", o.database != n.database);
    check("leader_lease", o.leader_lease != n.leader_lease);
    check("advertise_url", o.advertise_url != n.advertise_url);
    let (ot, nt) = (o.tls.as_ref(), n.tls.as_ref());
    check("tls_cert", ot.map(|t| &t.cert) != nt.map(|t| &t.cert));
    check("tls_key", ot.map(|t| &t.key) != nt.map(|t| &t.key));
    check(
        "client_ca",
        ot.and_then(|t| t.client_ca.as_ref()) != nt.and_then(|t| t.client_ca.as_ref()),
    );
    check(
        "http_tls",
        ot.is_some_and(|t| t.http) != nt.is_some_and(|t| t.http),
    );
    check(
        "heartbeat_interval",
        new.agents.heartbeat_interval < old.agents.heartbeat_interval,
    );
    keys
}

/// `new` with the options that need a restart kept as `old` runs them:
/// what the collector runs after the reload (and diffs the next one
/// against).
pub fn running(old: &Config, new: Config) -> Config {
    let mut running = new;
    let (o, r) = (&old.collector, &mut running.collector);
    r.grpc_listen = o.grpc_listen;
    r.http_listen = o.http_listen;
    r.database.clone_from(&o.database);
    r.leader_lease = o.leader_lease;
    r.advertise_url.clone_from(&o.advertise_url);
    r.tls.clone_from(&o.tls);
    let longer = running
        .agents
        .heartbeat_interval
        .max(old.agents.heartbeat_interval);
    running.agents.heartbeat_interval = longer;
    running
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A config with `database = "sqlite://{db}.db"` and the extra
    /// `[collector]` and `[agents]` lines.
    fn config(db: &str, collector: &str, agents: &str) -> Config {
        let text = format!(
            "[collector]\ndatabase = \"sqlite://{db}.db\"\nadmin_token = \"t\"\n{collector}\n\
             [agents]\nenrollment_token = \"e\"\n{agents}\n"
        );
        crate::config::parse(Path::new("t.toml"), &text).expect("valid config")
    }

    fn check(old: [&str; 3], new: [&str; 3], expected: &[&str]) {
        let old = config(old[0], old[1], old[2]);
        let new = config(new[0], new[1], new[2]);
        assert_eq!(restart_needed(&old, &new), expected);
        // What runs afterwards keeps them: the next reload of the same
        // file names them again, and nothing else.
        let running = running(&old, new.clone());
        assert!(restart_needed(&old, &running).is_empty());
        assert_eq!(restart_needed(&running, &new), expected);
    }

    #[test]
    fn listeners_database_and_shorter_heartbeats_need_a_restart() {
        check(["a", "", ""], ["a", "", ""], &[]);
        let grpc = |port| format!("grpc_listen = \"127.0.0.1:{port}\"");
        check(
            ["a", &grpc(7070), ""],
            ["a", &grpc(7071), ""],
            &["grpc_listen", "advertise_url"],
        );
        let http = |port| format!("http_listen = \"127.0.0.1:{port}\"");
        check(
            ["a", &http(8080), ""],
            ["a", &http(8081), ""],
            &["http_listen"],
        );
        check(["a", "", ""], ["b", "", ""], &["database"]);
        let lease = |s| format!("leader_lease = \"{s}\"");
        check(
            ["a", &lease("15s"), ""],
            ["a", &lease("5s"), ""],
            &["leader_lease"],
        );
        let hb = |s| format!("heartbeat_interval = \"{s}\"");
        check(
            ["a", "", &hb("10s")],
            ["a", "", &hb("5s")],
            &["heartbeat_interval"],
        );
    }

    #[test]
    fn a_longer_heartbeat_and_new_tokens_apply_live() {
        let hb = |s| format!("heartbeat_interval = \"{s}\"");
        let old = config("a", "", &hb("10s"));
        let new = config("a", "read_token = \"r\"", &hb("20s"));
        assert!(restart_needed(&old, &new).is_empty());
        let running = running(&old, new);
        assert_eq!(running.agents.heartbeat_interval.as_secs(), 20);
        assert_eq!(running.collector.read_token.as_deref(), Some("r"));
    }
}
