//! The histogram: bucket bounds, the quantile error bound, merging and the
//! BLOB encoding.

use proptest::prelude::*;

use super::*;

fn histogram(values: &[u64]) -> Histogram {
    let mut h = Histogram::default();
    for &v in values {
        h.record(v);
    }
    h
}

fn exact(values: &[u64], q: f64) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[rank(q, sorted.len() as u64) as usize - 1]
}

#[test]
fn buckets_tile_the_range_and_hold_their_values() {
    let mut prev_high = 0;
    for index in 0..=MAX_BUCKET {
        let (low, high) = bucket_bounds(index);
        assert_eq!(
            low,
            prev_high,
            "bucket {index} starts where {} ends",
            index.max(1) - 1
        );
        assert_eq!(bucket_of(low), index);
        if index < MAX_BUCKET {
            assert_eq!(bucket_of(high - 1), index);
            assert!(
                (high - low) * 16 <= low.max(16),
                "bucket {index} at most 1/16 wide"
            );
        }
        prev_high = high;
    }
    assert_eq!(bucket_of(u64::MAX), MAX_BUCKET);
}

#[test]
fn an_empty_histogram_encodes_to_nothing_and_has_no_quantile() {
    let h = Histogram::default();
    assert!(h.encode().is_empty());
    assert_eq!(Histogram::decode(&[]), Ok(h.clone()));
    assert_eq!(h.quantile_bucket(0.5), None);
    assert_eq!(Latency::default().quantile_us(0.5), None);
}

#[test]
fn a_steady_hour_encodes_in_a_few_bytes() {
    // 180 probes (3 agents, 60 s) of a service answering in 41–44 ms.
    let values: Vec<u64> = (0..180).map(|i| 41_000 + (i * 17) % 3_000).collect();
    let bytes = histogram(&values).encode();
    assert!(bytes.len() <= 12, "{} bytes", bytes.len());
}

#[test]
fn bad_blobs_are_refused_with_the_reason() {
    assert_eq!(Histogram::decode(&[0x80]), Err(DecodeError::Truncated(0)));
    assert_eq!(Histogram::decode(&[3]), Err(DecodeError::Truncated(1)));
    assert_eq!(Histogram::decode(&[3, 0]), Err(DecodeError::ZeroCount(3)));
    assert_eq!(
        Histogram::decode(&[0xff, 0x7f, 1]),
        Err(DecodeError::Bucket(16383))
    );
    assert_eq!(
        Histogram::decode(&[0xff; 11]),
        Err(DecodeError::Overflow(0))
    );
}

#[test]
fn summaries_count_failures_and_time_only_successes() {
    let mut s = Summary::default();
    s.record(true, 100);
    s.record(false, 5_000_000);
    s.record(true, 300);
    assert_eq!((s.probes, s.failures), (3, 1));
    assert_eq!(s.uptime(), Some(2.0 / 3.0));
    assert_eq!(
        (
            s.latency.count,
            s.latency.sum_us,
            s.latency.min_us,
            s.latency.max_us
        ),
        (2, 400, Some(100), Some(300))
    );
    assert_eq!(s.latency.mean_us(), Some(200.0));
    assert_eq!(Summary::default().uptime(), None);
}

#[test]
fn periods_align_on_utc() {
    let t = 1_700_000_123_456;
    assert_eq!(Period::Hour.start_of(t), 1_699_999_200_000);
    assert_eq!(Period::Day.start_of(t), 1_699_920_000_000);
    assert_eq!(Period::Hour.start_of(-1), -3_600_000);
}

proptest! {
    #[test]
    fn encoding_round_trips(values in prop::collection::vec(any::<u64>(), 0..200)) {
        let h = histogram(&values);
        prop_assert_eq!(Histogram::decode(&h.encode()), Ok(h));
    }

    #[test]
    fn merge_is_associative_and_equals_recording_everything(
        a in prop::collection::vec(0u64..10_000_000, 0..50),
        b in prop::collection::vec(0u64..10_000_000, 0..50),
        c in prop::collection::vec(0u64..10_000_000, 0..50),
    ) {
        let lat = |vs: &[u64]| {
            let mut l = Latency::default();
            vs.iter().for_each(|&v| l.record(v));
            l
        };
        let (la, lb, lc) = (lat(&a), lat(&b), lat(&c));
        let mut left = la.clone();
        left.merge(&lb);
        left.merge(&lc);
        let mut bc = lb.clone();
        bc.merge(&lc);
        let mut right = la.clone();
        right.merge(&bc);
        prop_assert_eq!(&left, &right);
        let all: Vec<u64> = a.iter().chain(&b).chain(&c).copied().collect();
        prop_assert_eq!(&left, &lat(&all));
    }

    #[test]
    fn quantiles_are_within_a_thirty_second_of_exact(
        values in prop::collection::vec(1u64..100_000_000, 1..300),
        q in prop_oneof![Just(0.5), Just(0.95), Just(0.99), 0.0..=1.0f64],
    ) {
        let mut l = Latency::default();
        values.iter().for_each(|&v| l.record(v));
        let want = exact(&values, q);
        let got = l.quantile_us(q).expect("not empty");
        prop_assert_eq!(bucket_of(got), bucket_of(want));
        let error = (got as f64 - want as f64).abs() / want as f64;
        prop_assert!(error <= 1.0 / 32.0, "q {q}: {got} vs {want}: {error}");
    }
}
