//! Reads for the status pages (`http/pages`): a page of services with its
//! filters and keyset pagination, the uptime windows and daily bars of the
//! services on a page in two batch queries, a service's recent requests.
//!
//! Pages read rollups, never raw results. A page of services is ordered
//! by (equipment, id) and continues from a service: `(equipment_id, id) >
//! (the cursor's)`, so page N costs what page 1 costs (the `0006` indexes
//! serve the order with and without a state filter). The uptime windows are
//! those of [`Store::history`]: the current hour and the 23 (24 h) or 167
//! (7 d) before it, today and the 29 days before it (30 d), the current,
//! partial hour and day included.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{Any, QueryBuilder, Row};

use super::backend::numbered;
use super::requests::{REQUEST_COLUMNS, request_row};
use super::services::{LAST_RESULT_JOIN, SERVICE_COLUMNS, service_row};
use super::{DAILY_BARS, Result, Store};
use crate::domain::rollup::{Period, Scope};
use crate::domain::{EquipmentId, Request, ServiceId, ServiceState};
use crate::store::ServiceRow;

/// Which services a page lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageFilter {
    pub state: Option<ServiceState>,
    pub equipment: Option<EquipmentId>,
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    First,
    /// The services after this one.
    After(ServiceId),
    /// The services before this one (a "previous" link).
    Before(ServiceId),
    /// The services after this (equipment, id) key, whether or not that
    /// service still exists or still has that equipment (the API's page
    /// tokens).
    AfterKey(EquipmentId, ServiceId),
}

/// A service as the status page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageService {
    pub row: ServiceRow,
    pub equipment_name: String,
    /// Its integer key (the rollups'), `None` before its first result.
    pub key: Option<i64>,
    /// When its open request was opened.
    pub request_opened_ms: Option<i64>,
}

/// One page of services, in (equipment, id) order.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePage {
    pub services: Vec<PageService>,
    pub has_prev: bool,
    pub has_next: bool,
}

/// Probes and failures of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub probes: u64,
    pub failures: u64,
}

impl Counts {
    /// Share of successful probes, `None` without probes.
    pub fn uptime(&self) -> Option<f64> {
        (self.probes > 0)
            .then(|| self.probes.saturating_sub(self.failures) as f64 / self.probes as f64)
    }
}

/// A service's uptime windows and daily counts, as `/` shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Uptimes {
    pub last_24h: Counts,
    pub last_7d: Counts,
    pub last_30d: Counts,
    /// The last [`DAILY_BARS`] days, oldest first, today last.
    pub daily: Vec<(i64, Counts)>,
}

/// The window starts of [`Store::history`] at `now_ms`.
struct Windows {
    hour: i64,
    this_hour: i64,
    today: i64,
    day: i64,
}

impl Windows {
    fn at(now_ms: i64) -> Windows {
        Windows {
            hour: Period::Hour.millis(),
            this_hour: Period::Hour.start_of(now_ms),
            today: Period::Day.start_of(now_ms),
            day: Period::Day.millis(),
        }
    }
}

impl Store {
    /// Up to `size` services matching `filter` from `cursor`, in (equipment,
    /// id) order, with whether pages exist before and after.
    pub async fn service_page(
        &self,
        filter: &PageFilter,
        cursor: &Cursor,
        size: usize,
    ) -> Result<ServicePage> {
        let backwards = matches!(cursor, Cursor::Before(_));
        let mut rows = self.page_rows(filter, cursor, size + 1).await?;
        let more = rows.len() > size;
        rows.truncate(size);
        if backwards {
            rows.reverse();
            if !more {
                // Back at the start: show a full first page.
                let mut page = Box::pin(self.service_page(filter, &Cursor::First, size)).await?;
                page.has_prev = false;
                return Ok(page);
            }
        }
        Ok(ServicePage {
            services: rows,
            has_prev: if backwards {
                more
            } else {
                !matches!(cursor, Cursor::First)
            },
            has_next: if backwards { true } else { more },
        })
    }

    async fn page_rows(
        &self,
        filter: &PageFilter,
        cursor: &Cursor,
        limit: usize,
    ) -> Result<Vec<PageService>> {
        let mut q: QueryBuilder<Any> = QueryBuilder::new(format!(
            "SELECT {SERVICE_COLUMNS}, COALESCE(e.name, s.equipment_id) AS equipment_name, \
             sk.key AS service_key, r.opened_ms AS request_opened_ms \
             FROM services s \
             LEFT JOIN equipment e ON e.id = s.equipment_id \
             {LAST_RESULT_JOIN} \
             LEFT JOIN requests r ON r.id = s.open_request_id \
             WHERE s.configured = 1"
        ));
        if let Some(state) = filter.state {
            q.push(" AND s.state = ").push_bind(state.as_str());
        }
        if let Some(equipment) = &filter.equipment {
            q.push(" AND s.equipment_id = ")
                .push_bind(equipment.as_str().to_owned());
        }
        let order = match cursor {
            Cursor::First => " ORDER BY s.equipment_id, s.id",
            Cursor::AfterKey(equipment, id) => {
                q.push(" AND (s.equipment_id, s.id) > (")
                    .push_bind(equipment.as_str().to_owned())
                    .push(", ")
                    .push_bind(id.as_str().to_owned())
                    .push(")");
                if filter.equipment.as_ref() == Some(equipment) {
                    // The same bound, in a form the index's range uses
                    // after `equipment_id = ?`.
                    q.push(" AND s.id > ").push_bind(id.as_str().to_owned());
                }
                " ORDER BY s.equipment_id, s.id"
            }
            Cursor::After(id) | Cursor::Before(id) => {
                let (cmp, order) = match cursor {
                    Cursor::Before(_) => ("<", " ORDER BY s.equipment_id DESC, s.id DESC"),
                    _ => (">", " ORDER BY s.equipment_id, s.id"),
                };
                q.push(format!(
                    " AND (s.equipment_id, s.id) {cmp} \
                     ((SELECT equipment_id FROM services WHERE id = "
                ))
                .push_bind(id.as_str().to_owned())
                .push("), ")
                .push_bind(id.as_str().to_owned())
                .push(")");
                order
            }
        };
        q.push(order).push(" LIMIT ").push_bind(limit as i64);
        numbered(self.backend, &mut q)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok(PageService {
                    row: service_row(r)?,
                    equipment_name: r.try_get("equipment_name")?,
                    key: r.try_get("service_key")?,
                    request_opened_ms: r.try_get("request_opened_ms")?,
                })
            })
            .collect()
    }

    /// The uptime windows and daily counts of the services with these
    /// rollup `keys` at `now_ms`, in two queries (sums in SQL, no
    /// histogram decoded). A key without rollups gets empty counts.
    pub async fn page_uptimes(&self, keys: &[i64], now_ms: i64) -> Result<HashMap<i64, Uptimes>> {
        let mut out: HashMap<i64, Uptimes> = HashMap::new();
        if keys.is_empty() {
            return Ok(out);
        }
        let w = Windows::at(now_ms);
        let first_day = w.today - (DAILY_BARS - 1) * w.day;
        let d30 = w.today - 29 * w.day;
        // Days from `cut` on are not folded yet: their hours count
        // (`rollups/fold.rs`).
        let cut = self.fold_cut().await?;
        let (hour, day) = (Period::Hour.seconds(), Period::Day.seconds());
        let mut q: QueryBuilder<Any> = QueryBuilder::new("SELECT key, ");
        // (name, hourly rows from, daily rows [from, to))
        for (name, hours_from, days) in [
            ("h24", w.this_hour - 23 * w.hour, None),
            ("d7", w.this_hour - 167 * w.hour, None),
            ("d30", d30.max(cut), Some((d30, cut))),
        ] {
            for column in ["probes", "failures"] {
                q.push("CAST(SUM(CASE WHEN (period_s = ")
                    .push_bind(hour)
                    .push(" AND start_ms >= ")
                    .push_bind(hours_from)
                    .push(")");
                if let Some((from, to)) = days {
                    q.push(" OR (period_s = ")
                        .push_bind(day)
                        .push(" AND start_ms >= ")
                        .push_bind(from)
                        .push(" AND start_ms < ")
                        .push_bind(to)
                        .push(")");
                }
                // CAST: PostgreSQL sums BIGINTs as NUMERIC, which Any cannot read.
                q.push(format!(
                    " THEN {column} ELSE 0 END) AS BIGINT) AS {name}_{column}, "
                ));
            }
        }
        q.push("0 AS unused FROM rollups WHERE scope = ")
            .push_bind(Scope::Service.code())
            .push(" AND key IN (");
        push_keys(&mut q, keys);
        q.push(") AND ((period_s = ")
            .push_bind(hour)
            .push(" AND start_ms >= ")
            .push_bind((w.this_hour - 167 * w.hour).min(d30.max(cut)))
            .push(" AND start_ms <= ")
            .push_bind(w.this_hour)
            .push(") OR (period_s = ")
            .push_bind(day)
            .push(" AND start_ms >= ")
            .push_bind(d30)
            .push(" AND start_ms <= ")
            .push_bind(w.today)
            .push(")) GROUP BY key");
        for r in numbered(self.backend, &mut q).fetch_all(&self.read).await? {
            let counts = |name: &str| -> Result<Counts> {
                Ok(Counts {
                    probes: count(&r, &format!("{name}_probes"))?,
                    failures: count(&r, &format!("{name}_failures"))?,
                })
            };
            let u = out.entry(r.try_get("key")?).or_default();
            u.last_24h = counts("h24")?;
            u.last_7d = counts("d7")?;
            u.last_30d = counts("d30")?;
        }
        // The daily bars: daily rows before `cut`, hourly rows from it.
        let mut q: QueryBuilder<Any> = QueryBuilder::new(
            "SELECT key, period_s, start_ms, probes, failures FROM rollups WHERE scope = ",
        );
        q.push_bind(Scope::Service.code()).push(" AND key IN (");
        push_keys(&mut q, keys);
        q.push(") AND ((period_s = ")
            .push_bind(day)
            .push(" AND start_ms >= ")
            .push_bind(first_day)
            .push(" AND start_ms <= ")
            .push_bind(w.today)
            .push(" AND start_ms < ")
            .push_bind(cut)
            .push(") OR (period_s = ")
            .push_bind(hour)
            .push(" AND start_ms >= ")
            .push_bind(first_day.max(cut))
            .push(" AND start_ms <= ")
            .push_bind(w.this_hour)
            .push("))");
        let mut days: HashMap<(i64, i64), Counts> = HashMap::new();
        for r in numbered(self.backend, &mut q).fetch_all(&self.read).await? {
            let start = Period::Day.start_of(r.try_get("start_ms")?);
            let c = days.entry((r.try_get("key")?, start)).or_default();
            c.probes += count(&r, "probes")?;
            c.failures += count(&r, "failures")?;
        }
        for &key in keys {
            out.entry(key).or_default().daily = (0..DAILY_BARS)
                .map(|i| {
                    let start = first_day + i * w.day;
                    (start, days.remove(&(key, start)).unwrap_or_default())
                })
                .collect();
        }
        Ok(out)
    }

    /// The `limit` most recent requests of `service`, newest first (notes
    /// not loaded).
    pub async fn service_requests(&self, service: &ServiceId, limit: i64) -> Result<Vec<Request>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE service_id = $1 ORDER BY id DESC LIMIT $2"
        ));
        sqlx::query(sql)
            .bind(service.as_str())
            .bind(limit)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(request_row)
            .collect()
    }
}

fn push_keys(q: &mut QueryBuilder<Any>, keys: &[i64]) {
    let mut list = q.separated(", ");
    for &key in keys {
        list.push_bind(key);
    }
}

fn count(r: &AnyRow, column: &str) -> Result<u64> {
    Ok(r.try_get::<Option<i64>, _>(column)?.unwrap_or(0).max(0) as u64)
}

#[cfg(test)]
mod tests;
