//! Values derived from the store, kept while nothing has been committed since they were read.
//!
//! Pages read the same few things (a person's memberships, a dashboard, the backup ledger)
//! far more often than anything changes. An entry here is tagged with the generation it was
//! read under and is used only while that is still the store's generation, so any commit
//! makes every entry stale at once and a cache never outlives the truth. Generations are
//! unique across every store opened in the process, so an entry read from one store never
//! answers for another.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{PoisonError, RwLock};

use super::Store;

pub struct GenerationCache<K, V> {
    entries: RwLock<HashMap<K, (u64, V)>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> GenerationCache<K, V> {
    /// A full cache is emptied, which bounds memory under a flood of distinct keys.
    pub fn new(capacity: usize) -> Self {
        GenerationCache {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The value for `key` if it was read under the store's current generation.
    pub fn get<Q>(&self, store: &Store, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let generation = store.generation();
        // A panic while holding the lock leaves at worst a stale entry, which the
        // generation check refuses; the map itself stays usable.
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let (at, value) = entries.get(key)?;
        (*at == generation).then(|| value.clone())
    }

    /// Keeps `value`, read from the store at `generation` (taken before the read began).
    pub fn put(&self, key: K, generation: u64, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, (generation, value));
    }

    /// The cached value, or `read`'s, which is then kept.
    pub fn get_or_read<E>(
        &self,
        store: &Store,
        key: K,
        read: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(value) = self.get(store, &key) {
            return Ok(value);
        }
        // Read before the store: what is kept under it is at least as new as it says.
        let generation = store.generation();
        let value = read()?;
        self.put(key, generation, value.clone());
        Ok(value)
    }
}

/// Counts only: the values are record contents, which never go to a log.
impl<K, V> std::fmt::Debug for GenerationCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.entries.read().map_or(0, |entries| entries.len());
        f.debug_struct("GenerationCache")
            .field("entries", &entries)
            .field("capacity", &self.capacity)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_or_another_store_makes_entries_miss() {
        let (_dir, store) = crate::audit::tests::store();
        let cache: GenerationCache<&str, u32> = GenerationCache::new(8);
        let mut reads = 0;
        let mut read = || -> Result<u32, ()> {
            reads += 1;
            Ok(reads)
        };
        assert_eq!(cache.get_or_read(&store, "k", &mut read), Ok(1));
        assert_eq!(cache.get_or_read(&store, "k", &mut read), Ok(1), "kept");
        assert_eq!(cache.get(&store, &"k"), Some(1));

        store.write().unwrap().commit().unwrap();
        assert_eq!(cache.get(&store, &"k"), None, "stale after a commit");
        assert_eq!(cache.get_or_read(&store, "k", &mut read), Ok(2));

        // The same file opened again, and another store: neither sees the entry.
        let (_other_dir, other) = crate::audit::tests::store();
        assert_eq!(cache.get(&other, &"k"), None);
        let path = store.path().to_path_buf();
        let master = crate::crypto::MasterKey::load(&_dir.path().join("master.key")).unwrap();
        drop(store);
        let reopened = Store::open(&path, master).unwrap();
        assert_eq!(cache.get(&reopened, &"k"), None);
    }

    #[test]
    fn a_full_cache_starts_over() {
        let (_dir, store) = crate::audit::tests::store();
        let cache: GenerationCache<u32, u32> = GenerationCache::new(2);
        let generation = store.generation();
        cache.put(1, generation, 10);
        cache.put(2, generation, 20);
        cache.put(3, generation, 30);
        assert_eq!(cache.get(&store, &1), None);
        assert_eq!(cache.get(&store, &3), Some(30));
    }
}
