//! Equipment, services and their state rows; maintenance windows.

use sqlx::{QueryBuilder, Row};

use super::backend::{Backend, numbered};
use super::latest::error_kind_of;
use super::rows::{Kind, statements};
use super::{
    Result, Store, StoreError, events::append_event, flag, named, request_id, requests, text_id,
};
use crate::config::settings::CatalogSettings;
use crate::domain::texts::REMOVED_NOTE;
use crate::domain::{
    CloseReason, EquipmentId, Event, MaintenanceMode, MaintenanceSnapshot, RequestId, ServiceId,
    ServiceState,
};

/// Rows per statement when syncing the catalog: 7 binds each stays under
/// SQLite's 32766 and PostgreSQL's 65535 bound parameters.
const SYNC_ROWS: usize = 1000;

/// A service as stored: configuration echo plus the latest verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRow {
    pub id: ServiceId,
    pub url: String,
    pub equipment_id: EquipmentId,
    pub active: bool,
    pub state: ServiceState,
    pub ok: Option<bool>,
    pub last_status_code: Option<u16>,
    pub last_error_kind: Option<String>,
    pub last_error: Option<String>,
    pub last_check_ms: Option<i64>,
    pub last_latency_us: Option<i64>,
    pub open_request: Option<RequestId>,
    /// Its `cert_expiry_warning` in ms, as last configured.
    pub cert_warning_ms: i64,
}

/// A maintenance window of one equipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    pub equipment: EquipmentId,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub reason: String,
    pub active: bool,
    /// `pause` (probing stops) or `mute` (requests and webhooks held).
    pub mode: MaintenanceMode,
    /// The recurring window (`[[maintenance.windows]]` name) that started
    /// it; `None` when started by hand.
    pub schedule: Option<String>,
}

/// The columns of a [`ServiceRow`] from `services s` and
/// [`LAST_RESULT_JOIN`].
pub(super) const SERVICE_COLUMNS: &str = "s.id, s.url, s.equipment_id, s.active, s.state, lr.ok, \
    lr.status_code AS last_status_code, lr.error_kind AS last_error_code, lr.error AS last_error, \
    lr.time_ms AS last_check_ms, lr.duration_us AS last_latency_us, s.open_request_id, \
    s.cert_warning_ms";

/// A service's last check is the newest of its agents' latest results
/// (`latest_results`, upserted with the results), found when a service is
/// read rather than written to its row on every result: at a million
/// services that update was a fifth of the ingest's row writes. `sk` is
/// the service's key.
pub(super) const LAST_RESULT_JOIN: &str = "LEFT JOIN service_keys sk ON sk.id = s.id \
    LEFT JOIN latest_results lr ON lr.service = sk.key AND lr.agent = \
    (SELECT l2.agent FROM latest_results l2 WHERE l2.service = sk.key \
     ORDER BY l2.time_ms DESC, l2.agent DESC LIMIT 1)";

pub(super) fn service_row(r: &sqlx::any::AnyRow) -> Result<ServiceRow> {
    Ok(ServiceRow {
        id: text_id(r, "id")?,
        url: r.try_get("url")?,
        equipment_id: text_id(r, "equipment_id")?,
        active: r.try_get::<i64, _>("active")? != 0,
        state: named(r, "services", "state")?,
        ok: r.try_get::<Option<i64>, _>("ok")?.map(|v| v != 0),
        last_status_code: r
            .try_get::<Option<i64>, _>("last_status_code")?
            .and_then(|c| u16::try_from(c).ok()),
        last_error_kind: r
            .try_get::<Option<i64>, _>("last_error_code")?
            .and_then(error_kind_of)
            .map(|k| k.as_str().to_owned()),
        last_error: r.try_get("last_error")?,
        last_check_ms: r.try_get("last_check_ms")?,
        last_latency_us: r.try_get("last_latency_us")?,
        open_request: r
            .try_get::<Option<i64>, _>("open_request_id")?
            .map(RequestId::from),
        cert_warning_ms: r.try_get("cert_warning_ms")?,
    })
}

fn window_row(r: &sqlx::any::AnyRow) -> Result<MaintenanceWindow> {
    Ok(MaintenanceWindow {
        equipment: text_id(r, "id")?,
        starts_ms: r.try_get::<Option<i64>, _>("maint_starts_ms")?.unwrap_or(0),
        ends_ms: r.try_get::<Option<i64>, _>("maint_ends_ms")?.unwrap_or(0),
        reason: r
            .try_get::<Option<String>, _>("maint_reason")?
            .unwrap_or_default(),
        active: r.try_get::<i64, _>("maint_active")? != 0,
        mode: named(r, "equipment", "maint_mode")?,
        schedule: r.try_get("maint_schedule")?,
    })
}

impl Store {
    /// Brings equipment and services in line with the configuration:
    /// upserts what it lists (a paused service, `active = false`, stays
    /// configured and keeps its open request), marks the services it no
    /// longer lists unconfigured and inactive, and closes their open
    /// requests with `close_reason = "removed"`. Run at start and by each
    /// reload.
    pub async fn sync_config(&self, catalog: &CatalogSettings) -> Result<()> {
        let mut tx = self.begin().await?;
        // Many rows per statement: one statement per row costs seconds at
        // a million services.
        for chunk in catalog.equipment.chunks(SYNC_ROWS) {
            let mut q: QueryBuilder<sqlx::Any> =
                QueryBuilder::new("INSERT INTO equipment (id, name, customer) ");
            q.push_values(chunk, |mut b, e| {
                b.push_bind(e.id.as_str())
                    .push_bind(e.name.as_str())
                    .push_bind(e.customer.as_deref());
            });
            q.push(
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name, customer = excluded.customer",
            );
            numbered(Backend::of(&tx), &mut q).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE services SET configured = 0, active = 0")
            .execute(&mut *tx)
            .await?;
        for chunk in catalog.services.chunks(SYNC_ROWS) {
            let mut q: QueryBuilder<sqlx::Any> = QueryBuilder::new(
                "INSERT INTO services (id, url, equipment_id, active, state, configured, cert_warning_ms) ",
            );
            q.push_values(chunk, |mut b, s| {
                b.push_bind(s.id.as_str())
                    .push_bind(s.url.as_str())
                    .push_bind(s.equipment.as_str())
                    .push_bind(flag(s.active))
                    .push_bind("unknown")
                    .push_bind(1i64)
                    .push_bind(
                        i64::try_from(s.cert_expiry_warning.as_millis()).unwrap_or(i64::MAX),
                    );
            });
            q.push(
                " ON CONFLICT (id) DO UPDATE SET url = excluded.url, equipment_id = excluded.equipment_id, \
                 active = excluded.active, configured = 1, cert_warning_ms = excluded.cert_warning_ms",
            );
            numbered(Backend::of(&tx), &mut q).execute(&mut *tx).await?;
        }
        // A service that left forgets which certificates it was warned about.
        sqlx::query(
            "DELETE FROM cert_warnings WHERE service_id IN (SELECT id FROM services WHERE configured = 0)",
        )
        .execute(&mut *tx)
        .await?;
        // Services that left the configuration: their requests close.
        let rows = sqlx::query(
            "SELECT r.id FROM requests r JOIN services s ON s.id = r.service_id \
             WHERE r.stage = 'open' AND s.configured = 0",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut last = None;
        let now = self.clock.now_ms();
        for row in rows {
            let id = request_id(&row, "id")?;
            let closed = requests::close_with_event(
                &mut tx,
                &self.routes(),
                id,
                CloseReason::Removed,
                REMOVED_NOTE,
                now,
            )
            .await?;
            if let Some((_, seq)) = closed {
                sqlx::query(
                    "UPDATE services SET open_request_id = NULL WHERE open_request_id = $1",
                )
                .bind(id.get())
                .execute(&mut *tx)
                .await?;
                last = Some(seq);
            }
        }
        tx.commit().await?;
        self.published(last);
        Ok(())
    }

    /// The services the configuration lists, paused ones included.
    pub async fn list_services(&self) -> Result<Vec<ServiceRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SERVICE_COLUMNS} FROM services s {LAST_RESULT_JOIN} \
             WHERE s.configured = 1 ORDER BY s.equipment_id, s.id"
        ));
        sqlx::query(sql)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(service_row)
            .collect()
    }

    /// Each configured service's state and whether it has an open
    /// request: what the evaluator and the metrics start from (three
    /// columns, not the whole row: a million rows at start).
    pub async fn service_states(&self) -> Result<Vec<(ServiceId, ServiceState, bool)>> {
        sqlx::query("SELECT id, state, open_request_id FROM services WHERE configured = 1")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    text_id(r, "id")?,
                    named(r, "services", "state")?,
                    r.try_get::<Option<i64>, _>("open_request_id")?.is_some(),
                ))
            })
            .collect()
    }

    pub async fn get_service(&self, id: &ServiceId) -> Result<ServiceRow> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SERVICE_COLUMNS} FROM services s {LAST_RESULT_JOIN} WHERE s.id = $1"
        ));
        let row = sqlx::query(sql)
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("service {id:?}")))?;
        service_row(&row)
    }

    /// Records a state change that opens and closes nothing.
    pub async fn set_service_state(&self, id: &ServiceId, state: ServiceState) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE services SET state = $1, state_since_ms = $2 WHERE id = $3")
            .bind(state.as_str())
            .bind(self.clock.now_ms())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the states of many services in one transaction (quiet
    /// verdicts, `lifecycle/quiet.rs`), each since now; of a service listed
    /// more than once, the last state.
    pub async fn set_service_states(&self, states: &[(&ServiceId, ServiceState)]) -> Result<()> {
        if states.is_empty() {
            return Ok(());
        }
        let mut last: std::collections::HashMap<&ServiceId, usize> = Default::default();
        for (i, (id, _)) in states.iter().enumerate() {
            last.insert(*id, i);
        }
        let states: Vec<(&ServiceId, ServiceState)> = states
            .iter()
            .enumerate()
            .filter(|(i, (id, _))| last.get(id) == Some(i))
            .map(|(_, s)| *s)
            .collect();
        let states = &states[..];
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        for q in statements(
            Backend::of(&tx),
            "WITH v (id, state, since) AS (",
            &[Kind::Text, Kind::Text, Kind::Int],
            states,
            1000,
            ") UPDATE services SET state = v.state, state_since_ms = v.since FROM v \
             WHERE services.id = v.id",
            |b, (id, state)| {
                b.text(Some(id.as_str()))
                    .text(Some(state.as_str()))
                    .int(Some(now));
            },
        ) {
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Equipment whose maintenance window is running.
    pub async fn active_maintenance(&self) -> Result<Vec<MaintenanceWindow>> {
        sqlx::query("SELECT id, maint_starts_ms, maint_ends_ms, maint_reason, maint_active, maint_mode, maint_schedule FROM equipment WHERE maint_active = 1")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(window_row)
            .collect()
    }

    pub async fn maintenance_of(&self, equipment: &EquipmentId) -> Result<MaintenanceWindow> {
        let row = sqlx::query("SELECT id, maint_starts_ms, maint_ends_ms, maint_reason, maint_active, maint_mode, maint_schedule FROM equipment WHERE id = $1")
            .bind(equipment.as_str())
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("equipment {equipment:?}")))?;
        window_row(&row)
    }

    /// Starts (or extends) a window, with the `maintenance.started` event.
    /// (Service states follow through the evaluator and lifecycle.)
    pub async fn start_maintenance(
        &self,
        w: &MaintenanceWindow,
        equipment_name: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE equipment SET maint_starts_ms = $1, maint_ends_ms = $2, maint_reason = $3, maint_active = 1, maint_mode = $5, maint_schedule = $6 WHERE id = $4")
            .bind(w.starts_ms)
            .bind(w.ends_ms)
            .bind(&w.reason)
            .bind(w.equipment.as_str())
            .bind(w.mode.as_str())
            .bind(w.schedule.as_deref())
            .execute(&mut *tx)
            .await?;
        let event = Event::MaintenanceStarted(w.snapshot(equipment_name));
        let seq = append_event(&mut tx, &self.routes(), &event, self.clock.now_ms()).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(())
    }

    /// Ends a window at `ended_ms`, with the `maintenance.ended` event.
    pub async fn end_maintenance(
        &self,
        w: &MaintenanceWindow,
        equipment_name: &str,
        ended_ms: i64,
    ) -> Result<MaintenanceWindow> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE equipment SET maint_ends_ms = $1, maint_active = 0 WHERE id = $2")
            .bind(ended_ms)
            .bind(w.equipment.as_str())
            .execute(&mut *tx)
            .await?;
        let ended = MaintenanceWindow {
            ends_ms: ended_ms,
            active: false,
            ..w.clone()
        };
        let event = Event::MaintenanceEnded(ended.snapshot(equipment_name));
        let seq = append_event(&mut tx, &self.routes(), &event, self.clock.now_ms()).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(ended)
    }
}

impl MaintenanceWindow {
    /// The window as `maintenance.*` events show it.
    fn snapshot(&self, equipment_name: &str) -> MaintenanceSnapshot {
        MaintenanceSnapshot {
            equipment_id: self.equipment.clone(),
            equipment: equipment_name.to_owned(),
            starts_ms: self.starts_ms,
            ends_ms: self.ends_ms,
            reason: self.reason.clone(),
            mode: self.mode,
            schedule: self.schedule.clone(),
        }
    }
}
