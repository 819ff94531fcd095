//! A render streamed: [`spawn`] runs [`Metrics::render_to`] on a blocking
//! thread and hands its chunks through a bounded channel to a
//! [`ChunkStream`] (the `/metrics` body). At most [`Streaming::queue`]
//! chunks wait in the channel, so a scrape holds a few MiB whatever the
//! number of series, and a slow scraper slows the render down instead of
//! piling text up.
//!
//! A scraper that goes away (the body is dropped with the connection)
//! closes the channel: the render's next send fails and it stops. One
//! that stays connected but stops reading for [`Streaming::stall`] is
//! given up on the same way. A stream whose render stopped before the end
//! (given up, or panicked) ends with an error rather than quietly, so the
//! HTTP response is cut off and the scraper sees a failed scrape, not a
//! partial one.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::Stream;

use super::Metrics;
use super::chunks::{CHUNK_SIZE, Rendered, Stopped};
use super::exposition::Format;
use super::scrape::Scraped;

/// How a render is streamed.
#[derive(Debug, Clone, Copy)]
pub struct Streaming {
    /// Bytes per chunk (a chunk is at most this plus one line).
    pub chunk: usize,
    /// Chunks waiting for the scraper at most.
    pub queue: usize,
    /// How long the render waits for the scraper to take a chunk before
    /// giving up.
    pub stall: Duration,
}

impl Default for Streaming {
    fn default() -> Self {
        Streaming {
            chunk: CHUNK_SIZE,
            queue: 4,
            stall: Duration::from_secs(30),
        }
    }
}

enum Piece {
    Chunk(Vec<u8>),
    /// The render is complete.
    End,
}

/// The chunks of one render, in order; an error if the render stopped
/// before the end.
pub struct ChunkStream {
    rx: mpsc::Receiver<Piece>,
    ended: bool,
}

impl Stream for ChunkStream {
    type Item = Result<Vec<u8>, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let piece = ready!(self.rx.poll_recv(cx));
        Poll::Ready(match piece {
            Some(Piece::Chunk(chunk)) => Some(Ok(chunk)),
            Some(Piece::End) => {
                self.ended = true;
                None
            }
            None => {
                self.ended = true;
                Some(Err(std::io::Error::other(
                    "the /metrics render stopped before the end",
                )))
            }
        })
    }
}

/// Starts rendering `metrics` in `format` on a blocking thread of the
/// current runtime: the chunks to send, and the render's outcome.
pub fn spawn(
    metrics: Arc<Metrics>,
    format: Format,
    scraped: Scraped,
    how: Streaming,
) -> (ChunkStream, JoinHandle<Result<Rendered, Stopped>>) {
    let (tx, rx) = mpsc::channel(how.queue.max(1));
    let runtime = Handle::current();
    let render = tokio::task::spawn_blocking(move || {
        let put = |piece: Piece| {
            match runtime.block_on(tokio::time::timeout(how.stall, tx.send(piece))) {
                Ok(Ok(())) => Ok(()),
                // Closed (the body was dropped) or stalled.
                _ => Err(Stopped),
            }
        };
        let mut send = |chunk: Vec<u8>| put(Piece::Chunk(chunk));
        let rendered = metrics.render_to(format, &scraped, how.chunk, &mut send)?;
        put(Piece::End)?;
        Ok(rendered)
    });
    let stream = ChunkStream { rx, ended: false };
    (stream, render)
}

#[cfg(test)]
mod tests;
