//! The collector's own metric values: atomic [`Counter`] and [`Gauge`],
//! [`Labeled`] families of them keyed by label values (few series each:
//! reasons, kinds, webhooks), and a fixed-bucket [`Histogram`]. Each knows
//! how to write itself into an exposition [`Family`]; none allocates per
//! update except a labelled series' first.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use super::exposition::{Family, push_label, push_value};

/// A monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.inc_by(1);
    }

    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Series of one family keyed by their label values, in `names` order.
#[derive(Debug)]
pub struct Labeled {
    names: &'static [&'static str],
    series: Mutex<BTreeMap<Vec<String>, i64>>,
}

impl Labeled {
    pub const fn new(names: &'static [&'static str]) -> Labeled {
        Labeled {
            names,
            series: Mutex::new(BTreeMap::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<Vec<String>, i64>) -> R) -> R {
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut series)
    }

    /// Adds `n` to the series with these label values.
    pub fn add(&self, values: &[&str], n: i64) {
        debug_assert_eq!(values.len(), self.names.len());
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        self.with(|s| *s.entry(key).or_insert(0) += n);
    }

    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1);
    }

    pub fn set(&self, values: &[&str], v: i64) {
        self.with(|s| s.insert(values.iter().map(|v| (*v).to_owned()).collect(), v));
    }

    /// Drops the series with these label values.
    pub fn remove(&self, values: &[&str]) {
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        self.with(|s| s.remove(&key));
    }

    /// The value of one series (tests).
    pub fn get(&self, values: &[&str]) -> Option<i64> {
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        self.with(|s| s.get(&key).copied())
    }

    /// Writes every series (copied out under the lock).
    pub fn write(&self, family: &mut Family) {
        let series: Vec<(Vec<String>, i64)> =
            self.with(|s| s.iter().map(|(k, v)| (k.clone(), *v)).collect());
        for (values, v) in series {
            let mut labels = String::new();
            for (name, value) in self.names.iter().zip(&values) {
                push_label(&mut labels, name, value);
            }
            family.sample_int(&labels, v);
        }
    }
}

/// A histogram of durations with fixed upper bounds (seconds).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative), plus the `+Inf` one last.
    counts: Box<[AtomicU64]>,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self.bounds.partition_point(|b| *b < secs);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// `_bucket{le=…}` (cumulative), `_sum` and `_count`.
    pub fn write(&self, family: &mut Family) {
        let mut cumulative = 0;
        let mut le = String::new();
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            le.clear();
            let mut bound = String::new();
            push_value(
                &mut bound,
                self.bounds.get(i).copied().unwrap_or(f64::INFINITY),
            );
            push_label(&mut le, "le", &bound);
            family.sample_named("_bucket", &le, cumulative as f64);
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        family.sample_named("_sum", "", sum);
        family.sample_named("_count", "", cumulative as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exposition::{Format, Kind};

    #[test]
    fn histogram_buckets_are_cumulative_and_inclusive() {
        static BOUNDS: [f64; 3] = [0.01, 0.1, 1.0];
        let h = Histogram::new(&BOUNDS);
        for ms in [5, 10, 50, 100, 2000] {
            h.observe(Duration::from_millis(ms));
        }
        let mut f = Family::new(Format::Text, "t_seconds", Kind::Histogram, "T");
        h.write(&mut f);
        let body: Vec<&str> = f.out.lines().skip(2).collect();
        assert_eq!(
            body,
            [
                r#"t_seconds_bucket{le="0.01"} 2"#,
                r#"t_seconds_bucket{le="0.1"} 4"#,
                r#"t_seconds_bucket{le="1"} 4"#,
                r#"t_seconds_bucket{le="+Inf"} 5"#,
                "t_seconds_sum 2.165",
                "t_seconds_count 5",
            ]
        );
    }

    #[test]
    fn labeled_series_add_set_and_remove() {
        let l = Labeled::new(&["webhook", "outcome"]);
        l.inc(&["ops", "delivered"]);
        l.add(&["ops", "delivered"], 2);
        l.set(&["x\"y", "failed"], 7);
        assert_eq!(l.get(&["ops", "delivered"]), Some(3));
        let mut f = Family::new(Format::Text, "d_total", Kind::Counter, "D");
        l.write(&mut f);
        assert!(
            f.out
                .contains("d_total{webhook=\"ops\",outcome=\"delivered\"} 3\n"),
            "{}",
            f.out
        );
        assert!(
            f.out
                .contains("d_total{webhook=\"x\\\"y\",outcome=\"failed\"} 7\n"),
            "{}",
            f.out
        );
        l.remove(&["ops", "delivered"]);
        assert_eq!(l.get(&["ops", "delivered"]), None);
    }
}
