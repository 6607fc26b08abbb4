//! The cache of decoded rank-tree nodes shared by all windows of one engine.
//!
//! It bounds decoded nodes by a node count, never by users, and writes dirty counts once per
//! batch rather than once per event (see [`NodeCache`]).
//!
//! The cache owns the decoded nodes outright (no shared pointers, so it and the tree are
//! `Send`). The tree addresses nodes by `(space, node id)` and resolves one to a slot right
//! before each use. Where the Python engine's tree (commit 4d58e15, the reference of the
//! ranktree write-order test) kept using a node object after the cache evicted it, the Rust
//! tree reads the node back from the store (its eviction wrote its counts, its structure is
//! written at every change) and caches it again only when it saves or touches it, exactly
//! when Python re-put the object: the same nodes, the same writes, in the same order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::store::{Store, StoreResult};
use crate::treenodes::{encode_counts, node_key, Node};

/// Hasher of the cache's keys: a word-at-a-time multiply-rotate with a splitmix finaliser,
/// so that both the low bits (bucket) and the high bits (tag) of the hash are mixed.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl KeyHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    #[inline]
    fn write_usize(&mut self, word: usize) {
        self.add(word as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

const NIL: u32 = u32::MAX;

/// A cache key: interned space id (high half) and node id (low half).
#[inline]
pub(crate) fn cache_key(sid: u32, nid: u32) -> u64 {
    (u64::from(sid) << 32) | u64::from(nid)
}

struct Entry {
    key: u64,
    node: Node,
    older: u32,
    newer: u32,
    /// Position in `NodeCache::dirty`, NIL when clean.
    dirty_at: u32,
}

/// Decoded tree nodes of all windows of one engine and store, least recently used evicted
/// first; bounded by `max_nodes` (a node is at most `ranktree::FANOUT` separators), never by
/// users.
///
/// Count changes are written back lazily: a node whose counts changed is *dirty* until
/// [`NodeCache::sync`] (or its eviction) writes it, so a node touched by every event of a
/// batch (the root) is encoded and written once per batch, not once per event. Whoever
/// persists the store must call `sync` first. Structure changes (splits, merges) are written
/// at once by the tree.
///
/// Recency follows the Python cache exactly: a lookup (`NodeCache::get`) makes a node the
/// most recent, inserting a node not cached makes it the most recent, and re-saving or
/// touching a cached node leaves its place unchanged.
pub struct NodeCache {
    max: usize,
    index: FastMap<u64, u32>,
    entries: Vec<Entry>,
    free: Vec<u32>,
    oldest: u32,
    newest: u32,
    /// Slots of the dirty entries (a set: each entry knows its position here).
    dirty: Vec<u32>,
    /// Interned space names: the cache keys hold a small id instead of the name.
    space_ids: FastMap<Vec<u8>, u32>,
    space_names: Vec<Option<Vec<u8>>>, // None: a free id
    free_spaces: Vec<u32>,
    buf: Vec<u8>,
}

impl NodeCache {
    pub fn new(max_nodes: usize) -> Self {
        NodeCache {
            max: max_nodes.max(8),
            index: FastMap::default(),
            entries: Vec::new(),
            free: Vec::new(),
            oldest: NIL,
            newest: NIL,
            dirty: Vec::new(),
            space_ids: FastMap::default(),
            space_names: Vec::new(),
            free_spaces: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Number of cached nodes.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Number of nodes whose counts are not written yet.
    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    /// Write the counts of every dirty node to the store.
    pub fn sync(&mut self, store: &mut dyn Store) -> StoreResult<()> {
        for at in 0..self.dirty.len() {
            let slot = self.dirty[at];
            self.write_counts(store, slot)?;
        }
        for &slot in &self.dirty {
            self.entries[slot as usize].dirty_at = NIL;
        }
        self.dirty.clear();
        Ok(())
    }

    /// Forget everything, unwritten changes too (the store changed under the engine).
    pub fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.free.clear();
        self.oldest = NIL;
        self.newest = NIL;
        self.dirty.clear();
        self.space_ids.clear();
        self.space_names.clear();
        self.free_spaces.clear();
    }

    /// Drop every node of `space` (retention), unwritten changes too.
    pub fn forget_space(&mut self, space: &[u8]) {
        let Some(sid) = self.space_ids.remove(space) else {
            return;
        };
        let mut slot = self.oldest;
        while slot != NIL {
            let entry = &self.entries[slot as usize];
            let next = entry.newer;
            if (entry.key >> 32) as u32 == sid {
                self.remove(slot);
            }
            slot = next;
        }
        self.space_names[sid as usize] = None;
        self.free_spaces.push(sid);
    }

    // -- crate-internal interface of the tree ------------------------------------------

    /// The interned id of `space`; `hint` (a previous answer) is checked and reused.
    #[inline]
    pub(crate) fn space_id(&mut self, space: &[u8], hint: u32) -> u32 {
        if self
            .space_names
            .get(hint as usize)
            .is_some_and(|name| name.as_deref() == Some(space))
        {
            return hint;
        }
        if let Some(&sid) = self.space_ids.get(space) {
            return sid;
        }
        let sid = match self.free_spaces.pop() {
            Some(sid) => {
                self.space_names[sid as usize] = Some(space.to_vec());
                sid
            }
            None => {
                self.space_names.push(Some(space.to_vec()));
                (self.space_names.len() - 1) as u32
            }
        };
        self.space_ids.insert(space.to_vec(), sid);
        sid
    }

    /// The cached node's slot, made the most recently used (Python `get`).
    #[inline]
    pub(crate) fn get(&mut self, key: u64) -> Option<u32> {
        let slot = *self.index.get(&key)?;
        if slot != self.newest {
            self.unlink(slot);
            self.link_newest(slot);
        }
        Some(slot)
    }

    /// The cached node's slot, its recency unchanged.
    #[inline]
    pub(crate) fn peek(&self, key: u64) -> Option<u32> {
        self.index.get(&key).copied()
    }

    /// A slot is valid until the next `insert`, `forget` or `forget_space`.
    #[inline]
    pub(crate) fn node(&self, slot: u32) -> &Node {
        &self.entries[slot as usize].node
    }

    #[inline]
    pub(crate) fn node_mut(&mut self, slot: u32) -> &mut Node {
        &mut self.entries[slot as usize].node
    }

    /// Cache `node` under `key` (Python `put`): a new key becomes the most recent and may
    /// evict the least recent node, writing its counts first when dirty; a cached key gets
    /// the new node in its old place. Returns the node's slot.
    pub(crate) fn insert(
        &mut self,
        store: &mut dyn Store,
        key: u64,
        node: Node,
    ) -> StoreResult<u32> {
        if let Some(&slot) = self.index.get(&key) {
            self.entries[slot as usize].node = node;
            return Ok(slot);
        }
        let entry = Entry {
            key,
            node,
            older: NIL,
            newer: NIL,
            dirty_at: NIL,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.entries[slot as usize] = entry;
                slot
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        };
        self.index.insert(key, slot);
        self.link_newest(slot);
        if self.index.len() > self.max {
            let oldest = self.oldest;
            if self.entries[oldest as usize].dirty_at != NIL {
                self.write_counts(store, oldest)?;
            }
            self.remove(oldest);
        }
        Ok(slot)
    }

    /// The node at `slot` has new counts: write them at the next sync (Python `touch`; the
    /// tree resolves the slot right before, so the node is cached).
    #[inline]
    pub(crate) fn touch(&mut self, slot: u32) {
        let entry = &mut self.entries[slot as usize];
        if entry.dirty_at == NIL {
            entry.dirty_at = self.dirty.len() as u32;
            self.dirty.push(slot);
        }
    }

    /// Drop one node, unwritten changes too.
    pub(crate) fn forget(&mut self, key: u64) {
        if let Some(&slot) = self.index.get(&key) {
            self.remove(slot);
        }
    }

    // -- internals -----------------------------------------------------------------------

    fn write_counts(&mut self, store: &mut dyn Store, slot: u32) -> StoreResult<()> {
        let entry = &self.entries[slot as usize];
        let sid = (entry.key >> 32) as usize;
        self.buf.clear();
        encode_counts(&entry.node.counts, &mut self.buf);
        let space = self.space_names[sid]
            .as_deref()
            .expect("a cached node's space is interned");
        store.put(space, &node_key(b'c', entry.key as u32), &self.buf)
    }

    fn remove(&mut self, slot: u32) {
        let dirty_at = self.entries[slot as usize].dirty_at;
        if dirty_at != NIL {
            self.dirty.swap_remove(dirty_at as usize);
            if let Some(&moved) = self.dirty.get(dirty_at as usize) {
                self.entries[moved as usize].dirty_at = dirty_at;
            }
        }
        self.unlink(slot);
        let entry = &mut self.entries[slot as usize];
        entry.dirty_at = NIL;
        entry.node = Node::default();
        self.index.remove(&entry.key);
        self.free.push(slot);
    }

    #[inline]
    fn unlink(&mut self, slot: u32) {
        let (older, newer) = {
            let entry = &self.entries[slot as usize];
            (entry.older, entry.newer)
        };
        match older {
            NIL => self.oldest = newer,
            at => self.entries[at as usize].newer = newer,
        }
        match newer {
            NIL => self.newest = older,
            at => self.entries[at as usize].older = older,
        }
    }

    #[inline]
    fn link_newest(&mut self, slot: u32) {
        let newest = self.newest;
        {
            let entry = &mut self.entries[slot as usize];
            entry.older = newest;
            entry.newer = NIL;
        }
        match newest {
            NIL => self.oldest = slot,
            at => self.entries[at as usize].newer = slot,
        }
        self.newest = slot;
    }

    #[cfg(test)]
    pub(crate) fn keys_oldest_first(&self) -> Vec<u64> {
        let mut keys = Vec::new();
        let mut slot = self.oldest;
        while slot != NIL {
            keys.push(self.entries[slot as usize].key);
            slot = self.entries[slot as usize].newer;
        }
        keys
    }
}

#[cfg(test)]
#[path = "tests/nodecache.rs"]
mod tests;
