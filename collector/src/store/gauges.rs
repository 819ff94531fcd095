//! Small aggregates `/metrics` reads on each scrape, each answered from an
//! index: the open requests (the partial unique indexes on open requests),
//! the pending webhook deliveries of each configured receiver (the
//! `webhook_outbox_due` index's (webhook, state) prefix), and the size of
//! the database files.

use sqlx::Row;

use super::{Result, Store};

impl Store {
    /// Open requests, about services and about agents.
    pub async fn open_requests_count(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM requests WHERE stage = 'open' AND service_id IS NOT NULL) \
             + (SELECT COUNT(*) FROM requests WHERE stage = 'open' AND agent_id IS NOT NULL) AS n",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Pending outbox rows of each webhook the event routing names now.
    pub async fn pending_deliveries(&self) -> Result<Vec<(String, i64)>> {
        let routes = self.routes();
        let mut pending = Vec::new();
        for (webhook, _) in &routes.routes {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM webhook_outbox WHERE webhook = $1 AND state = 'pending'",
            )
            .bind(webhook)
            .fetch_one(&self.read)
            .await?;
            pending.push((webhook.clone(), row.try_get("n")?));
        }
        Ok(pending)
    }

    /// The database file and its write-ahead log, in bytes.
    pub async fn size_bytes(&self) -> Result<u64> {
        let row = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&self.read)
            .await?;
        let file: String = row.try_get("file")?;
        let len = |path: &str| std::fs::metadata(path).map_or(0, |m| m.len());
        Ok(len(&file) + len(&format!("{file}-wal")))
    }
}
