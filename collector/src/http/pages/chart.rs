//! The latency chart of a service page: hourly p50 and p95 from the
//! rollups, laid out as inline-SVG geometry (polylines, axis ticks) plus
//! the same figures as table rows and a summary in words (the text
//! alternatives). Pure; the template draws it.

use super::view::{micros, time};
use crate::domain::rollup::{Period, Summary};

/// The SVG's size and plot margins, in SVG units.
pub const WIDTH: i64 = 720;
pub const HEIGHT: i64 = 220;
const LEFT: i64 = 64;
const RIGHT: i64 = 28;
const TOP: i64 = 12;
const BOTTOM: i64 = 32;

/// An axis label and where it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub at: i64,
    pub label: String,
}

/// One hour in the table alternative.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub hour: String,
    pub probes: u64,
    pub p50: String,
    pub p95: String,
}

/// The chart, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// `x,y` point lists, one per run of consecutive hours with data.
    pub p50: Vec<String>,
    pub p95: Vec<String>,
    /// Every point as a dot (an hour alone draws no line).
    pub p50_dots: Vec<(i64, i64)>,
    pub p95_dots: Vec<(i64, i64)>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    /// Plot edges, for the axes.
    pub left: i64,
    pub right: i64,
    pub top: i64,
    pub bottom: i64,
    pub rows: Vec<Row>,
    /// The figures in words.
    pub summary: String,
}

/// The chart of `hours` (hourly rollups, any order) over the `count`
/// hours starting at `first_hour_ms`.
pub fn latency(hours: &[(i64, Summary)], first_hour_ms: i64, count: i64) -> Chart {
    let step = Period::Hour.millis();
    let slots: Vec<(i64, Option<&Summary>)> = (0..count)
        .map(|i| {
            let start = first_hour_ms + i * step;
            (
                start,
                hours.iter().find(|(s, _)| *s == start).map(|(_, x)| x),
            )
        })
        .collect();
    let q = |s: Option<&Summary>, q: f64| s.and_then(|s| s.latency.quantile_us(q));
    let max_us = slots
        .iter()
        .filter_map(|(_, s)| q(*s, 0.95))
        .max()
        .unwrap_or(0);
    let top_us = nice_ceiling(max_us.max(1_000));
    let (right, bottom) = (WIDTH - RIGHT, HEIGHT - BOTTOM);
    let x = |i: i64| LEFT + (right - LEFT) * i / (count - 1).max(1);
    let y = |us: u64| bottom - ((bottom - TOP) as f64 * us as f64 / top_us as f64).round() as i64;
    let runs = |quantile: f64| -> Vec<String> {
        let mut out = Vec::new();
        let mut run = String::new();
        for (i, (_, s)) in slots.iter().enumerate() {
            match q(*s, quantile) {
                Some(us) => {
                    if !run.is_empty() {
                        run.push(' ');
                    }
                    run.push_str(&format!("{},{}", x(i as i64), y(us)));
                }
                None if !run.is_empty() => out.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        if !run.is_empty() {
            out.push(run);
        }
        out
    };
    let dots = |quantile: f64| -> Vec<(i64, i64)> {
        slots
            .iter()
            .enumerate()
            .filter_map(|(i, (_, s))| q(*s, quantile).map(|us| (x(i as i64), y(us))))
            .collect()
    };
    let x_ticks = (0..count)
        .step_by(6)
        .chain(std::iter::once(count - 1))
        .map(|i| Tick {
            at: x(i),
            label: hour_label(first_hour_ms + i * step),
        })
        .collect();
    let y_ticks = (0..=4)
        .map(|k| {
            let us = top_us * k / 4;
            Tick {
                at: y(us),
                label: if us == 0 { "0".to_owned() } else { micros(us) },
            }
        })
        .collect();
    let rows = slots
        .iter()
        .map(|(start, s)| Row {
            hour: time(*start),
            probes: s.map_or(0, |s| s.probes),
            p50: q(*s, 0.5).map_or_else(|| "—".to_owned(), micros),
            p95: q(*s, 0.95).map_or_else(|| "—".to_owned(), micros),
        })
        .collect();
    let mut total = Summary::default();
    slots
        .iter()
        .filter_map(|(_, s)| *s)
        .for_each(|s| total.merge(s));
    let summary = match (
        total.latency.quantile_us(0.5),
        total.latency.quantile_us(0.95),
    ) {
        (Some(p50), Some(p95)) => format!(
            "Over the last {count} hours: median latency {}, 95th percentile {}, slowest hour's 95th percentile {}.",
            micros(p50),
            micros(p95),
            micros(max_us)
        ),
        _ => format!("No successful probe in the last {count} hours."),
    };
    Chart {
        p50: runs(0.5),
        p95: runs(0.95),
        p50_dots: dots(0.5),
        p95_dots: dots(0.95),
        x_ticks,
        y_ticks,
        left: LEFT,
        right,
        top: TOP,
        bottom,
        rows,
        summary,
    }
}

/// `HH:00` of an hour start.
fn hour_label(ms: i64) -> String {
    let t = time(ms);
    t.get(11..16).unwrap_or(&t).to_owned()
}

/// The smallest 1, 2 or 5 × 10^k at or above `v`.
fn nice_ceiling(v: u64) -> u64 {
    let mut base = 1u64;
    loop {
        for m in [1, 2, 5] {
            if let Some(c) = base.checked_mul(m)
                && c >= v
            {
                return c;
            }
        }
        match base.checked_mul(10) {
            Some(b) => base = b,
            None => return u64::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    /// 2026-11-30T00:00:00Z.
    const T0: i64 = 1_795_996_800_000;

    fn hour(latencies_us: &[u64]) -> Summary {
        let mut s = Summary::default();
        latencies_us.iter().for_each(|&us| s.record(true, us));
        s
    }

    #[test]
    fn nice_ceilings() {
        for (v, c) in [(1, 1), (3, 5), (7, 10), (1_001, 2_000), (45_000, 50_000)] {
            assert_eq!(nice_ceiling(v), c, "{v}");
        }
    }

    #[test]
    fn hours_without_data_split_the_lines_and_the_table_says_so() {
        let hours = vec![
            (T0, hour(&[10_000, 20_000])),
            (T0 + HOUR, hour(&[30_000])),
            (T0 + 3 * HOUR, hour(&[40_000])),
        ];
        let c = latency(&hours, T0, 4);
        assert_eq!(c.p50.len(), 2, "{:?}", c.p50);
        assert_eq!(c.p50[0].split(' ').count(), 2);
        assert!(c.p50[1].starts_with(&format!("{},", c.right)));
        assert_eq!(c.p50_dots.len(), 3, "one dot per hour with data");
        assert_eq!(c.rows[2].p50, "—");
        assert_eq!(c.rows[2].probes, 0);
        assert_eq!(c.rows[0].hour, "2026-11-30 00:00:00 UTC");
        assert_eq!(c.y_ticks.last().map(|t| t.label.as_str()), Some("50.0 ms"));
        assert_eq!(c.y_ticks.last().map(|t| t.at), Some(c.top));
        assert_eq!(c.x_ticks[0].label, "00:00");
        assert!(
            c.summary
                .starts_with("Over the last 4 hours: median latency"),
            "{}",
            c.summary
        );
    }

    #[test]
    fn no_data_says_so_in_words() {
        let c = latency(&[], T0, 24);
        assert!(c.p50.is_empty() && c.p95.is_empty());
        assert_eq!(c.summary, "No successful probe in the last 24 hours.");
        assert_eq!(c.rows.len(), 24);
    }
}
