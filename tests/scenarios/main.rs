//! In-process scenarios: the real collector (library) on a paused clock,
//! driven by scripted agents over the real protocol. Each theme is a
//! module; see `picket_e2e::inproc` for the harness.

mod agents;
mod auth;
mod badges;
mod certs;
mod history;
mod hostile;
mod lifecycle;
mod maintenance;
mod manual;
mod metrics;
mod pages;
mod paging;
mod phases;
mod quorum;
mod reload;
mod restart;
mod webhooks;

/// Shared set-up of the scenarios.
mod common {
    use picket_e2e::Config;
    use picket_e2e::config::Service;

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
}
