//! The nodes of the counted rank tree ([`crate::ranktree`]) and their byte encoding.
//!
//! Kept apart from the tree's algorithms because this is the part that decides what a node
//! costs: every count change of an event changes a node's counts (a flat u64 array, cheap to
//! write), while its structure (level, separators, child ids) is written only on a split or
//! merge. [`crate::nodecache`] keeps the decoded nodes.
//!
//! The encoding is byte-identical with the one of the Python engine's
//! `streams/engine/treenodes.py` (commit 4d58e15), so state that engine left in a store stays
//! readable.

use crate::store::{StoreError, StoreResult};

/// One decoded tree node. `counts` has one entry per child (`seps.len() + 1`); `kids` holds
/// the child node ids when `level > 1` and is empty at level 1 (children are buckets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    pub nid: u32,
    pub level: u8,
    pub seps: Seps,
    pub counts: Vec<u64>,
    pub kids: Vec<u32>,
}

impl Node {
    /// What a tree that was never written reads as: one empty bucket.
    pub fn empty_bucket(nid: u32) -> Node {
        Node {
            nid,
            level: 1,
            seps: Seps::default(),
            counts: vec![0],
            kids: Vec::new(),
        }
    }
}

/// `a < b`, bytewise (as `<[u8]>::lt`), comparing 8 bytes at a time inline: the separator
/// search is all that a move within one bucket costs, and index keys share leading bytes.
#[inline]
pub fn less(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    let mut at = 0;
    while at + 8 <= n {
        let x = u64::from_be_bytes(a[at..at + 8].try_into().expect("8 bytes"));
        let y = u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        if x != y {
            return x < y;
        }
        at += 8;
    }
    for (x, y) in a[at..n].iter().zip(&b[at..n]) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

/// A node's sorted separator keys, stored back to back in one buffer (`ends[i]`: where key
/// `i` ends). The walk's binary search then reads one compact block per node instead of a
/// heap allocation per key (measured: the scattered reads were most of a walk's time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seps {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl Seps {
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Seps {
        let mut seps = Seps::default();
        for key in keys {
            seps.push(key);
        }
        seps
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    #[inline]
    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.ends[i - 1] as usize
        }
    }

    /// Key `i` (panics when out of range, as slice indexing does).
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        &self.bytes[self.start(i)..self.ends[i] as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Python's `bisect_left(seps, key)`: the number of keys `< key`.
    #[inline]
    pub fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut low, mut high) = (0, self.ends.len());
        while low < high {
            let mid = (low + high) / 2;
            if less(self.get(mid), key) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    pub fn push(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len() as u32);
    }

    pub fn insert(&mut self, i: usize, key: &[u8]) {
        let at = self.start(i);
        self.bytes.splice(at..at, key.iter().copied());
        for end in &mut self.ends[i..] {
            *end += key.len() as u32;
        }
        self.ends.insert(i, (at + key.len()) as u32);
    }

    pub fn remove(&mut self, i: usize) {
        let (start, end) = (self.start(i), self.ends[i] as usize);
        self.bytes.drain(start..end);
        self.ends.remove(i);
        for later in &mut self.ends[i..] {
            *later -= (end - start) as u32;
        }
    }

    /// Keys `i..` move to the returned list.
    pub fn split_off(&mut self, i: usize) -> Seps {
        let at = self.start(i);
        let bytes = self.bytes.split_off(at);
        let mut ends = self.ends.split_off(i);
        for end in &mut ends {
            *end -= at as u32;
        }
        Seps { bytes, ends }
    }

    pub fn pop(&mut self) -> Option<Vec<u8>> {
        let last = self.len().checked_sub(1)?;
        let key = self.bytes.split_off(self.start(last));
        self.ends.pop();
        Some(key)
    }

    pub fn append(&mut self, other: &Seps) {
        let base = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.iter().map(|end| end + base));
    }
}

pub(crate) fn corrupt(what: String) -> StoreError {
    StoreError(what.into())
}

/// A node's store key: `prefix` (`b's'` structure, `b'c'` counts) + id, 4 bytes big-endian.
#[inline]
pub fn node_key(prefix: u8, nid: u32) -> [u8; 5] {
    let id = nid.to_be_bytes();
    [prefix, id[0], id[1], id[2], id[3]]
}

/// Counts as an array of u64, little-endian, appended to `out`.
pub fn encode_counts(counts: &[u64], out: &mut Vec<u8>) {
    out.reserve(8 * counts.len());
    for count in counts {
        out.extend_from_slice(&count.to_le_bytes());
    }
}

pub fn decode_counts(raw: &[u8]) -> StoreResult<Vec<u64>> {
    if raw.len() % 8 != 0 {
        return Err(corrupt(format!(
            "tree node counts of {} bytes (not a u64 array)",
            raw.len()
        )));
    }
    Ok(raw
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect())
}

/// level (1 byte) | n seps (u32 LE) | n kids (u32 LE) | seps' lengths (u16 LE each) | seps |
/// kids (u32 LE each).
pub fn encode_structure(node: &Node) -> StoreResult<Vec<u8>> {
    let seps = &node.seps;
    let mut out = Vec::with_capacity(9 + 2 * seps.len() + seps.bytes.len() + 4 * node.kids.len());
    out.push(node.level);
    out.extend_from_slice(&(node.seps.len() as u32).to_le_bytes());
    out.extend_from_slice(&(node.kids.len() as u32).to_le_bytes());
    for sep in seps.iter() {
        let length = u16::try_from(sep.len()).map_err(|_| {
            corrupt(format!(
                "a tree separator of {} bytes (at most 65535)",
                sep.len()
            ))
        })?;
        out.extend_from_slice(&length.to_le_bytes());
    }
    out.extend_from_slice(&seps.bytes);
    for kid in &node.kids {
        out.extend_from_slice(&kid.to_le_bytes());
    }
    Ok(out)
}

/// The inverse of [`encode_structure`], with the counts read from the node's `c` value.
/// Malformed bytes are an error, never a panic later on.
pub fn decode_structure(nid: u32, raw: &[u8], counts: Vec<u64>) -> StoreResult<Node> {
    let bad = || {
        corrupt(format!(
            "tree node {nid}: malformed structure of {} bytes",
            raw.len()
        ))
    };
    let u32_at = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(raw.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let level = *raw.first().ok_or_else(bad)?;
    let n_seps = u32_at(1).ok_or_else(bad)?;
    let n_kids = u32_at(5).ok_or_else(bad)?;
    let lengths = raw.get(9..9 + 2 * n_seps).ok_or_else(bad)?;
    let start = 9 + 2 * n_seps;
    let mut ends = Vec::with_capacity(n_seps);
    let mut end = 0usize;
    for length in lengths.chunks_exact(2) {
        end += u16::from_le_bytes([length[0], length[1]]) as usize;
        ends.push(end as u32);
    }
    let seps = Seps {
        bytes: raw.get(start..start + end).ok_or_else(bad)?.to_vec(),
        ends,
    };
    let at = start + end;
    let kids: Vec<u32> = raw
        .get(at..at + 4 * n_kids)
        .ok_or_else(bad)?
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect();
    let consistent = level >= 1
        && counts.len() == n_seps + 1
        && if level == 1 {
            kids.is_empty()
        } else {
            kids.len() == counts.len()
        };
    if !consistent {
        return Err(corrupt(format!(
            "tree node {nid}: level {level}, {n_seps} separators, {} counts, {n_kids} kids",
            counts.len()
        )));
    }
    Ok(Node {
        nid,
        level,
        seps,
        counts,
        kids,
    })
}

#[cfg(test)]
#[path = "tests/treenodes.rs"]
mod tests;
