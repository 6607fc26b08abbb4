//! Keeping a rank tree shallow: splits and merges of buckets and nodes.
//!
//! A bucket over `bucket_max` keys splits in two (one scan of the index); a node over `fanout`
//! children splits, growing a new root when it was the root. Two neighbour buckets that fit
//! in half a bucket merge (no scan); a node left with at most `fanout / 4` children merges
//! with a sibling when both fit in one node, and a root with a single child gives way to it.
//! The gap between the split and merge thresholds keeps a key that moves back and forth
//! across a boundary from splitting and merging every time. Which node is saved when is part
//! of the write order the module docs of [`super`] describe.

use super::{as_limit, count_mut, Ctx, RankTree, Step};
use crate::store::StoreResult;
use crate::treenodes::{corrupt, Node, Seps};

impl RankTree {
    pub(super) fn split_bucket(
        &mut self,
        cx: &mut Ctx,
        key: &[u8],
        path: &mut Vec<Step>,
    ) -> StoreResult<()> {
        let (_, has_low) = self.walk(cx, key, None, path, true)?;
        let &(nid, i) = path.last().expect("a path is never empty");
        let mut held = self.hold(cx, nid)?;
        let count = held.node(cx.cache).counts[i];
        let half = count / 2;
        let low = has_low.then_some(self.low.as_slice());
        let mut items = cx.store.scan(&self.index, low, as_limit(half))?;
        if half == 0 || (items.len() as u64) < half {
            return Err(corrupt(
                "the index holds fewer keys than the tree counts".into(),
            ));
        }
        let found = items.swap_remove(as_limit(half) - 1).0;
        let node = held.node(cx.cache); // the scan did not touch the cache
        node.seps.insert(i, &found);
        node.counts[i] = half;
        node.counts.insert(i + 1, count - half);
        self.save(cx, held)?;
        for depth in (0..path.len()).rev() {
            if self.read(cx, path[depth].0, |node| node.counts.len())? <= self.fanout {
                break;
            }
            self.split_node(cx, path, depth)?;
        }
        Ok(())
    }

    fn split_node(&mut self, cx: &mut Ctx, path: &[Step], depth: usize) -> StoreResult<()> {
        let nid = path[depth].0;
        let right_id = self.new_id(cx)?;
        let mut held = self.hold(cx, nid)?;
        let node = held.node(cx.cache);
        let mid = node.counts.len() / 2;
        let right_seps = node.seps.split_off(mid);
        let promoted = node.seps.pop().expect("a node being split has separators");
        let right_counts = node.counts.split_off(mid);
        let right_kids = if node.level > 1 {
            node.kids.split_off(mid)
        } else {
            Vec::new()
        };
        let level = node.level;
        let left_sum: u64 = node.counts.iter().sum();
        let right_sum: u64 = right_counts.iter().sum();
        self.save(cx, held)?;
        let right = Node {
            nid: right_id,
            level,
            seps: right_seps,
            counts: right_counts,
            kids: right_kids,
        };
        self.save_new(cx, right)?;
        if depth == 0 {
            let root_id = self.new_id(cx)?;
            let level = level
                .checked_add(1)
                .ok_or_else(|| corrupt("a rank tree of 255 levels".into()))?;
            let root = Node {
                nid: root_id,
                level,
                seps: Seps::from_keys([promoted.as_slice()]),
                counts: vec![left_sum, right_sum],
                kids: vec![nid, right_id],
            };
            self.save_new(cx, root)?;
            self.root = Some(root_id);
            return self.save_meta(cx);
        }
        let (parent_id, at) = path[depth - 1];
        let mut held = self.hold(cx, parent_id)?;
        let parent = held.node(cx.cache);
        parent.seps.insert(at, &promoted);
        parent.kids.insert(at + 1, right_id);
        *count_mut(parent, at)? = left_sum;
        parent.counts.insert(at + 1, right_sum);
        self.save(cx, held)
    }

    pub(super) fn merge_buckets(
        &mut self,
        cx: &mut Ctx,
        key: &[u8],
        path: &mut Vec<Step>,
    ) -> StoreResult<()> {
        self.walk(cx, key, None, path, false)?;
        let &(nid, i) = path.last().expect("a path is never empty");
        let mut held = self.hold(cx, nid)?;
        let node = held.node(cx.cache);
        if node.counts.len() < 2 {
            return Ok(()); // the caller saw a neighbour: unreachable
        }
        let a = if i + 1 < node.counts.len() { i } else { i - 1 };
        let merged = node.counts.remove(a + 1);
        node.counts[a] += merged;
        node.seps.remove(a);
        self.save(cx, held)?;
        self.shrink(cx, path)
    }

    /// Merge underfull nodes on `path` (bottom up) with a sibling, then drop roots with a
    /// single child, so that churn never leaves a sparse, deep tree behind.
    pub(super) fn shrink(&mut self, cx: &mut Ctx, path: &[Step]) -> StoreResult<()> {
        for depth in (1..path.len()).rev() {
            if self.read(cx, path[depth].0, |node| node.counts.len())? <= self.fanout / 4 {
                self.merge_node(cx, path, depth)?;
            }
        }
        self.collapse_root(cx)
    }

    /// Merge an underfull node with a sibling; true when the parent lost a child.
    fn merge_node(&mut self, cx: &mut Ctx, path: &[Step], depth: usize) -> StoreResult<bool> {
        let nid = path[depth].0;
        let (parent_id, at) = path[depth - 1];
        let sibling = self.read(cx, parent_id, |parent| {
            let kids = &parent.kids;
            if kids.len() < 2 || kids.get(at) != Some(&nid) {
                return None;
            }
            let b = if at + 1 < kids.len() { at + 1 } else { at - 1 };
            Some((b, kids[b]))
        })?;
        let Some((b, sibling)) = sibling else {
            return Ok(false);
        };
        let slot = self.fetch(cx, sibling)?;
        let sibling_len = cx.cache.node(slot).counts.len();
        if self.read(cx, nid, |node| node.counts.len())? + sibling_len > self.fanout {
            return Ok(false);
        }
        let a = at.min(b);
        let (left, right) = if a == at {
            (nid, sibling)
        } else {
            (sibling, nid)
        };
        // Left then parent are changed and saved (as Python did); right is dropped after.
        let sep = self.read(cx, parent_id, |parent| parent.seps.get(a).to_vec())?;
        let (seps, counts, kids) = self.read(cx, right, |node| {
            (node.seps.clone(), node.counts.clone(), node.kids.clone())
        })?;
        let mut held = self.hold(cx, left)?;
        let left_node = held.node(cx.cache);
        left_node.seps.push(&sep);
        left_node.seps.append(&seps);
        left_node.counts.extend(counts);
        left_node.kids.extend(kids);
        self.save(cx, held)?;
        let mut held = self.hold(cx, parent_id)?;
        let parent = held.node(cx.cache);
        let merged = parent.counts.remove(a + 1);
        parent.counts[a] += merged;
        parent.seps.remove(a);
        parent.kids.remove(a + 1);
        self.save(cx, held)?;
        self.delete(cx, right)?;
        Ok(true)
    }

    fn collapse_root(&mut self, cx: &mut Ctx) -> StoreResult<()> {
        let mut nid = self.root_id(cx)?;
        let mut slot = self.fetch(cx, nid)?;
        loop {
            let root = cx.cache.node(slot);
            if root.level <= 1 || root.kids.len() != 1 {
                return Ok(());
            }
            let child = root.kids[0];
            let child_slot = self.fetch(cx, child)?;
            self.delete(cx, nid)?; // frees the root's slot only: the child's stays valid
            self.root = Some(child);
            self.save_meta(cx)?;
            (nid, slot) = (child, child_slot);
        }
    }
}
