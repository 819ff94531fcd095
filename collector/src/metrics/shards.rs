//! [`Sharded`]: a map from service id to a value, cut into shards each
//! behind its own mutex, so that a writer (ingest, the lifecycle) waits at
//! most for one shard's worth of work from a reader (a `/metrics` render
//! formats shard by shard), never for a whole render, and a render holds
//! at most one shard's worth of text before sending it on.
//!
//! Keys are hashed with foldhash (seeded per process): service ids come
//! from the configuration, and SipHash was 6 % of a render.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

use foldhash::fast::RandomState;

use crate::domain::ServiceId;

/// Shards per table: at 1M services, about 1000 services each (a render's
/// text for one shard and one family stays under 2 MB).
const SHARDS: usize = 1024;

/// One shard's map.
pub type Shard<V> = HashMap<ServiceId, V, RandomState>;

#[derive(Debug)]
pub struct Sharded<V> {
    hasher: RandomState,
    shards: Box<[Mutex<Shard<V>>]>,
}

impl<V> Default for Sharded<V> {
    fn default() -> Self {
        // Each map gets its own seed, unrelated to the shard choice (a
        // shared one would give every key of a shard the same low bits).
        Sharded {
            hasher: RandomState::default(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
        }
    }
}

impl<V> Sharded<V> {
    fn lock(shard: &Mutex<Shard<V>>) -> MutexGuard<'_, Shard<V>> {
        // A panic while holding a shard leaves plain data behind.
        shard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shard holding `service`, locked.
    pub fn shard_of(&self, service: &ServiceId) -> MutexGuard<'_, Shard<V>> {
        let i = self.hasher.hash_one(service.as_str()) as usize % self.shards.len();
        Self::lock(&self.shards[i])
    }

    /// Each shard in turn, locked while its guard lives.
    pub fn locked(&self) -> impl Iterator<Item = MutexGuard<'_, Shard<V>>> {
        self.shards.iter().map(Self::lock)
    }

    /// Runs `f` on each shard in turn, each locked only for its own call.
    pub fn each_shard(&self, mut f: impl FnMut(&mut Shard<V>)) {
        for mut shard in self.locked() {
            f(&mut shard);
        }
    }
}
