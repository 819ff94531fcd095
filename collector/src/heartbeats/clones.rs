//! Clone detection, pure: a token pinged from two sources alternately
//! (A, B, A within one `period + grace`) belongs to a cloned instance.
//! One source that moves (A, A, B, B) is not a clone.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The last pings of one token.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    pings: VecDeque<(String, Instant)>,
}

impl Recent {
    /// Notes a ping from `source` at `now`; returns the two sources (sorted)
    /// when the last three pings alternate between them within `window`.
    pub fn ping(&mut self, source: &str, now: Instant, window: Duration) -> Option<Vec<String>> {
        self.pings.push_back((source.to_owned(), now));
        while self.pings.len() > 3 {
            self.pings.pop_front();
        }
        let ((a, t), (b, _), (c, _)) =
            (self.pings.front()?, self.pings.get(1)?, self.pings.get(2)?);
        let t = *t;
        (a == c && a != b && now.saturating_duration_since(t) <= window).then(|| {
            let mut sources = vec![a.to_owned(), b.to_owned()];
            sources.sort();
            sources
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(60);

    #[test]
    fn alternating_sources_within_the_window_are_a_clone() {
        let t0 = Instant::now();
        let mut r = Recent::default();
        assert_eq!(r.ping("10.0.0.1", t0, W), None);
        assert_eq!(r.ping("10.0.0.2", t0 + W / 4, W), None);
        assert_eq!(
            r.ping("10.0.0.1", t0 + W / 2, W),
            Some(vec!["10.0.0.1".to_owned(), "10.0.0.2".to_owned()])
        );
    }

    #[test]
    fn a_source_that_moves_or_alternates_slowly_is_not_a_clone() {
        let t0 = Instant::now();
        let mut r = Recent::default();
        for (i, s) in ["a", "a", "b", "b"].iter().enumerate() {
            assert_eq!(r.ping(s, t0 + W / 4 * i as u32, W), None, "moved, ping {i}");
        }
        let mut r = Recent::default();
        r.ping("a", t0, W);
        r.ping("b", t0 + W, W);
        assert_eq!(
            r.ping("a", t0 + W * 2, W),
            None,
            "A..A over more than a window"
        );
    }
}
