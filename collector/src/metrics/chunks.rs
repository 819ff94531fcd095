//! [`Chunks`]: where a render writes, cut into chunks of about
//! [`CHUNK_SIZE`] bytes handed one by one to a sender, so that a scrape
//! never holds more than a chunk or two of text whatever the table's size.
//!
//! Writers append lines to [`Chunks::buf`] (while holding a shard's lock)
//! and call [`Chunks::flush_full`] once the lock is released: it sends
//! every full chunk, each cut at the first line end past the chunk size
//! (so a chunk is at most the chunk size plus one line), and keeps the
//! rest. The sender may block (backpressure from a slow scraper) and says
//! [`Stopped`] when nobody reads any more: the render then gives up.

/// The chunk size of a `/metrics` response.
pub const CHUNK_SIZE: usize = 256 * 1024;

/// Nobody reads the render any more (the scrape's connection is gone or
/// stalled): it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the scrape stopped reading")]
pub struct Stopped;

/// Sends one chunk, blocking while the reader is behind.
pub type Send<'s> = dyn FnMut(Vec<u8>) -> Result<(), Stopped> + 's;

/// What a render wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: usize,
    pub chunks: usize,
    /// The most text held at once (the buffer's length when flushed).
    pub peak_buffered: usize,
}

/// The text being written and the sender of full chunks.
pub struct Chunks<'s> {
    /// Where lines are appended (whole lines only between flushes).
    pub buf: String,
    size: usize,
    send: &'s mut Send<'s>,
    stats: Rendered,
}

impl<'s> Chunks<'s> {
    /// Chunks of `size` bytes (at least 1) handed to `send`.
    pub fn new(size: usize, send: &'s mut Send<'s>) -> Chunks<'s> {
        let size = size.max(1);
        Chunks {
            buf: String::with_capacity(Self::capacity(size)),
            size,
            send,
            stats: Rendered::default(),
        }
    }

    /// A fresh buffer's capacity: a chunk and some lines past it, bounded
    /// (an unchunked render grows as it needs).
    fn capacity(size: usize) -> usize {
        size.saturating_add(size / 2).min(4 * CHUNK_SIZE)
    }

    /// Sends every full chunk written so far; call it with no lock held.
    pub fn flush_full(&mut self) -> Result<(), Stopped> {
        self.stats.peak_buffered = self.stats.peak_buffered.max(self.buf.len());
        while self.buf.len() >= self.size {
            let cut = match self.buf.as_bytes()[self.size - 1..]
                .iter()
                .position(|&b| b == b'\n')
            {
                Some(at) => self.size + at,
                // Only when a writer left a partial line: keep it whole.
                None => return Ok(()),
            };
            let mut next = String::with_capacity(Self::capacity(self.size));
            next.push_str(&self.buf[cut..]);
            self.buf.truncate(cut);
            let chunk = std::mem::replace(&mut self.buf, next);
            self.send(chunk)?;
        }
        Ok(())
    }

    /// Appends `text` (whole lines) and sends what is full.
    pub fn put(&mut self, text: &str) -> Result<(), Stopped> {
        self.buf.push_str(text);
        self.flush_full()
    }

    /// Sends the rest: the render is complete.
    pub fn finish(mut self) -> Result<Rendered, Stopped> {
        self.flush_full()?;
        let rest = std::mem::take(&mut self.buf);
        if !rest.is_empty() {
            self.send(rest)?;
        }
        Ok(self.stats)
    }

    fn send(&mut self, chunk: String) -> Result<(), Stopped> {
        self.stats.bytes += chunk.len();
        self.stats.chunks += 1;
        (self.send)(chunk.into_bytes())
    }
}
