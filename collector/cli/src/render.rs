//! Rendering: the one place that turns the JSON documents of [`convert`]
//! into what `picketctl` prints, either JSON for scripts or text for people
//! (aligned tables for lists, `key  value` lines for single objects, one
//! line per event).
//!
//! Pure functions from values to strings, except [`print`], the only writer
//! to stdout. Columns are declared next to their headers in the layouts
//! below; a cell shows the first line of its value, `-` for null.
//!
//! [`convert`]: crate::convert

use std::io::Write;

use anyhow::Context;
use serde_json::Value;

/// How a list is shown to people.
pub enum Layout {
    /// A header line, then one row per item, columns padded to align.
    Table(&'static [Column]),
    /// One line per item, no header.
    Lines(fn(&Value) -> String),
}

/// One table column: its header and how an item fills its cell.
pub struct Column {
    header: &'static str,
    cell: Cell,
}

enum Cell {
    /// The first line of the item's field, `-` when null.
    Field(&'static str),
    /// Computed from the item's `stats` object; `-` when there are none.
    Stat(fn(&Value) -> String),
    /// Computed from the whole item.
    Item(fn(&Value) -> String),
}

pub const fn field(header: &'static str, key: &'static str) -> Column {
    Column {
        header,
        cell: Cell::Field(key),
    }
}

const fn stat(header: &'static str, cell: fn(&Value) -> String) -> Column {
    Column {
        header,
        cell: Cell::Stat(cell),
    }
}

const fn computed(header: &'static str, cell: fn(&Value) -> String) -> Column {
    Column {
        header,
        cell: Cell::Item(cell),
    }
}

/// `services`.
pub const SERVICES: Layout = Layout::Table(&[
    field("ID", "id"),
    field("STATE", "state"),
    field("CODE", "last_status_code"),
    field("ERROR", "last_error"),
    field("LAST CHECK", "last_check_at"),
    field("REQUEST", "open_request"),
    field("EQUIPMENT", "equipment"),
    field("URL", "url"),
]);

/// `requests`.
pub const REQUESTS: Layout = Layout::Table(&[
    field("ID", "id"),
    field("STAGE", "stage"),
    field("PRIORITY", "priority"),
    field("OPENED", "opened_at"),
    field("CLOSED", "closed_at"),
    field("NAME", "name"),
]);

/// `agents`: identity and liveness, then the last heartbeat's host stats.
pub const AGENTS: Layout = Layout::Table(&[
    field("ID", "id"),
    field("NAME", "name"),
    field("REGION", "region"),
    field("STATE", "state"),
    field("LIVENESS", "liveness"),
    field("LAST SEEN", "last_seen"),
    stat("CPU %", |s| format!("{:.1}", num(s, "cpu_percent"))),
    stat("LOAD", |s| format!("{:.2}", num(s, "load1"))),
    stat("MEM", |s| share(s, "mem_used_bytes", "mem_total_bytes")),
    stat("DISK", |s| share(s, "disk_used_bytes", "disk_total_bytes")),
    stat("CHECKS", |s| {
        let (running, assigned) = (num(s, "checks_in_flight"), num(s, "checks_assigned"));
        format!("{running}/{assigned}")
    }),
    stat("BUFFERED", |s| format!("{}", num(s, "results_buffered"))),
    stat("VERSION", |s| text(&s["agent_version"])),
]);

/// `check SERVICE`: one row per agent that probed.
pub const CHECKS: Layout = Layout::Table(&[
    field("AGENT", "agent"),
    field("OK", "ok"),
    field("CODE", "status_code"),
    field("ERROR", "error"),
    field("LATENCY MS", "latency_ms"),
    computed("PHASES", crate::outcome::details),
]);

/// `webhooks`.
pub const WEBHOOKS: Layout = Layout::Table(&[
    field("NAME", "name"),
    field("PENDING", "pending"),
    field("FAILED", "failed"),
    field("DELIVERED", "delivered"),
    field("DISABLED", "disabled"),
    field("SINCE", "disabled_at"),
    field("REASON", "disabled_reason"),
    field("ORIGIN", "origin"),
]);

/// `deliveries`: newest first.
pub const DELIVERIES: Layout = Layout::Table(&[
    field("ID", "id"),
    field("WEBHOOK", "webhook"),
    field("EVENT", "event"),
    field("SUBJECT", "subject"),
    field("STATE", "state"),
    field("ATTEMPTS", "attempts"),
    field("NEXT ATTEMPT", "next_attempt_at"),
    field("LAST ERROR", "last_error"),
]);

/// `events` without `--follow`.
pub const EVENTS: Layout = Layout::Lines(event_line);

/// A list command's output: a pretty JSON array, or `layout` for people.
pub fn list(
    values: impl IntoIterator<Item = Value>,
    layout: &Layout,
    json: bool,
) -> anyhow::Result<String> {
    let values: Vec<Value> = values.into_iter().collect();
    if json {
        return pretty(&Value::Array(values));
    }
    Ok(match layout {
        Layout::Table(columns) => table(columns, &values),
        Layout::Lines(line) => values.iter().map(line).collect::<Vec<_>>().join("\n"),
    })
}

/// A single object's output: pretty JSON, or one `key  value` line per field
/// (keys padded to align; a request's notes listed under `notes`).
pub fn object(value: &Value, json: bool) -> anyhow::Result<String> {
    if json {
        pretty(value)
    } else {
        Ok(fields(value))
    }
}

/// One line of `events --follow`: compact JSON, or the event line.
pub fn event(value: &Value, json: bool) -> String {
    if json {
        value.to_string()
    } else {
        event_line(value)
    }
}

/// Writes `text` and a newline to stdout, flushed.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{text}").context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")
}

fn pretty(value: &Value) -> anyhow::Result<String> {
    serde_json::to_string_pretty(value).context("cannot encode JSON")
}

fn event_line(v: &Value) -> String {
    format!(
        "{}  {}  {:<22} {}",
        text(&v["seq"]),
        text(&v["time"]),
        text(&v["type"]),
        text(&v["subject"])
    )
}

fn num(stats: &Value, key: &str) -> f64 {
    stats[key].as_f64().unwrap_or(0.0)
}

/// `used` as a whole percentage of `total`, `-` when the total is unknown.
fn share(stats: &Value, used: &str, total: &str) -> String {
    if num(stats, total) > 0.0 {
        format!("{:.0}%", 100.0 * num(stats, used) / num(stats, total))
    } else {
        "-".into()
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn cell(column: &Column, item: &Value) -> String {
    match column.cell {
        Cell::Field(key) => text(&item[key]).lines().next().unwrap_or("").to_owned(),
        Cell::Stat(compute) => match &item["stats"] {
            Value::Null => "-".to_owned(),
            stats => compute(stats),
        },
        Cell::Item(compute) => compute(item),
    }
}

/// Columns separated by two spaces and padded to their widest cell, except
/// the last one (so long URLs and names do not pad every line).
fn table(columns: &[Column], items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| columns.iter().map(|c| cell(c, item)).collect())
        .collect();
    let mut widths: Vec<usize> = columns.iter().map(|c| c.header.len()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = vec![line(columns.iter().map(|c| c.header.to_owned()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

fn fields(v: &Value) -> String {
    let Value::Object(map) = v else {
        return text(v);
    };
    let width = map.keys().map(String::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for (k, val) in map {
        match val {
            Value::Array(items) if k == "notes" => {
                out.push(format!("{k:<width$}  {}", items.len()));
                for n in items {
                    out.push(format!(
                        "  {} {}: {}",
                        text(&n["time"]),
                        text(&n["author"]),
                        text(&n["text"])
                    ));
                }
            }
            Value::Object(_) => out.push(format!("{k:<width$}  {val}")),
            _ => {
                let t = text(val);
                let mut lines = t.lines();
                out.push(format!("{k:<width$}  {}", lines.next().unwrap_or("")));
                for l in lines {
                    out.push(format!("{:<width$}  {l}", ""));
                }
            }
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests;
