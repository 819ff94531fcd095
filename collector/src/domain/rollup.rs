//! Rollup arithmetic: what an hourly or daily rollup row holds and how two
//! of them merge. Pure data, no IO; `store::rollups` persists it.
//!
//! A [`Summary`] counts probes (every result) and failures (`ok = false`);
//! uptime is `(probes - failures) / probes`. Its [`Latency`] covers the
//! successful probes only: count, sum, min, max and a [`Histogram`] of
//! fixed log-spaced buckets, so percentiles of a day are those of its hours
//! merged, without the raw rows.
//!
//! **Buckets.** Values (microseconds) below 16 have a bucket each. Above,
//! each power of two `[2^e, 2^(e+1))` is cut into 16 equal buckets: bucket
//! `16 + 16·(e-4) + m` holds `[(16+m)·2^(e-4), (17+m)·2^(e-4))`. A bucket is
//! at most 1/16 of its lower bound wide, and a quantile is reported as its
//! bucket's midpoint, so it is within 1/32 (3.1 %) of the exact value
//! (nearest-rank definition). 20–300 ms spans 62 buckets; u64 needs 976.
//!
//! **Encoding** (the rollups' `histogram` BLOB): the non-empty buckets in
//! increasing order, each as two LEB128 varints: the gap from the previous
//! bucket + 1 (the first: its index), then its count. Empty: zero bytes. An
//! hour of a steady service touches a handful of buckets: a few bytes each.

use std::collections::BTreeMap;

/// Sub-buckets per power of two, as a bit count (16 sub-buckets).
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// The highest bucket index (of `u64::MAX`).
pub const MAX_BUCKET: u32 = (SUB + (63 - SUB_BITS as u64) * SUB + SUB - 1) as u32;

/// Rollup period, aligned on UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Hour,
    Day,
}

impl Period {
    pub const ALL: [Period; 2] = [Period::Hour, Period::Day];

    /// The period's length in seconds (the rollups' `period_s`).
    pub fn seconds(self) -> i64 {
        match self {
            Period::Hour => 3600,
            Period::Day => 86_400,
        }
    }

    pub fn millis(self) -> i64 {
        self.seconds() * 1000
    }

    /// The start of the period holding `time_ms` (epoch milliseconds, UTC).
    pub fn start_of(self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.millis()) * self.millis()
    }
}

/// Whose probes a rollup counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// One service, from every agent.
    Service,
    /// One agent, every service it probed.
    Agent,
}

impl Scope {
    /// The rollups' `scope` column.
    pub fn code(self) -> i64 {
        match self {
            Scope::Service => 0,
            Scope::Agent => 1,
        }
    }
}

/// The bucket holding `value`.
pub fn bucket_of(value: u64) -> u32 {
    if value < SUB {
        return value as u32;
    }
    let exp = 63 - value.leading_zeros();
    let shift = exp - SUB_BITS;
    let sub = (value >> shift) - SUB;
    (SUB as u32) + shift * (SUB as u32) + sub as u32
}

/// The values bucket `index` holds: `[low, high)` (high saturates at
/// `u64::MAX` for the last bucket).
pub fn bucket_bounds(index: u32) -> (u64, u64) {
    let index = u64::from(index);
    if index < SUB {
        return (index, index + 1);
    }
    let shift = (index - SUB) / SUB;
    let sub = (index - SUB) % SUB;
    let low = (u128::from(SUB + sub)) << shift;
    let high = (u128::from(SUB + sub + 1)) << shift;
    (low as u64, high.min(u128::from(u64::MAX)) as u64)
}

/// The value reported for bucket `index`: its midpoint.
pub fn bucket_value(index: u32) -> u64 {
    let (low, high) = bucket_bounds(index);
    low + (high - low) / 2
}

/// The 1-based nearest rank of quantile `q` among `n` values.
pub fn rank(q: f64, n: u64) -> u64 {
    ((q * n as f64).ceil() as u64).clamp(1, n.max(1))
}

/// Why a histogram BLOB does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("histogram: truncated varint at byte {0}")]
    Truncated(usize),
    #[error("histogram: varint too long at byte {0}")]
    Overflow(usize),
    #[error("histogram: bucket {0} out of range")]
    Bucket(u64),
    #[error("histogram: zero count for bucket {0}")]
    ZeroCount(u64),
}

/// Counts per bucket; merging adds counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: BTreeMap<u32, u64>,
}

impl Histogram {
    pub fn record(&mut self, value: u64) {
        *self.counts.entry(bucket_of(value)).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (&bucket, &n) in &other.counts {
            *self.counts.entry(bucket).or_insert(0) += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The bucket holding the nearest-rank `q` quantile; `None` when empty.
    pub fn quantile_bucket(&self, q: f64) -> Option<u32> {
        let wanted = rank(q, self.total());
        let mut seen = 0;
        for (&bucket, &n) in &self.counts {
            seen += n;
            if seen >= wanted {
                return Some(bucket);
            }
        }
        None
    }

    /// The sparse varint encoding (see the module doc).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.counts.len() * 3);
        let mut next = 0u64;
        for (&bucket, &n) in &self.counts {
            put_varint(&mut out, u64::from(bucket) - next);
            put_varint(&mut out, n);
            next = u64::from(bucket) + 1;
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Histogram, DecodeError> {
        let mut counts = BTreeMap::new();
        let mut at = 0;
        let mut next = 0u64;
        while at < bytes.len() {
            let gap = get_varint(bytes, &mut at)?;
            let bucket = next
                .checked_add(gap)
                .filter(|&b| b <= u64::from(MAX_BUCKET))
                .ok_or(DecodeError::Bucket(next.saturating_add(gap)))?;
            let n = get_varint(bytes, &mut at)?;
            if n == 0 {
                return Err(DecodeError::ZeroCount(bucket));
            }
            counts.insert(bucket as u32, n);
            next = bucket + 1;
        }
        Ok(Histogram { counts })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64, DecodeError> {
    let start = *at;
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&b) = bytes.get(*at) else {
            return Err(DecodeError::Truncated(start));
        };
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(DecodeError::Overflow(start))
}

/// Latency of the successful probes of a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latency {
    pub count: u64,
    pub sum_us: u64,
    pub min_us: Option<u64>,
    pub max_us: Option<u64>,
    pub histogram: Histogram,
}

impl Latency {
    pub fn record(&mut self, us: u64) {
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.min_us = Some(self.min_us.map_or(us, |m| m.min(us)));
        self.max_us = Some(self.max_us.map_or(us, |m| m.max(us)));
        self.histogram.record(us);
    }

    pub fn merge(&mut self, other: &Latency) {
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.min_us = min_opt(self.min_us, other.min_us, u64::min);
        self.max_us = min_opt(self.max_us, other.max_us, u64::max);
        self.histogram.merge(&other.histogram);
    }

    pub fn mean_us(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_us as f64 / self.count as f64)
    }

    /// The `q` quantile (0..=1): its bucket's midpoint, kept within
    /// [min, max]; `None` without successful probes.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let value = bucket_value(self.histogram.quantile_bucket(q)?);
        let low = self.min_us.unwrap_or(0);
        let high = self.max_us.unwrap_or(u64::MAX).max(low);
        Some(value.clamp(low, high))
    }
}

fn min_opt(a: Option<u64>, b: Option<u64>, pick: fn(u64, u64) -> u64) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// One rollup: probes, failures and the successful probes' latency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub probes: u64,
    pub failures: u64,
    pub latency: Latency,
}

impl Summary {
    /// Counts one result.
    pub fn record(&mut self, ok: bool, duration_us: u64) {
        self.probes += 1;
        if ok {
            self.latency.record(duration_us);
        } else {
            self.failures += 1;
        }
    }

    pub fn merge(&mut self, other: &Summary) {
        self.probes += other.probes;
        self.failures += other.failures;
        self.latency.merge(&other.latency);
    }

    /// Share of successful probes, `None` without probes.
    pub fn uptime(&self) -> Option<f64> {
        (self.probes > 0).then(|| (self.probes - self.failures) as f64 / self.probes as f64)
    }
}

/// What `GetService` (and later the status page) shows of one subject:
/// windows ending now, and one bar per UTC day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The current hour and the 23 before it.
    pub last_24h: Summary,
    /// The current hour and the 167 before it.
    pub last_7d: Summary,
    /// Today (so far) and the 29 days before it.
    pub last_30d: Summary,
    /// The last 90 days, oldest first, today last: (day start ms, summary).
    pub daily: Vec<(i64, Summary)>,
}

#[cfg(test)]
mod tests;
