//! `events [--after SEQ] [--follow]`: the event log, as a backlog or a live
//! stream.

use std::time::Duration;

use picket_proto::tonic::{Code, Status, Streaming};
use picket_proto::v1 as pb;
use picket_proto::v1::Event;

use crate::client::{Client, status};
use crate::{convert, render};

/// How long a quiet stream means the backlog is fully printed.
const BACKLOG_QUIET: Duration = Duration::from_millis(500);

/// Without `--follow`: the events after `after` that exist now, as one
/// document (JSON list or one line per event).
pub async fn backlog(client: &mut Client, after: u64, json: bool) -> anyhow::Result<String> {
    let mut stream = watch(client, after).await.map_err(status)?;
    let mut events = Vec::new();
    // The stream stays open for live events: a quiet pause ends the backlog.
    while let Ok(next) = tokio::time::timeout(BACKLOG_QUIET, stream.message()).await {
        let Some(event) = next.map_err(status)? else {
            break;
        };
        events.push(event);
    }
    render::list(events.iter().map(convert::event), &render::EVENTS, json)
}

/// With `--follow`: print each event as it arrives (one JSON object or one
/// line each). When the collector goes away (a restart, a lost network), it
/// says so on stderr, reconnects with backoff and resumes after the last
/// event it printed, so nothing is skipped or printed twice. It ends on
/// Ctrl-C or on an error that retrying cannot fix (a bad token, say).
pub async fn follow(client: &mut Client, after: u64, json: bool) -> anyhow::Result<()> {
    let mut last = after;
    let mut backoff = Backoff::default();
    loop {
        let lost = match watch(client, last).await {
            Ok(mut stream) => loop {
                match stream.message().await {
                    Ok(Some(event)) => {
                        last = event.seq;
                        backoff = Backoff::default();
                        render::print(&render::event(&convert::event(&event), json))?;
                    }
                    // The collector ended the stream: it is shutting down.
                    Ok(None) => break "the collector ended the stream".to_owned(),
                    Err(e) if transient(&e) => break e.message().to_owned(),
                    Err(e) => return Err(status(e)),
                }
            },
            Err(s) if transient(&s) => s.message().to_owned(),
            Err(s) => return Err(status(s)),
        };
        let wait = backoff.next();
        eprintln!("picketctl: {lost}; reconnecting in {wait:?} to resume after event {last}");
        tokio::time::sleep(wait).await;
    }
}

/// Whether a failed call may succeed if made again: the collector is
/// restarting or unreachable, or cut the stream.
fn transient(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled | Code::Aborted
    )
}

/// Reconnect delays: 100 ms doubling to 5 s.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_millis(100))
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let now = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
        now
    }
}

async fn watch(client: &mut Client, after_seq: u64) -> Result<Streaming<Event>, Status> {
    Ok(client
        .watch_events(pb::WatchEventsRequest { after_seq })
        .await?
        .into_inner())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Backoff, Status, transient};

    #[test]
    fn backoff_doubles_to_five_seconds() {
        let mut b = Backoff::default();
        let delays: Vec<_> = (0..9).map(|_| b.next()).collect();
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[1], Duration::from_millis(200));
        assert_eq!(delays[6], Duration::from_secs(5));
        assert_eq!(delays[8], Duration::from_secs(5));
    }

    #[test]
    fn only_a_lost_collector_is_retried() {
        assert!(transient(&Status::unavailable("restarting")));
        assert!(transient(&Status::unknown("stream reset")));
        assert!(!transient(&Status::unauthenticated("bad token")));
        assert!(!transient(&Status::invalid_argument("after_seq")));
        assert!(!transient(&Status::permission_denied("read_token")));
    }
}
