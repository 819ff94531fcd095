use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn src(ip: &str) -> Source {
    Source::of(Some(SocketAddr::new(ip.parse().unwrap(), 4242)))
}

fn fail_n(b: &mut Buckets, s: Source, n: u32, now: Instant) {
    for _ in 0..n {
        b.fail(s, now);
    }
}

#[test]
fn ten_failures_then_one_per_six_seconds() {
    let t0 = Instant::now();
    let mut b = Buckets::new(BURST, REFILL_EVERY, MAX_SOURCES);
    let a = src("10.0.0.1");
    for i in 0..BURST {
        assert!(b.allows(a, t0), "failure {i} is still allowed");
        b.fail(a, t0);
    }
    assert!(!b.allows(a, t0), "the 11th try is refused");
    assert!(!b.allows(a, t0 + REFILL_EVERY - Duration::from_millis(1)));
    let t1 = t0 + REFILL_EVERY;
    assert!(b.allows(a, t1), "one token back after 6 s");
    b.fail(a, t1);
    assert!(!b.allows(a, t1 + Duration::from_secs(5)), "and spent");
    // Refilling is exact over many periods: 3 periods later, 3 tries.
    let t2 = t1 + REFILL_EVERY * 3;
    fail_n(&mut b, a, 3, t2);
    assert!(!b.allows(a, t2));
    // A long quiet spell restores the whole burst, not more.
    let t3 = t2 + REFILL_EVERY * 100;
    fail_n(&mut b, a, BURST, t3);
    assert!(!b.allows(a, t3));
}

#[test]
fn other_sources_are_not_affected() {
    let t0 = Instant::now();
    let mut b = Buckets::new(BURST, REFILL_EVERY, MAX_SOURCES);
    fail_n(&mut b, src("127.0.0.2"), 10_000, t0);
    assert!(!b.allows(src("127.0.0.2"), t0));
    assert!(b.allows(src("127.0.0.1"), t0));
    assert_eq!(b.len(), 1, "successes and other sources take no memory");
}

#[test]
fn an_ipv6_slash_64_is_one_source_and_mapped_v4_is_v4() {
    assert_eq!(src("2001:db8:1:2::1"), src("2001:db8:1:2:ffff::9"));
    assert_ne!(src("2001:db8:1:2::1"), src("2001:db8:1:3::1"));
    assert_eq!(src("::ffff:10.0.0.1"), src("10.0.0.1"));
    assert_ne!(src("10.0.0.1"), src("10.0.0.2"));
    assert_eq!(Source::of(None), Source::of(None));
}

#[test]
fn memory_is_bounded_and_idle_buckets_are_forgotten() {
    let t0 = Instant::now();
    let mut b = Buckets::new(BURST, REFILL_EVERY, 100);
    for i in 0..20_000u32 {
        let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000u32 + i));
        b.fail(Source::of(Some(SocketAddr::new(ip, 1))), t0);
        assert!(b.len() <= 100, "{} sources after {i}", b.len());
    }
    // A source under attack keeps its empty bucket through the churn.
    let mut b = Buckets::new(BURST, REFILL_EVERY, 100);
    let attacker = src("10.9.9.9");
    fail_n(&mut b, attacker, BURST, t0);
    for i in 0..1000u32 {
        b.fail(
            Source::of(Some(SocketAddr::new(
                IpAddr::from(std::net::Ipv4Addr::from(i)),
                1,
            ))),
            t0,
        );
    }
    assert!(!b.allows(attacker, t0), "the emptiest bucket is kept");
    // Once refilled, every bucket is swept at the next failure after a minute.
    let later = t0 + REFILL_EVERY * BURST;
    b.fail(src("10.1.1.1"), later);
    assert_eq!(b.len(), 1, "idle buckets are forgotten");
}

#[test]
fn an_attempt_holds_a_token_until_it_succeeds() {
    let t0 = Instant::now();
    let mut b = Buckets::new(BURST, REFILL_EVERY, MAX_SOURCES);
    let a = src("10.0.0.1");
    // Concurrent attempts cannot overrun the bucket: each holds a token.
    for i in 0..BURST {
        assert!(b.take(a, t0), "attempt {i}");
    }
    assert!(!b.take(a, t0), "an 11th attempt in flight is refused");
    // Those that succeed give their token back; failures keep theirs.
    for _ in 0..3 {
        b.refund(a, t0);
    }
    for i in 0..3 {
        assert!(b.take(a, t0), "refunded attempt {i}");
    }
    assert!(!b.take(a, t0));
    // A refund never fills past the burst.
    let mut b = Buckets::new(BURST, REFILL_EVERY, MAX_SOURCES);
    assert!(b.take(a, t0));
    for _ in 0..5 {
        b.refund(a, t0);
    }
    fail_n(&mut b, a, BURST, t0);
    assert!(!b.allows(a, t0));
}
