//! Exact ranks in O(log n): a counted B+tree over one window's rank index.
//!
//! The rank index (space `I`) already holds every user of a window in rank order, one key per
//! user, so the top-K is a prefix scan. What it cannot say cheaply is *how many* keys come
//! before a given one. This tree answers that. It does not copy the index keys; it splits the
//! index into *buckets*, consecutive key ranges of at most `bucket_max` keys, and keeps a
//! B+tree of separator keys with a count per child:
//!
//! * a node holds separators `seps` (sorted) and one count per child; child `i` covers the
//!   keys `k` with `seps[i-1] < k <= seps[i]` (open ends at the node's own bounds);
//! * level-1 nodes have buckets as children (nothing stored for a bucket but its count);
//!   higher levels have nodes as children (`kids`, node ids).
//!
//! Rank of a key: walk root to bucket summing the counts to the left, then scan the bucket in
//! the index (at most `bucket_max` keys). Position `p`: walk down by counts, then seek into
//! the bucket. An index update costs a count change on the root-to-bucket path(s) - nothing
//! at all when a key moves within one bucket - and now and then a bucket split (one scan of
//! the bucket) or merge (no scan).
//!
//! Each node is two values in the window's own space `T`: its structure (`s` + id, written
//! only on a split or merge) and its counts (`c` + id, u64 array, written lazily through the
//! [`NodeCache`]). The metadata (root id, next id) is `m`. A tree never written reads as one
//! empty bucket. Layout, split/merge/shrink/collapse decisions and the order of writes are
//! those of the Python engine's `streams/engine/ranktree.py` (commit 4d58e15), checked by a
//! write-log test, so state that engine left in a store stays valid.
//!
//! The code is in three parts: this file (the tree, its queries and the count changes of a
//! move), `balance` (splits and merges that keep it shallow) and `storage` (metadata and
//! node reads and writes through the cache).
//!
//! The tree holds no store and no cache: the engine owns both and passes them to every call.
//! It must see every index change: the engine calls [`RankTree::move_key`] right after it
//! wrote the index (bucket scans read the index as it is after the change).

use crate::nodecache::NodeCache;
use crate::store::{Store, StoreResult};
use crate::treenodes::{corrupt, less, Node};

mod balance;
mod storage;

pub const BUCKET_MAX: usize = 128;
pub const FANOUT: usize = 128;
const NO_SPACE: u32 = u32::MAX;

/// One step of a root-to-bucket path: a node id and the child index taken there.
type Step = (u32, usize);

/// The counted tree of one window; see the module docs.
pub struct RankTree {
    space: Vec<u8>,
    index: Vec<u8>,
    bucket_max: usize,
    fanout: usize,
    root: Option<u32>,
    next: u32,
    persisted: bool,
    /// The cache's interned id of `space` last time (checked on every use).
    sid_hint: u32,
    // Scratch buffers, kept for their capacity only (no meaning between calls).
    old_path: Vec<Step>,
    new_path: Vec<Step>,
    low: Vec<u8>,
    buf: Vec<u8>,
}

/// What one call works with: the engine's store and cache, and the tree's space id there.
struct Ctx<'a> {
    store: &'a mut dyn Store,
    cache: &'a mut NodeCache,
    sid: u32,
}

#[inline]
fn kid(node: &Node, i: usize) -> StoreResult<u32> {
    node.kids
        .get(i)
        .copied()
        .ok_or_else(|| corrupt(format!("tree node {}: no child {i}", node.nid)))
}

#[inline]
fn count_mut(node: &mut Node, i: usize) -> StoreResult<&mut u64> {
    let nid = node.nid;
    node.counts
        .get_mut(i)
        .ok_or_else(|| corrupt(format!("tree node {nid}: no count {i}")))
}

fn as_limit(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl RankTree {
    /// `space` holds the tree, `index` is the rank index it counts; `bucket_max` and
    /// `fanout` are clamped to at least 4 (pass [`BUCKET_MAX`], [`FANOUT`] for the defaults).
    pub fn new(space: Vec<u8>, index: Vec<u8>, bucket_max: usize, fanout: usize) -> Self {
        RankTree {
            space,
            index,
            bucket_max: bucket_max.max(4),
            fanout: fanout.max(4),
            root: None,
            next: 0,
            persisted: false,
            sid_hint: NO_SPACE,
            old_path: Vec::new(),
            new_path: Vec::new(),
            low: Vec::new(),
            buf: Vec::new(),
        }
    }

    pub fn space(&self) -> &[u8] {
        &self.space
    }

    fn ctx<'a>(&mut self, store: &'a mut dyn Store, cache: &'a mut NodeCache) -> Ctx<'a> {
        let sid = cache.space_id(&self.space, self.sid_hint);
        self.sid_hint = sid;
        Ctx { store, cache, sid }
    }

    // -- queries -------------------------------------------------------------------------

    /// Number of keys in the index.
    pub fn len(&mut self, store: &mut dyn Store, cache: &mut NodeCache) -> StoreResult<u64> {
        let mut cx = self.ctx(store, cache);
        let root = self.root_id(&mut cx)?;
        let slot = self.fetch(&mut cx, root)?;
        Ok(cx.cache.node(slot).counts.iter().sum())
    }

    /// 1-based position of `key` in the index, or None when it is not there.
    pub fn rank(
        &mut self,
        store: &mut dyn Store,
        cache: &mut NodeCache,
        key: &[u8],
    ) -> StoreResult<Option<u64>> {
        let mut cx = self.ctx(store, cache);
        let mut nid = self.root_id(&mut cx)?;
        let mut before = 0u64;
        let mut has_low = false;
        let bucket = loop {
            let slot = self.fetch(&mut cx, nid)?;
            let node = cx.cache.node(slot);
            let i = node.seps.lower_bound(key);
            before += node.counts[..i].iter().sum::<u64>();
            if i > 0 {
                self.low.clear();
                self.low.extend_from_slice(node.seps.get(i - 1));
                has_low = true;
            }
            if node.level == 1 {
                break node.counts[i];
            }
            nid = kid(node, i)?;
        };
        let low = has_low.then_some(self.low.as_slice());
        for (n, (found, _)) in cx
            .store
            .scan(&self.index, low, as_limit(bucket))?
            .iter()
            .enumerate()
        {
            match found.as_slice().cmp(key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Ok(Some(before + n as u64 + 1)),
                std::cmp::Ordering::Greater => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Where the index entry at 0-based `position` is: `(after, skip)` such that a scan of
    /// the index after `after` yields it after skipping `skip` entries.
    pub fn seek(
        &mut self,
        store: &mut dyn Store,
        cache: &mut NodeCache,
        position: u64,
    ) -> StoreResult<(Option<Vec<u8>>, u64)> {
        let mut cx = self.ctx(store, cache);
        let (has_low, skip) = self.seek_in(&mut cx, position)?;
        Ok((has_low.then(|| self.low.clone()), skip))
    }

    /// Index keys at 0-based positions `offset .. offset + limit`.
    pub fn page(
        &mut self,
        store: &mut dyn Store,
        cache: &mut NodeCache,
        offset: u64,
        limit: usize,
    ) -> StoreResult<Vec<Vec<u8>>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut cx = self.ctx(store, cache);
        let (has_low, skip) = self.seek_in(&mut cx, offset)?;
        let skip = as_limit(skip);
        let low = has_low.then_some(self.low.as_slice());
        let items = cx
            .store
            .scan(&self.index, low, skip.saturating_add(limit))?;
        Ok(items.into_iter().skip(skip).map(|(key, _)| key).collect())
    }

    /// The level of the root: 1 while the tree is a single node (tests check the depth).
    pub fn root_level(&mut self, store: &mut dyn Store, cache: &mut NodeCache) -> StoreResult<u8> {
        let mut cx = self.ctx(store, cache);
        let root = self.root_id(&mut cx)?;
        let slot = self.fetch(&mut cx, root)?;
        Ok(cx.cache.node(slot).level)
    }

    /// The seek walk; the bucket's lower bound (when it has one) is left in `self.low`.
    fn seek_in(&mut self, cx: &mut Ctx, mut position: u64) -> StoreResult<(bool, u64)> {
        let mut nid = self.root_id(cx)?;
        let mut has_low = false;
        loop {
            let slot = self.fetch(cx, nid)?;
            let node = cx.cache.node(slot);
            let counts = &node.counts;
            // Python: i = bisect_right(accumulate(counts), position), clamped to the last
            // child (past the end: point after the last key).
            let (mut i, mut prefix) = (0, 0u64);
            while i < counts.len() && prefix + counts[i] <= position {
                prefix += counts[i];
                i += 1;
            }
            if i >= counts.len() {
                i = counts.len() - 1;
                prefix -= counts[i];
            }
            position -= prefix;
            if i > 0 {
                self.low.clear();
                self.low.extend_from_slice(node.seps.get(i - 1));
                has_low = true;
            }
            if node.level == 1 {
                return Ok((has_low, position));
            }
            nid = kid(node, i)?;
        }
    }

    // -- moves (count changes; splits and merges are in balance.rs) ----------------------

    /// The index key `old` was replaced by `new` (None: absent); the index is already written.
    pub fn move_key(
        &mut self,
        store: &mut dyn Store,
        cache: &mut NodeCache,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> StoreResult<()> {
        if old == new {
            return Ok(());
        }
        let mut cx = self.ctx(store, cache);
        let mut old_path = std::mem::take(&mut self.old_path);
        let mut new_path = std::mem::take(&mut self.new_path);
        let result = self.move_in(&mut cx, old, new, &mut old_path, &mut new_path);
        old_path.clear();
        new_path.clear();
        self.old_path = old_path;
        self.new_path = new_path;
        result
    }

    fn move_in(
        &mut self,
        cx: &mut Ctx,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
        full_old: &mut Vec<Step>,
        new_path: &mut Vec<Step>,
    ) -> StoreResult<()> {
        if let Some(old) = old {
            let (inside, _) = self.walk(cx, old, new, full_old, false)?;
            if new.is_some() && inside {
                // Most moves stay inside the old key's bucket: no count changes at all.
                return Ok(());
            }
        }
        if let Some(new) = new {
            self.walk(cx, new, None, new_path, false)?;
        }
        // Shared prefix of both paths (same node, same child): counts unchanged there.
        let same = if old.is_some() && new.is_some() {
            full_old
                .iter()
                .zip(new_path.iter())
                .take_while(|(a, b)| a == b)
                .count()
        } else {
            0
        };
        if old.is_some() {
            for &(nid, i) in &full_old[same..] {
                let mut held = self.hold(cx, nid)?;
                let count = count_mut(held.node(cx.cache), i)?;
                *count = count.checked_sub(1).ok_or_else(|| {
                    corrupt("a tree count below zero: the index lost a key it never had".into())
                })?;
                self.save_counts(cx, held)?;
            }
        }
        let mut split = false;
        if let Some(new) = new {
            for &(nid, i) in &new_path[same..] {
                let mut held = self.hold(cx, nid)?;
                *count_mut(held.node(cx.cache), i)? += 1;
                self.save_counts(cx, held)?;
            }
            if let Some(&(nid, i)) = new_path[same..].last() {
                if self.read(cx, nid, |node| node.counts[i])? > self.bucket_max as u64 {
                    self.split_bucket(cx, new, new_path)?;
                    split = true;
                }
            }
        }
        if let Some(old) = old {
            if split {
                self.walk(cx, old, None, full_old, false)?; // a split may have moved it
            }
            let &(nid, i) = full_old.last().expect("a path is never empty");
            let half = (self.bucket_max / 2) as u64;
            let merge = self.read(cx, nid, |node| {
                let counts = &node.counts;
                let neighbour = if i + 1 < counts.len() {
                    Some(i + 1)
                } else {
                    i.checked_sub(1)
                };
                neighbour.map(|n| counts[i] + counts[n] <= half)
            })?;
            match merge {
                Some(true) => {
                    self.merge_buckets(cx, old, new_path)?;
                }
                None if full_old.len() > 1 => self.shrink(cx, full_old)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The path from the root to `key`'s bucket, into `out`. With `probe`: whether the probe
    /// key falls in that same bucket. With `want_low`: the bucket's exclusive lower bound is
    /// left in `self.low` (second answer: it has one).
    fn walk(
        &mut self,
        cx: &mut Ctx,
        key: &[u8],
        probe: Option<&[u8]>,
        out: &mut Vec<Step>,
        want_low: bool,
    ) -> StoreResult<(bool, bool)> {
        out.clear();
        let mut nid = self.root_id(cx)?;
        let (mut low_ok, mut high_ok, mut has_low) = (true, true, false);
        loop {
            let slot = self.fetch(cx, nid)?;
            let node = cx.cache.node(slot);
            let seps = &node.seps;
            let i = seps.lower_bound(key);
            out.push((nid, i));
            if let Some(probe) = probe {
                if i > 0 {
                    low_ok = less(seps.get(i - 1), probe);
                }
                if i < seps.len() {
                    high_ok = !less(seps.get(i), probe);
                }
            }
            if want_low && i > 0 {
                self.low.clear();
                self.low.extend_from_slice(seps.get(i - 1));
                has_low = true;
            }
            if node.level == 1 {
                return Ok((low_ok && high_ok, has_low));
            }
            nid = kid(node, i)?;
        }
    }
}

#[cfg(test)]
#[path = "tests/ranktree.rs"]
mod tests;
