//! `Outbox`: the bounded buffer of probe reports the collector has not
//! acknowledged yet, and the numbering of results.
//!
//! A plain struct owned by the link actor; no IO, no clock. Every report gets
//! a sequence number when it enters, strictly increasing. Reports leave only
//! when an Ack (or a Welcome's `last_committed_seq`) covers them, or when the
//! buffer is full and the oldest is dropped (and counted). After every
//! (re)connect the whole buffer is sent again, in order.

use std::collections::VecDeque;

use crate::domain::ProbeReport;

/// A report with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequenced {
    /// Per-agent sequence number.
    pub seq: u64,
    /// The report.
    pub report: ProbeReport,
}

/// Bounded buffer of unacknowledged results.
#[derive(Debug)]
pub struct Outbox {
    items: VecDeque<Sequenced>,
    capacity: usize,
    next_seq: u64,
    /// Highest seq ever handed out for sending (over all sessions); items at
    /// or below it may be committed and keep their number.
    sent_ever: u64,
    /// Highest seq handed out for sending in the current session.
    sent_session: u64,
    dropped: u64,
}

impl Outbox {
    /// An empty outbox holding at most `capacity` reports (at least 1).
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 1,
            sent_ever: 0,
            sent_session: 0,
            dropped: 0,
        }
    }

    /// Numbers and buffers a report; drops the oldest when full. Returns the
    /// report's sequence number.
    pub fn push(&mut self, report: ProbeReport) -> u64 {
        if self.items.len() >= self.capacity {
            self.items.pop_front();
            self.dropped += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.items.push_back(Sequenced { seq, report });
        seq
    }

    /// Drops every report with `seq <= upto`.
    pub fn ack(&mut self, upto: u64) {
        while self.items.front().is_some_and(|i| i.seq <= upto) {
            self.items.pop_front();
        }
    }

    /// A new session began with the collector's `last_committed_seq`: drop
    /// what it committed, make sure new numbers lie above it, and mark the
    /// whole buffer for sending again.
    ///
    /// Reports never sent (e.g. buffered before the first connection after a
    /// restart) cannot be committed, so if their numbers collide with the
    /// committed range they are renumbered above it instead of being dropped.
    pub fn start_session(&mut self, last_committed: u64) {
        let keep_from = self
            .items
            .iter()
            .position(|i| i.seq > last_committed || i.seq > self.sent_ever)
            .unwrap_or(self.items.len());
        self.items.drain(..keep_from);
        let mut floor = last_committed;
        for item in self.items.iter_mut() {
            if item.seq <= self.sent_ever {
                floor = floor.max(item.seq);
            } else if item.seq <= floor {
                item.seq = floor + 1;
                floor = item.seq;
            } else {
                floor = item.seq;
            }
        }
        self.next_seq = self.next_seq.max(floor + 1).max(last_committed + 1);
        self.sent_session = 0;
    }

    /// Whether some buffered report has not been sent in this session.
    pub fn has_unsent(&self) -> bool {
        self.items.back().is_some_and(|i| i.seq > self.sent_session)
    }

    /// The next (at most `max`) reports not yet sent in this session, in
    /// order, marked as sent.
    pub fn next_batch(&mut self, max: usize) -> Vec<Sequenced> {
        let start = self.items.partition_point(|i| i.seq <= self.sent_session);
        let batch: Vec<Sequenced> = self.items.iter().skip(start).take(max).cloned().collect();
        if let Some(last) = batch.last() {
            self.sent_session = last.seq;
            self.sent_ever = self.sent_ever.max(last.seq);
        }
        batch
    }

    /// Reports waiting for acknowledgement.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Reports dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The number the next report will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn report(id: &str) -> ProbeReport {
        ProbeReport {
            check_id: id.into(),
            round_id: 0,
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::ZERO,
            status_code: 200,
            failure: None,
            phases: Default::default(),
            cert_not_after: None,
        }
    }

    fn seqs(batch: &[Sequenced]) -> Vec<u64> {
        batch.iter().map(|s| s.seq).collect()
    }

    fn filled(n: usize, capacity: usize) -> Outbox {
        let mut o = Outbox::new(capacity);
        for i in 0..n {
            o.push(report(&format!("c{i}")));
        }
        o
    }

    #[test]
    fn numbers_strictly_increase_and_batches_are_bounded() {
        let mut o = filled(5, 100);
        assert_eq!(seqs(&o.next_batch(2)), [1, 2]);
        assert_eq!(seqs(&o.next_batch(10)), [3, 4, 5]);
        assert!(!o.has_unsent());
        assert!(o.next_batch(10).is_empty());
        o.push(report("x"));
        assert!(o.has_unsent());
        assert_eq!(seqs(&o.next_batch(10)), [6]);
    }

    #[test]
    fn acks_drop_covered_reports() {
        let mut o = filled(5, 100);
        o.next_batch(10);
        o.ack(3);
        assert_eq!(o.len(), 2);
        o.ack(2);
        assert_eq!(o.len(), 2);
        o.ack(99);
        assert!(o.is_empty());
    }

    #[test]
    fn full_buffer_drops_oldest_and_counts() {
        let mut o = filled(5, 3);
        assert_eq!(o.len(), 3);
        assert_eq!(o.dropped(), 2);
        assert_eq!(seqs(&o.next_batch(10)), [3, 4, 5]);
    }

    #[test]
    fn reconnect_replays_unacked_in_order() {
        let mut o = filled(4, 100);
        o.next_batch(10);
        o.ack(1);
        o.push(report("late"));
        // Reconnect: the collector committed up to 2.
        o.start_session(2);
        assert_eq!(seqs(&o.next_batch(10)), [3, 4, 5]);
        assert_eq!(o.next_seq(), 6);
    }

    #[test]
    fn welcome_raises_next_seq_above_committed() {
        let mut o = Outbox::new(10);
        o.start_session(41);
        assert_eq!(o.push(report("a")), 42);
    }

    #[test]
    fn never_sent_reports_are_renumbered_not_dropped() {
        // A restarted agent buffered 3 reports before its first connection;
        // the collector has committed 10 from the previous process.
        let mut o = filled(3, 100);
        o.start_session(10);
        assert_eq!(seqs(&o.next_batch(10)), [11, 12, 13]);
        assert_eq!(o.push(report("d")), 14);
    }

    #[test]
    fn sent_reports_keep_numbers_and_new_ones_follow() {
        let mut o = filled(3, 100);
        o.next_batch(2); // 1, 2 sent; 3 never sent
        o.start_session(2); // collector committed 1 and 2
        assert_eq!(seqs(&o.next_batch(10)), [3]);
        o.push(report("d"));
        // Collector restarted and lost nothing but knows only up to 1.
        o.start_session(1);
        assert_eq!(seqs(&o.next_batch(10)), [3, 4]);
    }

    #[test]
    fn numbers_stay_increasing_after_mixed_renumbering() {
        let mut o = filled(4, 100);
        o.next_batch(2); // 1, 2 sent
        o.start_session(5); // committed beyond what we sent (other process)
        let batch = o.next_batch(10);
        let s = seqs(&batch);
        assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
        assert!(s.iter().all(|&x| x > 5), "{s:?}");
        assert_eq!(s.len(), 2);
        assert!(o.push(report("e")) > *s.last().unwrap());
    }
}
