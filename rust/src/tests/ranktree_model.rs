//! The test model of `ranktree.rs`: a rank index with its tree next to a sorted list of the
//! same keys, over a store that logs the tree's writes.

use crate::nodecache::NodeCache;
use crate::ranktree::RankTree;
use crate::store::{MemStore, Store, StoreResult};

const INDEX: &[u8] = b"I\x00t";
pub(super) const TREE: &[u8] = b"T\x00t";

/// xorshift64 (the generator of the Python reference run of `writes_match_the_python_engine`).
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// 1 to 3 random bytes.
    pub(super) fn key(&mut self) -> Vec<u8> {
        let n = 1 + self.next() % 3;
        (0..n).map(|_| (self.next() & 0xff) as u8).collect()
    }
}

/// (op, space, key, value) of one store write.
pub(super) type Write = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

/// A MemStore that logs the tree space's writes; writes of a sync are logged sorted
/// (their order is a hash-set order in Python).
#[derive(Default)]
pub(super) struct Recorder {
    pub(super) inner: MemStore,
    pub(super) log: Vec<Write>,
    group: Option<Vec<Write>>,
}

impl Recorder {
    fn record(&mut self, op: &[u8], space: &[u8], key: &[u8], value: &[u8]) {
        if space == TREE {
            let entry = (op.to_vec(), space.to_vec(), key.to_vec(), value.to_vec());
            self.group.as_mut().unwrap_or(&mut self.log).push(entry);
        }
    }
}

impl Store for Recorder {
    fn get(&mut self, space: &[u8], key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.inner.get(space, key)
    }
    fn put(&mut self, space: &[u8], key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.record(b"P", space, key, value);
        self.inner.put(space, key, value)
    }
    fn delete(&mut self, space: &[u8], key: &[u8]) -> StoreResult<()> {
        self.record(b"D", space, key, b"");
        self.inner.delete(space, key)
    }
    fn scan(
        &mut self,
        space: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(space, after, limit)
    }
    fn drop_space(&mut self, space: &[u8]) -> StoreResult<()> {
        self.inner.drop_space(space)
    }
}

/// A rank index with its tree, kept next to a sorted list of the same keys.
pub(super) struct Model {
    pub(super) store: Recorder,
    pub(super) cache: NodeCache,
    pub(super) tree: RankTree,
    pub(super) keys: Vec<Vec<u8>>,
    shape: (usize, usize),
}

impl Model {
    pub(super) fn new(bucket: usize, fanout: usize, cache: usize) -> Model {
        Model {
            store: Recorder::default(),
            cache: NodeCache::new(cache),
            tree: RankTree::new(TREE.to_vec(), INDEX.to_vec(), bucket, fanout),
            keys: Vec::new(),
            shape: (bucket, fanout),
        }
    }

    pub(super) fn replace(&mut self, old: Option<&[u8]>, new: Option<&[u8]>) {
        if let Some(old) = old {
            self.store.delete(INDEX, old).unwrap();
            let at = self
                .keys
                .binary_search_by(|k| k.as_slice().cmp(old))
                .unwrap();
            self.keys.remove(at);
        }
        if let Some(new) = new {
            self.store.put(INDEX, new, b"").unwrap();
            let at = self
                .keys
                .binary_search_by(|k| k.as_slice().cmp(new))
                .unwrap_err();
            self.keys.insert(at, new.to_vec());
        }
        self.tree
            .move_key(&mut self.store, &mut self.cache, old, new)
            .unwrap();
    }

    fn has(&self, key: &[u8]) -> bool {
        self.keys
            .binary_search_by(|k| k.as_slice().cmp(key))
            .is_ok()
    }

    /// The Python test's operation mix: 0, 1 add; 2 remove; 3 move.
    pub(super) fn apply(&mut self, op: u64, a: &[u8], b: &[u8]) {
        let n = self.keys.len();
        if op < 2 && !self.has(a) {
            self.replace(None, Some(a));
        } else if op == 2 && n > 0 {
            let old = self.keys[a.len() * 7919 % n].clone();
            self.replace(Some(&old), None);
        } else if op == 3 && n > 0 && !self.has(b) {
            let old = self.keys[a[0] as usize % n].clone();
            self.replace(Some(&old), Some(b));
        }
    }

    pub(super) fn sync(&mut self) {
        self.store.group = Some(Vec::new());
        self.cache.sync(&mut self.store).unwrap();
        let mut group = self.store.group.take().unwrap();
        group.sort();
        self.store.log.extend(group);
    }

    /// A fresh tree object and cache over the same store.
    pub(super) fn reopen(&mut self, cache: usize) {
        self.cache = NodeCache::new(cache);
        self.tree = RankTree::new(TREE.to_vec(), INDEX.to_vec(), self.shape.0, self.shape.1);
    }

    pub(super) fn check(&mut self) {
        let (store, cache, tree, keys) =
            (&mut self.store, &mut self.cache, &mut self.tree, &self.keys);
        let n = keys.len();
        assert_eq!(tree.len(store, cache).unwrap(), n as u64);
        for (at, key) in keys.iter().enumerate() {
            assert_eq!(
                tree.rank(store, cache, key).unwrap(),
                Some(at as u64 + 1),
                "{key:?}"
            );
        }
        assert_eq!(tree.rank(store, cache, b"\xff\xff\xff\xff").unwrap(), None);
        for probe in [&b""[..], b"\x00", b"\x80\x80\x80\x80"] {
            if keys.binary_search_by(|k| k.as_slice().cmp(probe)).is_err() {
                assert_eq!(tree.rank(store, cache, probe).unwrap(), None);
            }
        }
        for offset in [0, 1, n / 3, n / 2, n.saturating_sub(1), n, n + 5] {
            for limit in [0, 1, 3, 10] {
                let expected = &keys[offset.min(n)..(offset + limit).min(n)];
                assert_eq!(
                    tree.page(store, cache, offset as u64, limit).unwrap(),
                    expected,
                    "{offset} {limit}"
                );
            }
        }
        for (position, key) in keys.iter().enumerate() {
            let (after, skip) = tree.seek(store, cache, position as u64).unwrap();
            let items = store
                .scan(INDEX, after.as_deref(), skip as usize + 1)
                .unwrap();
            assert_eq!(&items[skip as usize].0, key);
        }
    }
}

pub(super) fn run_random(
    seed: u64,
    shape: (usize, usize),
    cache: usize,
    ops: usize,
    check_every: usize,
) -> Model {
    let mut rng = Rng(seed);
    let mut model = Model::new(shape.0, shape.1, cache);
    for n in 0..ops {
        let op = rng.next() % 4;
        let (a, b) = (rng.key(), rng.key());
        model.apply(op, &a, &b);
        if (n + 1) % check_every == 0 {
            model.check();
        }
    }
    model.check();
    model
}
