//! `events [--after SEQ] [--follow]`: the event log, as a backlog or a live
//! stream.

use std::time::Duration;

use picket_proto::tonic::Streaming;
use picket_proto::v1 as pb;
use picket_proto::v1::Event;

use crate::client::{Client, answer, status};
use crate::{convert, render};

/// How long a quiet stream means the backlog is fully printed.
const BACKLOG_QUIET: Duration = Duration::from_millis(500);

/// Without `--follow`: the events after `after` that exist now, as one
/// document (JSON list or one line per event).
pub async fn backlog(client: &mut Client, after: u64, json: bool) -> anyhow::Result<String> {
    let mut stream = watch(client, after).await?;
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
/// line each), until the collector ends the stream.
pub async fn follow(client: &mut Client, after: u64, json: bool) -> anyhow::Result<()> {
    let mut stream = watch(client, after).await?;
    while let Some(event) = stream.message().await.map_err(status)? {
        render::print(&render::event(&convert::event(&event), json))?;
    }
    Ok(())
}

async fn watch(client: &mut Client, after_seq: u64) -> anyhow::Result<Streaming<Event>> {
    answer(client.watch_events(pb::WatchEventsRequest { after_seq })).await
}
