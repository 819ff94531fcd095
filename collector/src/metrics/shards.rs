//! [`Sharded`]: a map from service id to a value, cut into shards each
//! behind its own mutex, so that a writer (ingest, the lifecycle) waits at
//! most for one shard's worth of work from a reader (a `/metrics` render
//! formats shard by shard), never for a whole render.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard};

use crate::domain::ServiceId;

/// Shards per table: at 100k services, about 1500 services each.
const SHARDS: usize = 64;

#[derive(Debug)]
pub struct Sharded<V> {
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<ServiceId, V>>]>,
}

impl<V> Default for Sharded<V> {
    fn default() -> Self {
        Sharded {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl<V> Sharded<V> {
    fn lock(shard: &Mutex<HashMap<ServiceId, V>>) -> MutexGuard<'_, HashMap<ServiceId, V>> {
        // A panic while holding a shard leaves plain data behind.
        shard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shard holding `service`, locked.
    pub fn shard_of(&self, service: &ServiceId) -> MutexGuard<'_, HashMap<ServiceId, V>> {
        let i = self.hasher.hash_one(service.as_str()) as usize % self.shards.len();
        Self::lock(&self.shards[i])
    }

    /// Runs `f` on each shard in turn, each locked only for its own call.
    pub fn each_shard(&self, mut f: impl FnMut(&mut HashMap<ServiceId, V>)) {
        for shard in self.shards.iter() {
            f(&mut Self::lock(shard));
        }
    }
}
