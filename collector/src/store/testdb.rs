//! The store's conformance tests run on both engines: [`store_tests!`]
//! turns each listed test function into `NAME::sqlite` and
//! `NAME::postgres`, and [`database`] gives the running test a fresh
//! database of its engine (a temp SQLite file, or a new database on a real
//! PostgreSQL server, `testing::postgres::PgServer`, one per test process
//! and shared by the tests of that process while any runs).

use std::sync::{Arc, Mutex, Weak};

use super::{Backend, EventSettings, Store};
use crate::testing::postgres::PgServer;
use crate::time::Clock;

tokio::task_local! {
    /// The engine of the test running in this task.
    pub static BACKEND: Backend;
}

/// Runs `test` with [`database`] on `backend`.
pub async fn on<T, F: Future<Output = T>>(backend: Backend, test: F) -> T {
    BACKEND.scope(backend, test).await
}

/// Generates `NAME::sqlite` and `NAME::postgres` for each listed async test
/// function (which opens its store through [`database`]), as
/// `#[tokio::test]`s or with the test attribute given first, e.g.
/// `store_tests!(#[tokio::test(start_paused = true)] a, b)`.
macro_rules! store_tests {
    (#[$test:meta] $($name:ident),* $(,)?) => {$(
        mod $name {
            #[$test]
            async fn sqlite() {
                $crate::store::testdb::on($crate::store::Backend::Sqlite, super::$name()).await
            }
            #[$test]
            async fn postgres() {
                $crate::store::testdb::on($crate::store::Backend::Postgres, super::$name()).await
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {
        $crate::store::testdb::store_tests!(#[tokio::test] $($name),*);
    };
}
pub(crate) use store_tests;

/// Keeps a test's database alive: its temp directory, or its server.
pub struct TestDb {
    _dir: Option<tempfile::TempDir>,
    _server: Option<Arc<PgServer>>,
}

/// The server the tests of this process share while any holds it.
static SERVER: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());

fn server() -> Arc<PgServer> {
    let mut shared = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(server) = shared.upgrade() {
        return server;
    }
    let server =
        Arc::new(PgServer::start().unwrap_or_else(|e| {
            panic!("the PostgreSQL store tests need a PostgreSQL server: {e}")
        }));
    *shared = Arc::downgrade(&server);
    server
}

/// A fresh, empty database of the running test's engine (SQLite outside
/// [`on`]) and its URL.
pub async fn database() -> (TestDb, String) {
    let backend = BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite);
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("picket.db").display());
            let db = TestDb {
                _dir: Some(dir),
                _server: None,
            };
            (db, url)
        }
        Backend::Postgres => {
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (server, url) = tokio::task::spawn_blocking(move || {
                let server = server();
                let url = server
                    .create_database(&format!("picket_{n}"))
                    .expect("create database");
                (server, url)
            })
            .await
            .expect("start PostgreSQL");
            let db = TestDb {
                _dir: None,
                _server: Some(server),
            };
            (db, url)
        }
    }
}

/// [`database`] opened as a store with `events`.
pub async fn store(events: EventSettings) -> (TestDb, Store) {
    let (db, url) = database().await;
    let store = Store::open(&url, events, Clock::system())
        .await
        .expect("open");
    (db, store)
}
