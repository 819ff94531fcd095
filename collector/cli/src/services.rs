//! `services` and `service ID`: the monitored services with their state;
//! `service ID` adds the uptimes and the daily bars from the rollups, and
//! each agent's latest result with its phases and certificate expiry.

use picket_proto::v1 as pb;
use serde_json::Value;

use crate::client::{Client, answer};
use crate::pages::{self, Paging};
use crate::{convert, outcome, render};

/// Which services `services` lists.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Filter {
    /// Only services in this state (unknown, up, suspect, down,
    /// maintenance, paused).
    #[arg(long)]
    pub state: Option<String>,
    /// Only this equipment's services.
    #[arg(long, value_name = "ID")]
    pub equipment: Option<String>,
}

/// `services`: every service (page after page, up to `--limit`), as a
/// table or a JSON list.
pub async fn list(
    client: &mut Client,
    filter: Filter,
    paging: Paging,
    json: bool,
) -> anyhow::Result<String> {
    let request = pb::ListServicesRequest {
        state: filter.state.unwrap_or_default(),
        equipment: filter.equipment.unwrap_or_default(),
        ..Default::default()
    };
    let services = pages::all(client, paging, request).await?;
    render::list(
        services.iter().map(convert::service),
        &render::SERVICES,
        json,
    )
}

/// `service ID`: one service's fields, then its history (uptimes, latency,
/// a line of daily bars); with `--json` the history is its `history` object.
pub async fn show(client: &mut Client, id: String, json: bool) -> anyhow::Result<String> {
    let service = answer(client.get_service(pb::GetServiceRequest { id })).await?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    render_show(convert::service(&service), json, now_ms)
}

/// The service's fields, its history, then one line per agent's latest
/// result (certificate expiries counted from `now_ms`).
fn render_show(mut value: Value, json: bool, now_ms: i64) -> anyhow::Result<String> {
    if json {
        return render::object(&value, json);
    }
    let history = value.as_object_mut().and_then(|o| o.remove("history"));
    let latest = value.as_object_mut().and_then(|o| o.remove("latest"));
    let mut out = vec![render::object(&value, json)?];
    if let Some(h) = history {
        out.push(history_text(&h));
    }
    if let Some(Value::Array(agents)) = latest {
        out.push(format!("agents      {}", agents.len()));
        out.extend(
            agents
                .iter()
                .map(|a| format!("  {}", outcome::agent_line(a, now_ms))),
        );
    }
    Ok(out.join("\n"))
}

/// The uptimes, the 24 h latency and one character per day, oldest first:
/// `█` 100 %, `▇` ≥ 99.9 %, `▆` ≥ 99 %, `▄` ≥ 95 %, `▂` ≥ 90 %, `▁` below,
/// `·` no probes.
fn history_text(h: &Value) -> String {
    let pct = |v: &Value| {
        v.as_f64()
            .map_or("-".to_owned(), |u| format!("{:.3}%", u * 100.0))
    };
    let mut out = vec![format!(
        "uptime      24h {}  7d {}  30d {}",
        pct(&h["uptime_24h"]),
        pct(&h["uptime_7d"]),
        pct(&h["uptime_30d"])
    )];
    let l = &h["latency_24h"];
    if l.is_object() {
        let ms = |k: &str| l[k].as_f64().unwrap_or(0.0);
        out.push(format!(
            "latency 24h p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1} ms ({} probes)",
            ms("p50_ms"),
            ms("p95_ms"),
            ms("p99_ms"),
            ms("max_ms"),
            l["count"]
        ));
    }
    let bars: String = h["daily"]
        .as_array()
        .map(|days| days.iter().map(|d| bar(&d["uptime"])).collect())
        .unwrap_or_default();
    out.push(format!("daily       {bars}"));
    out.join("\n")
}

fn bar(uptime: &Value) -> char {
    match uptime.as_f64() {
        None => '·',
        Some(u) if u >= 1.0 => '█',
        Some(u) if u >= 0.999 => '▇',
        Some(u) if u >= 0.99 => '▆',
        Some(u) if u >= 0.95 => '▄',
        Some(u) if u >= 0.90 => '▂',
        Some(_) => '▁',
    }
}

#[cfg(test)]
mod tests;
