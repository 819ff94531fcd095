//! Which collector the link tries next: the `--collector` URLs in order,
//! the one it last connected to first, and a standby's "leader is URL"
//! hint ahead of the rest. Pure; the link actor drives it.
//!
//! A round tries each URL at most once, so two standbys naming each other
//! (or a hint naming a dead leader) cannot loop: the round ends and the
//! link waits its backoff before the next. A hint may name a URL outside
//! the list (the leader's `advertise_url`); it is tried like the others
//! and, once connected, comes first in later rounds.

use std::collections::VecDeque;

/// The search state across rounds.
#[derive(Debug)]
pub(super) struct Search {
    urls: Vec<String>,
    /// The collector that last welcomed the agent.
    last_good: Option<String>,
    queue: VecDeque<String>,
    tried: Vec<String>,
}

impl Search {
    /// A search over `urls` (non-empty, in the user's order).
    pub(super) fn new(urls: Vec<String>) -> Search {
        Search {
            urls,
            last_good: None,
            queue: VecDeque::new(),
            tried: Vec::new(),
        }
    }

    /// Starts a round: the collector last connected to, then the list.
    pub(super) fn start_round(&mut self) {
        self.tried.clear();
        self.queue = self.last_good.iter().chain(&self.urls).cloned().collect();
    }

    /// The next URL of this round, or `None` when each has been tried.
    pub(super) fn next(&mut self) -> Option<String> {
        while let Some(url) = self.queue.pop_front() {
            if !self.tried.contains(&url) {
                self.tried.push(url.clone());
                return Some(url);
            }
        }
        None
    }

    /// A refusal named the leader: it is tried next, unless this round has
    /// tried it already (`false`).
    pub(super) fn follow(&mut self, leader: String) -> bool {
        if self.tried.contains(&leader) {
            return false;
        }
        self.queue.push_front(leader);
        true
    }

    /// `url` welcomed the agent: later rounds start there.
    pub(super) fn connected(&mut self, url: &str) {
        self.last_good = Some(url.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn round(search: &mut Search) -> Vec<String> {
        search.start_round();
        std::iter::from_fn(|| search.next()).collect()
    }

    #[test]
    fn a_round_tries_each_url_in_order_once() {
        let mut s = Search::new(urls(&["a", "b", "c"]));
        assert_eq!(round(&mut s), ["a", "b", "c"]);
        assert_eq!(round(&mut s), ["a", "b", "c"], "every round starts over");
    }

    #[test]
    fn a_hint_goes_first_and_the_leader_stays_first() {
        let mut s = Search::new(urls(&["standby", "other", "leader"]));
        s.start_round();
        assert_eq!(s.next().as_deref(), Some("standby"));
        assert!(s.follow("leader".into()));
        assert_eq!(s.next().as_deref(), Some("leader"));
        s.connected("leader");
        assert_eq!(round(&mut s), ["leader", "standby", "other"]);
    }

    #[test]
    fn hints_never_loop_within_a_round() {
        let mut s = Search::new(urls(&["a", "b"]));
        s.start_round();
        assert_eq!(s.next().as_deref(), Some("a"));
        assert!(s.follow("b".into()));
        assert_eq!(s.next().as_deref(), Some("b"));
        assert!(!s.follow("a".into()), "a was tried in this round");
        assert_eq!(s.next(), None);
    }

    #[test]
    fn a_hint_outside_the_list_is_tried() {
        let mut s = Search::new(urls(&["a"]));
        s.start_round();
        assert_eq!(s.next().as_deref(), Some("a"));
        assert!(s.follow("z".into()));
        assert_eq!(s.next().as_deref(), Some("z"));
        assert_eq!(s.next(), None);
        s.connected("z");
        assert_eq!(round(&mut s), ["z", "a"]);
    }
}
