//! In-process scenarios: the real collector (library) on a paused clock,
//! driven by scripted agents over the real protocol. Each theme is a
//! module; see `picket_e2e::inproc` for the harness.

mod agent_page;
mod agents;
mod assignments;
mod auth;
mod badges;
mod certs;
mod checkins;
mod degraded;
mod history;
mod hostile;
mod lifecycle;
mod maintenance;
mod manual;
mod metrics;
mod mute;
mod pages;
mod paging;
mod phases;
mod quorum;
mod recurring;
mod reload;
mod reminders;
mod restart;
mod root_cause;
mod webhooks;

/// Shared set-up of the scenarios.
mod common {
    use std::time::Duration;

    use picket_e2e::Config;
    use picket_e2e::config::Service;
    use picket_e2e::inproc::{Harness, Outcome, Phases, ScriptedAgent};

    pub const SERVICE: &str = "shop";
    pub const URL: &str = "http://shop.test/";

    /// One equipment and one service, with the product's defaults for the
    /// double-check (`recheck_delay` 2 s) and agents approved by themselves.
    pub fn one_service() -> Config {
        one_equipment().service(Service::new(SERVICE, "web-1", URL))
    }

    /// [`one_service`] without its service.
    pub fn one_equipment() -> Config {
        Config::fast()
            .agents("heartbeat_interval", "10s")
            .defaults("interval", "60s")
            .defaults("timeout", "10s")
            .defaults("recheck_delay", "2s")
            .equipment("web-1", "Web server 1")
    }

    /// 2027-01-02T00:00:00Z.
    pub const NOT_AFTER_MS: i64 = 1_798_848_000_000;

    pub fn ms(n: f64) -> Duration {
        Duration::from_secs_f64(n / 1000.0)
    }

    /// Agents `edge-1` (eu) and `edge-2` (ap) connect and take their
    /// assignment; `edge-1` reports a 503, then a success with the returned
    /// phases (32.1 ms in all) and a certificate valid until
    /// [`NOT_AFTER_MS`].
    pub async fn two_agents_one_measured(
        h: &Harness,
    ) -> anyhow::Result<(ScriptedAgent, ScriptedAgent, Phases)> {
        let mut paris = h.agent("edge-1", "eu").await?;
        let mut tokyo = h.agent("edge-2", "ap").await?;
        paris.assignment().await?;
        tokyo.assignment().await?;
        let measured = Phases {
            dns: ms(1.2),
            connect: ms(0.8),
            tls: ms(12.0),
            processing: ms(16.1),
            transfer: ms(2.0),
        };
        paris.report(SERVICE, &Outcome::status(503)).await?;
        paris
            .report(
                SERVICE,
                &Outcome::ok()
                    .with_phases(measured, ms(32.1))
                    .with_cert_expiry(NOT_AFTER_MS),
            )
            .await?;
        Ok((paris, tokyo, measured))
    }
}
