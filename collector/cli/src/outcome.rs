//! One probe result as text for people, from its JSON document
//! ([`crate::convert::check_result`]): the phases
//! (`dns 1.2ms connect 0.8ms tls 12.0ms processing 16.1ms transfer 2.0ms`), the
//! certificate expiry (`cert expires 2027-01-02 (34 days)`) and, for
//! `service ID`, one line per agent. Pure: the time the expiry counts from
//! is an argument.

use serde_json::Value;

/// The measured phases, in order; empty when none was measured.
pub fn phases(r: &Value) -> String {
    [
        ("dns", "dns_ms"),
        ("connect", "connect_ms"),
        ("tls", "tls_ms"),
        ("processing", "processing_ms"),
        ("transfer", "transfer_ms"),
    ]
    .iter()
    .filter_map(|(label, key)| r[key].as_f64().map(|ms| format!("{label} {ms:.1}ms")))
    .collect::<Vec<_>>()
    .join(" ")
}

/// `cert expires DATE (N days)` counted from `now_ms` (`expired N days
/// ago` once past), or `None` without a known expiry.
pub fn cert(r: &Value, now_ms: i64) -> Option<String> {
    let at = r["cert_expires_at"].as_str()?;
    let expires = humantime::parse_rfc3339(at).ok()?;
    let ms = expires
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as i64;
    let days = (ms - now_ms).div_euclid(86_400_000);
    let date = at.get(..10).unwrap_or(at);
    Some(match days {
        d if d < 0 => format!("cert expired {date} ({} days ago)", -d),
        1 => format!("cert expires {date} (1 day)"),
        d => format!("cert expires {date} ({d} days)"),
    })
}

/// The phases then the certificate expiry, counted from the result's own
/// time (a `check SERVICE` answer is fresh).
pub fn details(r: &Value) -> String {
    let now = r["time"]
        .as_str()
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    join([phases(r), cert(r, now).unwrap_or_default()])
}

/// `service ID`'s line for one agent's latest result: who, when, the
/// outcome and latency, the phases, the certificate expiry from `now_ms`.
pub fn agent_line(r: &Value, now_ms: i64) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let who = match r["region"].as_str() {
        Some(region) => format!("{} ({region})", text(&r["agent"])),
        None => text(&r["agent"]),
    };
    let code = r["status_code"]
        .as_u64()
        .map_or(String::new(), |c| c.to_string());
    let outcome = if r["ok"].as_bool() == Some(true) {
        format!("ok {code}")
    } else {
        format!("failed {}", text(&r["error"]))
    };
    let latency = r["latency_ms"]
        .as_f64()
        .map_or(String::new(), |ms| format!("{ms:.1}ms"));
    join([
        who,
        text(&r["time"]),
        outcome.trim_end().to_owned(),
        latency,
        phases(r),
        cert(r, now_ms).unwrap_or_default(),
    ])
}

/// The non-empty parts, two spaces apart.
fn join<const N: usize>(parts: [String; N]) -> String {
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("  ")
}
