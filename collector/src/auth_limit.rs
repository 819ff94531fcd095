//! The brake on guessing secrets: failed authentications are rate limited
//! per source address.
//!
//! Each source address (an IPv4 address, or an IPv6 /64, which one host
//! usually owns whole) has a token bucket of [`BURST`] failures that
//! refills one every [`REFILL_EVERY`]. Each attempt to authenticate takes
//! a token before the secret is looked at, and gives it back when the
//! secret was right (or the attempt ended before it was judged), so only
//! failures (a wrong enrollment token, agent credential or API bearer
//! token) use the bucket up, and concurrent guesses cannot overrun it. A
//! source with an empty bucket is answered `RESOURCE_EXHAUSTED` unread, so
//! a flood costs one map lookup per call and tells the guesser nothing.
//! Other addresses are unaffected: a good agent elsewhere still connects.
//!
//! Ten failures, then one every six seconds: a person mistyping a token or
//! an agent with a stale credential never meets the limit (the agent's
//! backoff already spaces its retries by seconds), while a guesser gets at
//! most 14 400 tries a day per address, against secrets of 128 bits or
//! more. Memory is bounded: a bucket that has refilled is forgotten (a
//! full bucket and no bucket mean the same), idle buckets are swept every
//! minute, and at most [`MAX_SOURCES`] are kept (past that the fullest one
//! makes room).
//!
//! [`Buckets`] is the pure bookkeeping, on injected time; [`AuthLimiter`]
//! is the shared handle the agent link and the API call, which also counts
//! failures and refusals in the metrics.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use crate::metrics::Metrics;

/// Failures a source may make in a row before it is limited.
pub const BURST: u32 = 10;
/// One more failure is allowed after each of these.
pub const REFILL_EVERY: Duration = Duration::from_secs(6);
/// The most sources tracked at once (about 40 bytes each).
pub const MAX_SOURCES: usize = 10_000;

/// Where failed attempts come from, as the limiter groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    /// The source of a connection: its IPv4 address, or the /64 of its IPv6
    /// address. A peer without an address (not over TCP) shares one bucket.
    pub fn of(peer: Option<SocketAddr>) -> Source {
        match peer.map(|p| p.ip().to_canonical()) {
            Some(IpAddr::V6(v6)) => {
                let bits = u128::from(v6) & (u128::MAX << 64);
                Source(IpAddr::V6(Ipv6Addr::from(bits)))
            }
            Some(v4) => Source(v4),
            None => Source(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        }
    }
}

/// What kind of secret was wrong (the `kind` label of the failures metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// A new agent's enrollment token.
    EnrollmentToken,
    /// A known agent's issued credential.
    Credential,
    /// A bearer token on the client API.
    Bearer,
    /// A heartbeat's token on `/ping/{token}`, or the heartbeat enrollment
    /// token on `/heartbeats/register`.
    HeartbeatToken,
}

impl AuthFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::EnrollmentToken => "enrollment_token",
            AuthFailure::Credential => "credential",
            AuthFailure::Bearer => "bearer",
            AuthFailure::HeartbeatToken => "heartbeat_token",
        }
    }
}

/// A source that failed too often; its call is refused unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed authentications from this address; retry later")]
pub struct RateLimited;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

/// The token buckets, one per source that failed recently. Pure: every
/// method takes the time.
#[derive(Debug)]
pub struct Buckets {
    map: HashMap<Source, Bucket>,
    burst: u32,
    refill_every: Duration,
    max_sources: usize,
    last_sweep: Option<Instant>,
}

impl Buckets {
    pub fn new(burst: u32, refill_every: Duration, max_sources: usize) -> Buckets {
        Buckets {
            map: HashMap::new(),
            burst: burst.max(1),
            refill_every: refill_every.max(Duration::from_millis(1)),
            max_sources: max_sources.max(1),
            last_sweep: None,
        }
    }

    /// Whether `source` may try a secret now (without taking a token).
    pub fn allows(&mut self, source: Source, now: Instant) -> bool {
        let (burst, every) = (self.burst, self.refill_every);
        match self.map.get_mut(&source) {
            None => true,
            Some(b) => refill(b, burst, every, now) > 0,
        }
    }

    /// Takes a token for an attempt by `source`: `false` (nothing taken)
    /// when its bucket is empty.
    pub fn take(&mut self, source: Source, now: Instant) -> bool {
        if !self.allows(source, now) {
            return false;
        }
        self.fail(source, now);
        true
    }

    /// Gives back the token of an attempt that did not fail.
    pub fn refund(&mut self, source: Source, now: Instant) {
        let (burst, every) = (self.burst, self.refill_every);
        if let Some(b) = self.map.get_mut(&source) {
            refill(b, burst, every, now);
            b.tokens = (b.tokens + 1).min(burst);
        }
    }

    /// Records a failed attempt by `source` (takes a token if it has one).
    pub fn fail(&mut self, source: Source, now: Instant) {
        let sweep_due = self
            .last_sweep
            .is_none_or(|t| now.saturating_duration_since(t) >= self.refill_every * self.burst);
        if sweep_due || (self.map.len() >= self.max_sources && !self.map.contains_key(&source)) {
            self.sweep(now);
        }
        let (burst, every) = (self.burst, self.refill_every);
        let bucket = self.map.entry(source).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        refill(bucket, burst, every, now);
        bucket.tokens = bucket.tokens.saturating_sub(1);
    }

    /// Sources tracked now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Forgets every refilled bucket; if still at the cap, the fullest.
    fn sweep(&mut self, now: Instant) {
        self.last_sweep = Some(now);
        let (burst, every) = (self.burst, self.refill_every);
        self.map.retain(|_, b| refill(b, burst, every, now) < burst);
        if self.map.len() >= self.max_sources {
            let fullest = self
                .map
                .iter()
                .max_by_key(|(_, b)| (b.tokens, std::cmp::Reverse(b.at)))
                .map(|(s, _)| *s);
            if let Some(s) = fullest {
                self.map.remove(&s);
            }
        }
    }
}

/// Brings `b` up to `now` and returns its tokens.
fn refill(b: &mut Bucket, burst: u32, every: Duration, now: Instant) -> u32 {
    let elapsed = now.saturating_duration_since(b.at);
    let earned = elapsed.as_nanos() / every.as_nanos();
    if earned > 0 {
        let earned = u32::try_from(earned).unwrap_or(u32::MAX);
        b.tokens = b.tokens.saturating_add(earned).min(burst);
        b.at = if b.tokens == burst {
            now
        } else {
            b.at + every * earned
        };
    }
    b.tokens
}

/// The limiter shared by the agent link and the API.
#[derive(Clone)]
pub struct AuthLimiter {
    buckets: Arc<Mutex<Buckets>>,
    metrics: Arc<Metrics>,
}

impl AuthLimiter {
    /// [`BURST`] failures, then one per [`REFILL_EVERY`], per source.
    pub fn new(metrics: Arc<Metrics>) -> AuthLimiter {
        AuthLimiter {
            buckets: Arc::new(Mutex::new(Buckets::new(BURST, REFILL_EVERY, MAX_SOURCES))),
            metrics,
        }
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, Buckets> {
        // The buckets stay consistent even if a holder panicked.
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an attempt by `peer` to authenticate, taking a token; refused
    /// (and counted) when its bucket is empty. Settle it with
    /// [`Attempt::failed`]; dropped otherwise, it gives the token back.
    pub fn attempt(&self, peer: Option<SocketAddr>) -> Result<Attempt, RateLimited> {
        let source = Source::of(peer);
        if self.buckets().take(source, Instant::now()) {
            Ok(Attempt {
                limiter: self.clone(),
                source,
                failed: false,
            })
        } else {
            self.metrics.auth_rate_limited.inc();
            Err(RateLimited)
        }
    }
}

/// One authentication in progress, holding a token of its source's bucket.
pub struct Attempt {
    limiter: AuthLimiter,
    source: Source,
    failed: bool,
}

impl Attempt {
    /// The secret was wrong: the token stays taken, and the failure counts.
    /// The failure that empties the bucket is logged (the refusals after
    /// it are only counted, so a flood cannot flood the log).
    pub fn failed(mut self, kind: AuthFailure) {
        self.failed = true;
        self.limiter.metrics.auth_failure(kind.as_str());
        if !self.limiter.buckets().allows(self.source, Instant::now()) {
            warn!(
                source = %self.source.0,
                kind = kind.as_str(),
                "too many failed authentications: refusing this address for a while"
            );
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.failed {
            self.limiter.buckets().refund(self.source, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests;
