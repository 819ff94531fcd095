//! One scrape of `/metrics`: [`gather`] reads the few aggregates that
//! live in the store (each from an index, see `store/gauges.rs`), then
//! [`Metrics::render_to`] formats everything, family by family, shard by
//! shard, handing out chunks as they fill (the HTTP handler runs it on a
//! blocking thread, see [`super::stream`]).

use std::collections::BTreeMap;

use tracing::warn;

use super::Metrics;
use super::chunks::{Chunks, Rendered, Send, Stopped};
use super::exposition::{Exposition, Format, Kind, labels};
use super::probes::View;
use crate::domain::{AgentId, AgentState, Liveness};
use crate::store::Store;

/// What a scrape read from the store; a `None` (or empty) family was not
/// readable and is left out.
#[derive(Debug, Default)]
pub struct Scraped {
    pub requests_open: Option<i64>,
    pub webhook_pending: Vec<(String, i64)>,
    /// Every enrolled agent and its administrative state.
    pub agents: Option<Vec<(AgentId, AgentState)>>,
    pub store_bytes: Option<u64>,
}

/// Reads the store's part of a scrape; a failed read is logged and left
/// out.
pub async fn gather(store: &Store) -> Scraped {
    fn ok<T>(what: &str, r: Result<T, crate::store::StoreError>) -> Option<T> {
        r.map_err(|e| warn!(error = %e, "/metrics: cannot read {what}"))
            .ok()
    }
    // A PostgreSQL that is gone would hold every read for the pool's
    // acquire timeout: the scrape answers without the store's families.
    if store.backend() == crate::store::Backend::Postgres && !store.ping().await {
        warn!("/metrics: the database does not answer; its families are left out");
        return Scraped::default();
    }
    Scraped {
        requests_open: ok("open requests", store.open_requests_count().await),
        webhook_pending: ok("pending deliveries", store.pending_deliveries().await)
            .unwrap_or_default(),
        agents: ok("agents", store.list_agents().await)
            .map(|rows| rows.into_iter().map(|a| (a.id, a.state)).collect()),
        store_bytes: ok("the database size", store.size_bytes().await),
    }
}

impl Metrics {
    /// The whole exposition in `format` as one string (tests, benches).
    pub fn render_with(&self, format: Format, scraped: &Scraped) -> String {
        let mut text = Vec::new();
        let mut send = |chunk: Vec<u8>| {
            text.extend_from_slice(&chunk);
            Ok(())
        };
        // The sender never stops, and every chunk is UTF-8 cut at a line end.
        let _ = self.render_to(format, scraped, usize::MAX, &mut send);
        String::from_utf8(text).unwrap_or_default()
    }

    /// Every family in `format`, handed to `send` in chunks of about
    /// `chunk_size` bytes (at most that plus one line) as they fill; stops
    /// as soon as `send` does.
    pub fn render_to(
        &self,
        format: Format,
        scraped: &Scraped,
        chunk_size: usize,
        send: &mut Send<'_>,
    ) -> Result<Rendered, Stopped> {
        let published = self.directory();
        let catalog = self.board.catalog();
        let mut out = Chunks::new(chunk_size, send);
        let view = View::new(&self.probes, &catalog, &published);
        self.probes
            .write(format, self.probe_series(), &view, &mut out)?;
        self.board.write(format, &mut out)?;
        let mut e = Exposition::new(format);
        use Kind::{Counter, Gauge, Histogram};
        if let Some(n) = scraped.requests_open {
            e.family(
                "picket_requests_open",
                Gauge,
                "Maintenance requests open now",
                |f| f.sample_int("", n),
            );
        }
        e.family(
            "picket_recheck_rounds_total",
            Counter,
            "Recheck rounds concluded, by outcome (confirmed, local, recovered)",
            |f| self.recheck_rounds.write(f),
        );
        if let Some(agents) = &scraped.agents {
            let mut counts = BTreeMap::new();
            for state in AgentState::ALL {
                for liveness in Liveness::ALL {
                    counts.insert((state.as_str(), liveness.as_str()), 0);
                }
            }
            for (id, state) in agents {
                let live =
                    published.directory.agents.contains_key(id) && !published.dead.contains(id);
                let liveness = if live { Liveness::Live } else { Liveness::Dead };
                *counts
                    .entry((state.as_str(), liveness.as_str()))
                    .or_default() += 1;
            }
            e.family(
                "picket_agents",
                Gauge,
                "Enrolled agents by state and liveness (live: connected and not declared dead)",
                |f| {
                    for ((state, liveness), n) in &counts {
                        f.sample_int(&labels(&[("state", state), ("liveness", liveness)]), *n);
                    }
                },
            );
        }
        e.family(
            "picket_webhook_deliveries_total",
            Counter,
            "Webhook delivery attempts by outcome",
            |f| self.webhook_deliveries.write(f),
        );
        e.family(
            "picket_webhook_pending",
            Gauge,
            "Webhook deliveries waiting to be sent, by receiver",
            |f| {
                for (webhook, n) in &scraped.webhook_pending {
                    f.sample_int(&labels(&[("webhook", webhook)]), *n);
                }
            },
        );
        e.family(
            "picket_results_ingested_total",
            Counter,
            "Results committed to the store",
            |f| f.sample_int("", self.results_ingested.get() as i64),
        );
        e.family(
            "picket_ingest_batch_seconds",
            Histogram,
            "How long ingest's write transactions take, in seconds",
            |f| self.ingest_batch.write(f),
        );
        if let Some(bytes) = scraped.store_bytes {
            e.family(
                "picket_store_bytes",
                Gauge,
                "Size of the database file and its write-ahead log, in bytes",
                |f| f.sample_int("", bytes as i64),
            );
        }
        self.write_others(&mut e);
        out.put(&e.finish())?;
        out.finish()
    }
}
