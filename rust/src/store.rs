//! The engine's whole view of state: a byte-keyed store split into named spaces.
//!
//! Point reads and writes, an ordered scan within one space (the rank index), dropping a
//! whole space (retention). A RocksDB column family or key prefix implements it directly;
//! [`MemStore`] is the in-process one (replay, tests, benches).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::fmt;

/// A failure of the store behind the engine (a Python exception in the stream job's
/// RocksDB adapter): carried through the engine unchanged and re-raised at the boundary.
pub struct StoreError(pub Box<dyn std::error::Error + Send + Sync>);

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreError({})", self.0)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Ordered key-value state; keys within a space compare bytewise.
pub trait Store {
    fn get(&mut self, space: &[u8], key: &[u8]) -> StoreResult<Option<Vec<u8>>>;
    fn put(&mut self, space: &[u8], key: &[u8], value: &[u8]) -> StoreResult<()>;
    fn delete(&mut self, space: &[u8], key: &[u8]) -> StoreResult<()>;
    /// At most `limit` items of `space` with key > `after` (all when None), ascending.
    fn scan(
        &mut self,
        space: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Remove every key of `space`.
    fn drop_space(&mut self, space: &[u8]) -> StoreResult<()>;
}

/// One space of a [`MemStore`]. A space starts as a hash map (point reads and writes);
/// the first scan turns it into an ordered map for good. Spaces only read by key (user
/// states, dedup ids, tree nodes) never pay for ordering; scanned spaces (rank indexes,
/// whose keys are written and scanned but never read by key) pay for it once per write.
enum Space {
    Hashed(FxHashMap<Vec<u8>, Vec<u8>>),
    Ordered(BTreeMap<Vec<u8>, Vec<u8>>),
}

impl Space {
    fn len(&self) -> usize {
        match self {
            Space::Hashed(items) => items.len(),
            Space::Ordered(items) => items.len(),
        }
    }

    fn items(&self) -> Box<dyn Iterator<Item = (&Vec<u8>, &Vec<u8>)> + '_> {
        match self {
            Space::Hashed(items) => Box::new(items.iter()),
            Space::Ordered(items) => Box::new(items.iter()),
        }
    }
}

fn overwrite(slot: &mut Vec<u8>, value: &[u8]) {
    slot.clear();
    slot.extend_from_slice(value);
}

/// In-process store (replay, tests, benches).
#[derive(Default)]
pub struct MemStore {
    spaces: FxHashMap<Vec<u8>, Space>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// (keys, bytes of keys and values) of a space.
    pub fn footprint(&self, space: &[u8]) -> (usize, usize) {
        self.spaces.get(space).map_or((0, 0), |s| {
            (s.len(), s.items().map(|(k, v)| k.len() + v.len()).sum())
        })
    }

    /// Every item of a space, sorted by key (tests, dumps).
    pub fn items(&self, space: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out: Vec<_> = self.spaces.get(space).map_or_else(Vec::new, |s| {
            s.items().map(|(k, v)| (k.clone(), v.clone())).collect()
        });
        out.sort();
        out
    }

    /// Non-empty spaces, sorted.
    pub fn space_names(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<Vec<u8>> = self
            .spaces
            .iter()
            .filter(|(_, s)| s.len() > 0)
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }
}

impl Store for MemStore {
    fn get(&mut self, space: &[u8], key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(match self.spaces.get(space) {
            Some(Space::Hashed(items)) => items.get(key).cloned(),
            Some(Space::Ordered(items)) => items.get(key).cloned(),
            None => None,
        })
    }

    fn put(&mut self, space: &[u8], key: &[u8], value: &[u8]) -> StoreResult<()> {
        let s = match self.spaces.get_mut(space) {
            Some(s) => s,
            None => self
                .spaces
                .entry(space.to_vec())
                .or_insert_with(|| Space::Hashed(FxHashMap::default())),
        };
        match s {
            Space::Hashed(items) => match items.get_mut(key) {
                Some(slot) => overwrite(slot, value),
                None => {
                    items.insert(key.to_vec(), value.to_vec());
                }
            },
            // Ordered spaces are rank indexes: their keys are new on nearly every write.
            Space::Ordered(items) => {
                items.insert(key.to_vec(), value.to_vec());
            }
        }
        Ok(())
    }

    fn delete(&mut self, space: &[u8], key: &[u8]) -> StoreResult<()> {
        match self.spaces.get_mut(space) {
            Some(Space::Hashed(items)) => {
                items.remove(key);
            }
            Some(Space::Ordered(items)) => {
                items.remove(key);
            }
            None => {}
        }
        Ok(())
    }

    fn scan(
        &mut self,
        space: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        use std::ops::Bound::{Excluded, Unbounded};
        let Some(s) = self.spaces.get_mut(space) else {
            return Ok(Vec::new());
        };
        if let Space::Hashed(items) = s {
            *s = Space::Ordered(std::mem::take(items).into_iter().collect());
        }
        let Space::Ordered(items) = s else {
            unreachable!("ordered above")
        };
        let lower = match after {
            Some(key) => Excluded(key),
            None => Unbounded,
        };
        Ok(items
            .range::<[u8], _>((lower, Unbounded))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn drop_space(&mut self, space: &[u8]) -> StoreResult<()> {
        self.spaces.remove(space);
        Ok(())
    }
}

#[cfg(test)]
#[path = "tests/store.rs"]
mod tests;
