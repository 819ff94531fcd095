//! Which engine an in-process collector stores in: a SQLite file in the
//! harness's directory, or, for a scenario run under [`on`] with
//! [`Backend::Postgres`], a fresh database on a real PostgreSQL server
//! (`picket_collector::testing::postgres::PgServer`) that lives as long as
//! the harness. [`store_scenarios!`](crate::store_scenarios) runs each
//! listed scenario on both.

use std::path::Path;

use picket_collector::testing::postgres::PgServer;

pub use picket_collector::store::Backend;

tokio::task_local! {
    static BACKEND: Backend;
}

/// Runs `scenario` with the harnesses it starts storing on `backend`.
pub async fn on<T, F: Future<Output = T>>(backend: Backend, scenario: F) -> T {
    BACKEND.scope(backend, scenario).await
}

/// Generates `NAME::sqlite` and `NAME::postgres` for each listed scenario
/// (an `async fn() -> anyhow::Result<()>` starting its own [`Harness`](super::Harness)),
/// each a `#[tokio::test(start_paused = true)]`.
#[macro_export]
macro_rules! store_scenarios {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(start_paused = true)]
            async fn sqlite() -> anyhow::Result<()> {
                let backend = $crate::inproc::Backend::Sqlite;
                $crate::inproc::on(backend, super::$name()).await
            }
            #[tokio::test(start_paused = true)]
            async fn postgres() -> anyhow::Result<()> {
                let backend = $crate::inproc::Backend::Postgres;
                $crate::inproc::on(backend, super::$name()).await
            }
        }
    )*};
}

/// The database of one harness, kept for its life (and its restarts).
pub(super) struct Database {
    pub(super) url: String,
    _server: Option<PgServer>,
}

impl Database {
    /// The running scenario's engine (SQLite outside [`on`]); SQLite's file
    /// is `picket.db` in `dir`.
    pub(super) async fn create(dir: &Path) -> anyhow::Result<Database> {
        match BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite) {
            Backend::Sqlite => Ok(Database {
                url: format!("sqlite://{}", dir.join("picket.db").display()),
                _server: None,
            }),
            Backend::Postgres => {
                let (server, url) = tokio::task::spawn_blocking(|| {
                    let server = PgServer::start()?;
                    let url = server.create_database("picket")?;
                    anyhow::Ok((server, url))
                })
                .await??;
                Ok(Database {
                    url,
                    _server: Some(server),
                })
            }
        }
    }
}
