//! A rank tree's storage: its metadata (root id, next node id) under `m` and its nodes, read
//! through the [`NodeCache`] and written to the store.
//!
//! A node's structure is written at every change; its counts are left dirty in the cache
//! (written at sync or eviction) once the tree is persisted, while the first writes of a new
//! tree write everything, so that a persisted tree always has its metadata and root. The
//! helpers below decide when the cache is looked up, bypassed or refilled, which fixes the
//! cache's recency, its evictions and so the order of the store writes.

use super::{Ctx, RankTree};
use crate::nodecache::{cache_key, NodeCache};
use crate::store::{Store, StoreResult};
use crate::treenodes::{
    corrupt, decode_counts, decode_structure, encode_counts, encode_structure, node_key, Node,
};

const META: &[u8] = b"m";

/// A node about to change, as the Python tree held it (an object since its walk): cached,
/// or evicted meanwhile and read back from the store, to be cached again only when it is
/// saved or touched. A `Cached` slot is used before the cache is touched again.
pub(super) enum Held {
    Cached(u32),
    Loose(Node),
}

impl Held {
    #[inline]
    pub(super) fn node<'a>(&'a mut self, cache: &'a mut NodeCache) -> &'a mut Node {
        match self {
            Held::Cached(slot) => cache.node_mut(*slot),
            Held::Loose(node) => node,
        }
    }
}

impl RankTree {
    pub(super) fn root_id(&mut self, cx: &mut Ctx) -> StoreResult<u32> {
        if let Some(root) = self.root {
            return Ok(root);
        }
        match cx.store.get(&self.space, META)? {
            None => {
                self.root = Some(0);
                self.next = 1;
            }
            Some(raw) => {
                if raw.len() < 8 {
                    return Err(corrupt(format!(
                        "rank tree metadata of {} bytes",
                        raw.len()
                    )));
                }
                self.root = Some(u32::from_be_bytes(raw[..4].try_into().expect("4 bytes")));
                self.next = u32::from_be_bytes(raw[4..8].try_into().expect("4 bytes"));
                self.persisted = true;
            }
        }
        Ok(self.root.expect("set above"))
    }

    pub(super) fn new_id(&mut self, cx: &mut Ctx) -> StoreResult<u32> {
        self.root_id(cx)?;
        let nid = self.next;
        self.next = nid
            .checked_add(1)
            .ok_or_else(|| corrupt("rank tree node ids exhausted".into()))?;
        self.save_meta(cx)?;
        Ok(nid)
    }

    pub(super) fn save_meta(&mut self, cx: &mut Ctx) -> StoreResult<()> {
        let root = self
            .root
            .expect("the root id is read before the metadata is written");
        self.persisted = true;
        let mut meta = [0u8; 8];
        meta[..4].copy_from_slice(&root.to_be_bytes());
        meta[4..].copy_from_slice(&self.next.to_be_bytes());
        cx.store.put(&self.space, META, &meta)
    }

    /// The node's cache slot, made the most recent, read from the store and cached on a
    /// miss (Python `_node`).
    #[inline]
    pub(super) fn fetch(&self, cx: &mut Ctx, nid: u32) -> StoreResult<u32> {
        let key = cache_key(cx.sid, nid);
        if let Some(slot) = cx.cache.get(key) {
            return Ok(slot);
        }
        let node = self.load(cx.store, nid)?;
        cx.cache.insert(cx.store, key, node)
    }

    /// A node about to change that Python held since its walk: see [`Held`].
    #[inline]
    pub(super) fn hold(&self, cx: &mut Ctx, nid: u32) -> StoreResult<Held> {
        match cx.cache.peek(cache_key(cx.sid, nid)) {
            Some(slot) => Ok(Held::Cached(slot)),
            None => Ok(Held::Loose(self.load(cx.store, nid)?)),
        }
    }

    /// `look` at a node that Python read through the object it held: the cached node, or
    /// (evicted meanwhile) its stored state, without touching the cache.
    #[inline]
    pub(super) fn read<R>(
        &self,
        cx: &mut Ctx,
        nid: u32,
        look: impl FnOnce(&Node) -> R,
    ) -> StoreResult<R> {
        match cx.cache.peek(cache_key(cx.sid, nid)) {
            Some(slot) => Ok(look(cx.cache.node(slot))),
            None => Ok(look(&self.load(cx.store, nid)?)),
        }
    }

    fn load(&self, store: &mut dyn Store, nid: u32) -> StoreResult<Node> {
        let Some(raw) = store.get(&self.space, &node_key(b's', nid))? else {
            return Ok(Node::empty_bucket(nid)); // a tree that was never written
        };
        let counts = store
            .get(&self.space, &node_key(b'c', nid))?
            .ok_or_else(|| corrupt(format!("tree node {nid} without its counts")))?;
        decode_structure(nid, &raw, decode_counts(&counts)?)
    }

    pub(super) fn save_counts(&mut self, cx: &mut Ctx, held: Held) -> StoreResult<()> {
        if !self.persisted {
            return self.save(cx, held); // the first write of a new tree
        }
        let slot = self.cache_held(cx, held)?;
        cx.cache.touch(slot);
        Ok(())
    }

    /// Write a node's structure and counts, then cache it (again, when it was evicted) as
    /// dirty for the batch's later count changes.
    pub(super) fn save(&mut self, cx: &mut Ctx, mut held: Held) -> StoreResult<()> {
        if !self.persisted {
            self.root_id(cx)?;
            self.save_meta(cx)?;
        }
        let node = held.node(cx.cache);
        let nid = node.nid;
        cx.store
            .put(&self.space, &node_key(b's', nid), &encode_structure(node)?)?;
        self.buf.clear();
        encode_counts(&node.counts, &mut self.buf);
        cx.store.put(&self.space, &node_key(b'c', nid), &self.buf)?;
        let slot = self.cache_held(cx, held)?;
        cx.cache.touch(slot);
        Ok(())
    }

    /// Write a new node and cache it.
    pub(super) fn save_new(&mut self, cx: &mut Ctx, node: Node) -> StoreResult<()> {
        self.save(cx, Held::Loose(node))
    }

    /// Python `put`: a loose node becomes the most recent cached one (which may evict).
    #[inline]
    fn cache_held(&self, cx: &mut Ctx, held: Held) -> StoreResult<u32> {
        match held {
            Held::Cached(slot) => Ok(slot),
            Held::Loose(node) => cx.cache.insert(cx.store, cache_key(cx.sid, node.nid), node),
        }
    }

    pub(super) fn delete(&mut self, cx: &mut Ctx, nid: u32) -> StoreResult<()> {
        cx.store.delete(&self.space, &node_key(b's', nid))?;
        cx.store.delete(&self.space, &node_key(b'c', nid))?;
        cx.cache.forget(cache_key(cx.sid, nid));
        Ok(())
    }
}
