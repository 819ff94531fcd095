//! The persistence boundary: the only module that writes SQL.
//!
//! One `Store` is opened at start and handed (cloned) to every actor that
//! persists something. It owns two pools over sqlx's `Any` driver: `write`
//! has a single connection for SQLite, so writers queue instead of failing
//! with `SQLITE_BUSY`, and commit order equals event `seq` order; `read`
//! serves the API. Times are epoch milliseconds, booleans 0/1, so the same
//! statements run on SQLite and on PostgreSQL (`backend`: which URL selects
//! which; the write pool has one connection on both).
//!
//! **Invariant:** a change and the events (and webhook outbox rows) it
//! causes are written in one transaction; the event-seq watch is bumped
//! only after that commit.

mod agents;
mod backend;
mod certs;
mod degraded;
mod events;
mod gauges;
mod grouping;
mod heartbeats;
mod held;
mod latest;
mod leader;
mod lists;
mod manual;
mod mutes;
mod pages;
mod reminders;
mod requests;
mod results;
mod retention;
mod rollups;
mod rows;
mod services;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor, Row};
use tokio::sync::watch;

use crate::domain::{EventType, RequestId, UnknownName};
use crate::time::Clock;

pub use agents::{AgentRow, HEARTBEAT_HISTORY_MS, HeartbeatRecord};
pub use backend::{Backend, check_url};
pub use degraded::Degraded;
pub use events::{Delivery, DeliveryFilter, DeliveryRow, EventRow, OutboxCounts};
pub use grouping::{Confirmed, GroupMember, OpenGroup};
pub use heartbeats::{HeartbeatRow, NewHeartbeat, Ping};
pub use held::HeldService;
pub use latest::LatestResult;
pub use leader::Lease;
pub use lists::{AgentFilter, AgentKey, RequestFilter};
pub use mutes::Mute;
pub use pages::{Counts, Cursor, PageFilter, PageService, ServicePage, Uptimes};
pub use reminders::{Reminded, ReminderCandidate};
pub use requests::Opened;
pub use results::{Recorded, ResultRecord, ResultRef};
pub use retention::{EventsStep, PruneCursor, PruneStep};
pub use rollups::{DAILY_BARS, FOLD_GRACE_MS, FoldStep};
pub use services::{MaintenanceWindow, ServiceRow};

/// How long `/readyz` waits for PostgreSQL to answer [`Store::ping`].
pub const PING_WITHIN: Duration = Duration::from_secs(1);

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?} (use {forms})", forms = backend::URL_FORMS)]
    UnsupportedUrl(String),
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    #[error("{0} not found")]
    NotFound(String),
    /// A manual close of a request that is not open.
    #[error("request {0} is already closed")]
    AlreadyClosed(RequestId),
    /// The actor that writes it stopped (shutdown).
    #[error("the collector is stopping")]
    Stopped,
    /// An acknowledgement of a closed or already acknowledged request.
    #[error("request {id} cannot be acknowledged: {reason}")]
    NotAcknowledgeable { id: RequestId, reason: String },
    /// A write by a collector that no longer leads (another took the
    /// lease: `epoch` is the lease's now, when read); nothing was written.
    #[error("fenced: this collector no longer leads (lease epoch now {epoch:?})")]
    Fenced { epoch: Option<i64> },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What the store needs to write events: which webhooks receive which
/// events (one outbox row per event and interested webhook, inside the
/// event's transaction) and the base of request links. Built from the
/// config by `config::settings`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSettings {
    routes: Vec<(String, Vec<EventType>)>,
    /// Base of `link` in request bodies, e.g. `http://127.0.0.1:8080`.
    public_url: String,
}

impl EventSettings {
    /// `routes`: each webhook's name and the event types it receives
    /// (none: all of them).
    pub fn new(routes: Vec<(String, Vec<EventType>)>, public_url: String) -> Self {
        Self { routes, public_url }
    }

    /// The link to a request on the collector's web page.
    pub fn request_link(&self, id: RequestId) -> String {
        format!("{}/requests/{id}", self.public_url)
    }

    fn receivers(&self, event_type: EventType) -> impl Iterator<Item = &str> + '_ {
        self.routes
            .iter()
            .filter(move |(_, events)| events.is_empty() || events.contains(&event_type))
            .map(|(name, _)| name.as_str())
    }
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
    /// Swapped whole by a configuration reload ([`Store::set_event_settings`]).
    routes: Arc<arc_swap::ArcSwap<EventSettings>>,
    /// Highest committed event seq; WatchEvents and the notifier wait on it.
    last_event: Arc<watch::Sender<i64>>,
    /// Stamps every time the store writes by itself (events, requests,
    /// states, registrations).
    clock: Clock,
    /// Committed integer keys of service and agent ids (results, rollups).
    keys: Arc<std::sync::Mutex<results::KeyCache>>,
    /// How far the daily rollups are folded, as this leader last wrote it
    /// (`rollups/fold.rs`): ingest reads it here, not from the row, on
    /// every commit. `None` until [`Store::start_folding`].
    fold: Arc<std::sync::Mutex<Option<rollups::FoldState>>>,
    /// The leader epoch write transactions check (0: unfenced; `leader`).
    fence: Arc<std::sync::atomic::AtomicI64>,
}

impl Store {
    /// Opens (creating when missing) and migrates the database at `url`;
    /// the times it stamps come from `clock`.
    pub async fn open(url: &str, routes: EventSettings, clock: Clock) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = Backend::parse(url)?;
        let options = AnyConnectOptions::from_str(&url)?;
        let write = pool(backend, 1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&write).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&write).await?,
        }
        let read = pool(backend, 4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        clock.watch_work({
            let (write, read) = (write.clone(), read.clone());
            move || in_use(&write) || in_use(&read)
        });
        let store = Store {
            backend,
            write,
            read,
            routes: Arc::new(arc_swap::ArcSwap::from_pointee(routes)),
            last_event: Arc::new(watch::channel(0).0),
            clock,
            keys: Arc::default(),
            fold: Arc::default(),
            fence: Arc::default(),
        };
        let last = store.last_event_seq().await?;
        store.last_event.send_replace(last);
        Ok(store)
    }

    /// Takes the write connection until it is dropped: writes (and the
    /// reads that must see them) wait meanwhile, then time out (30 s on
    /// the clock: move it with `TestClock::advance_over_work`), as they
    /// would behind a stuck database.
    #[cfg(test)]
    pub(crate) async fn hold_write(&self) -> sqlx::pool::PoolConnection<sqlx::Any> {
        self.write.acquire().await.expect("the write connection")
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The clock the store stamps its times with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The event routing now (each write takes the one current when it
    /// starts).
    fn routes(&self) -> Arc<EventSettings> {
        self.routes.load_full()
    }

    /// Routes the events written from now on by `settings` (a reload:
    /// webhooks added, removed or re-filtered, a new `public_url`).
    pub fn set_event_settings(&self, settings: EventSettings) {
        self.routes.store(Arc::new(settings));
    }

    /// Whether the database answers (for `/readyz`). On PostgreSQL within
    /// [`PING_WITHIN`]: while the server is gone the pool keeps trying to
    /// connect until its acquire timeout, and `/readyz` must answer 503 at
    /// once. (SQLite is a local file, and the in-process scenarios run it
    /// on a paused clock, where a timer could fire while a query runs on
    /// its worker thread.)
    pub async fn ping(&self) -> bool {
        let ping = sqlx::query("SELECT 1").execute(&self.read);
        match self.backend {
            Backend::Sqlite => ping.await.is_ok(),
            Backend::Postgres => matches!(tokio::time::timeout(PING_WITHIN, ping).await, Ok(Ok(_))),
        }
    }

    /// A receiver that changes whenever events are committed.
    pub fn subscribe_events(&self) -> watch::Receiver<i64> {
        self.last_event.subscribe()
    }

    /// Called after a commit that appended events up to `seq`.
    fn published(&self, seq: Option<i64>) {
        if let Some(seq) = seq {
            self.last_event.send_if_modified(|cur| {
                let newer = seq > *cur;
                if newer {
                    *cur = seq;
                }
                newer
            });
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// A pool of at most `max` connections. SQLite's set their pragmas and are
/// not pinged before each use (a file does not hang up; sqlx still pings
/// on release, which rolls back what a cancelled call left open).
fn pool(backend: Backend, max: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new().max_connections(max);
    match backend {
        Backend::Sqlite => options
            .test_before_acquire(false)
            .after_connect(|conn, _meta| sqlite_pragmas(conn)),
        Backend::Postgres => options,
    }
}

/// Whether a connection of `pool` is in use, being opened or checked.
fn in_use(pool: &sqlx::AnyPool) -> bool {
    !pool.is_closed() && pool.num_idle() < pool.size() as usize
}

/// WAL for concurrent readers, FULL sync so an acknowledged result survives
/// a power loss, and a busy timeout for the read pool.
fn sqlite_pragmas(
    conn: &mut AnyConnection,
) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.execute("PRAGMA synchronous = FULL").await?;
        conn.execute("PRAGMA busy_timeout = 5000").await?;
        conn.execute("PRAGMA foreign_keys = ON").await?;
        Ok(())
    })
}

fn flag(v: bool) -> i64 {
    i64::from(v)
}

/// Reads `column` of a `table` row as one of the domain's named enums
/// (state, kind, stage, event type); an unknown name is a corrupt row.
fn named<T: FromStr<Err = UnknownName>>(
    r: &AnyRow,
    table: &'static str,
    column: &str,
) -> Result<T> {
    let value: String = r.try_get(column)?;
    parse_name(table, &value)
}

/// [`named`] for a nullable column.
fn named_opt<T: FromStr<Err = UnknownName>>(
    r: &AnyRow,
    table: &'static str,
    column: &str,
) -> Result<Option<T>> {
    let value: Option<String> = r.try_get(column)?;
    value.map(|v| parse_name(table, &v)).transpose()
}

/// Reads a text id column as its domain newtype.
fn text_id<T: From<String>>(r: &AnyRow, column: &str) -> Result<T> {
    Ok(r.try_get::<String, _>(column)?.into())
}

/// [`text_id`] for a nullable column.
fn text_id_opt<T: From<String>>(r: &AnyRow, column: &str) -> Result<Option<T>> {
    Ok(r.try_get::<Option<String>, _>(column)?.map(T::from))
}

/// Reads an integer request id column.
fn request_id(r: &AnyRow, column: &str) -> Result<RequestId> {
    Ok(r.try_get::<i64, _>(column)?.into())
}

fn parse_name<T: FromStr<Err = UnknownName>>(table: &'static str, value: &str) -> Result<T> {
    value.parse().map_err(|e: UnknownName| StoreError::Corrupt {
        table,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod heartbeat_tests;
#[cfg(test)]
mod leader_tests;
#[cfg(test)]
pub(crate) mod testdb;
#[cfg(test)]
mod tests;
