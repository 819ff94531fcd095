//! The leadership lease (migration 0008 / postgres 0002) and the fence on
//! every write transaction.
//!
//! One `leader` row: the holder (a collector's instance id), its epoch, the
//! end of its lease and the URL agents should use for it. A collector takes
//! the row when the lease has ended ([`Store::campaign`], epoch + 1) and
//! renews it ([`Store::renew`]) while it leads. Once a store is fenced
//! ([`Store::fence`]), [`Store::begin`] re-reads the row's epoch inside
//! each write transaction (PostgreSQL: `FOR SHARE`, so a takeover waits
//! for the transaction to end) and refuses with [`StoreError::Fenced`] when
//! another collector has taken over: nothing is written. Lease times are
//! epoch milliseconds from the collectors' clocks, which must agree within
//! a small part of the lease (NTP).

use std::sync::atomic::Ordering;

use sqlx::{Any, Row, Transaction};

use super::{Backend, Result, Store, StoreError};

/// The lease row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Instance id of the collector that holds (or last held) the lease;
    /// empty when none ever did.
    pub holder: String,
    pub epoch: i64,
    pub expires_at_ms: i64,
    /// The holder's `advertise_url`.
    pub advertise_url: String,
}

/// [`Store::fence`]'s value once this store's collector has been deposed.
const DEPOSED: i64 = -1;

impl Store {
    /// The lease row.
    pub async fn lease(&self) -> Result<Lease> {
        let r = sqlx::query(
            "SELECT holder, epoch, expires_at_ms, advertise_url FROM leader WHERE id = 1",
        )
        .fetch_one(self.lease_pool())
        .await?;
        Ok(Lease {
            holder: r.try_get("holder")?,
            epoch: r.try_get("epoch")?,
            expires_at_ms: r.try_get("expires_at_ms")?,
            advertise_url: r.try_get("advertise_url")?,
        })
    }

    /// Takes the lease for `holder` until `now_ms + lease_ms` if it has
    /// ended, was never held, or `regardless`: returns the new epoch, or
    /// `None` while another holder's lease runs.
    pub async fn campaign(
        &self,
        holder: &str,
        advertise_url: &str,
        now_ms: i64,
        lease_ms: i64,
        regardless: bool,
    ) -> Result<Option<i64>> {
        let epoch = sqlx::query_scalar::<_, i64>(
            "UPDATE leader SET holder = $1, advertise_url = $2, epoch = epoch + 1, \
             expires_at_ms = $3 WHERE id = 1 AND (expires_at_ms <= $4 OR holder = '' OR $5 = 1) \
             RETURNING epoch",
        )
        .bind(holder)
        .bind(advertise_url)
        .bind(now_ms.saturating_add(lease_ms))
        .bind(now_ms)
        .bind(i64::from(regardless))
        .fetch_optional(self.lease_pool())
        .await?;
        Ok(epoch)
    }

    /// Extends `holder`'s lease at `epoch` to `now_ms + lease_ms`: false
    /// when the row has another holder or epoch (deposed).
    pub async fn renew(
        &self,
        holder: &str,
        epoch: i64,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE leader SET expires_at_ms = $1 WHERE id = 1 AND holder = $2 AND epoch = $3",
        )
        .bind(now_ms.saturating_add(lease_ms))
        .bind(holder)
        .bind(epoch)
        .execute(self.lease_pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends `holder`'s lease now (a clean stop), so a standby need not
    /// wait for it to run out.
    pub async fn release(&self, holder: &str) -> Result<()> {
        sqlx::query("UPDATE leader SET expires_at_ms = 0 WHERE id = 1 AND holder = $1")
            .bind(holder)
            .execute(self.lease_pool())
            .await?;
        Ok(())
    }

    /// Where lease statements run: on PostgreSQL beside the writes (a
    /// takeover waits for a fenced transaction's `FOR SHARE`); on SQLite on
    /// the one write connection, since an UPDATE from another connection
    /// makes a deferred write transaction fail with `database is locked`.
    fn lease_pool(&self) -> &sqlx::AnyPool {
        match self.backend {
            Backend::Postgres => &self.read,
            Backend::Sqlite => &self.write,
        }
    }

    /// Fences this store at `epoch`: from now on every write transaction
    /// checks that the lease row still carries it.
    pub fn fence(&self, epoch: i64) {
        self.fence.store(epoch, Ordering::Release);
    }

    /// Refuses every write from now on (leadership lost).
    pub fn depose(&self) {
        self.fence.store(DEPOSED, Ordering::Release);
    }

    /// Begins a write transaction, fenced as [`Store::fence`] says.
    pub(super) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        let fence = self.fence.load(Ordering::Acquire);
        if fence == DEPOSED {
            return Err(StoreError::Fenced { epoch: None });
        }
        let mut tx = self.write.begin().await?;
        if fence > 0 {
            let sql = match self.backend {
                Backend::Postgres => "SELECT epoch FROM leader WHERE id = 1 FOR SHARE",
                Backend::Sqlite => "SELECT epoch FROM leader WHERE id = 1",
            };
            let current: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await?;
            if current != fence {
                self.depose();
                return Err(StoreError::Fenced {
                    epoch: Some(current),
                });
            }
        }
        Ok(tx)
    }
}
