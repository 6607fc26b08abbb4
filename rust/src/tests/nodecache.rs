//! Unit tests of `nodecache.rs`.

use super::*;
use crate::store::MemStore;
use crate::treenodes::decode_counts;

fn counts_in(store: &mut MemStore, space: &[u8], nid: u32) -> Option<Vec<u64>> {
    store
        .get(space, &node_key(b'c', nid))
        .unwrap()
        .map(|raw| decode_counts(&raw).unwrap())
}

#[test]
fn lru_evicts_oldest_and_writes_dirty_counts() {
    let mut store = MemStore::new();
    let mut cache = NodeCache::new(1); // clamped to 8
    let sid = cache.space_id(b"T", NIL);
    for nid in 0..8 {
        let slot = cache
            .insert(&mut store, cache_key(sid, nid), Node::empty_bucket(nid))
            .unwrap();
        if nid < 2 {
            cache.node_mut(slot).counts[0] = 10 + u64::from(nid);
            cache.touch(slot);
        }
    }
    assert_eq!(cache.len(), 8);
    assert_eq!(cache.dirty_len(), 2);
    // A lookup makes node 0 the most recent: node 1 is now the oldest.
    assert!(cache.get(cache_key(sid, 0)).is_some());
    cache
        .insert(&mut store, cache_key(sid, 8), Node::empty_bucket(8))
        .unwrap();
    assert_eq!(cache.len(), 8);
    assert!(cache.peek(cache_key(sid, 1)).is_none());
    assert_eq!(counts_in(&mut store, b"T", 1), Some(vec![11])); // written on eviction
    assert_eq!(counts_in(&mut store, b"T", 0), None); // dirty, cached, not written yet
    assert_eq!(cache.dirty_len(), 1);
    // Re-inserting a cached key keeps its place; peeking does not reorder either.
    let before = cache.keys_oldest_first();
    cache
        .insert(&mut store, cache_key(sid, 3), Node::empty_bucket(3))
        .unwrap();
    assert!(cache.peek(cache_key(sid, 2)).is_some());
    assert_eq!(cache.keys_oldest_first(), before);
    // A clean node is evicted without a write.
    cache
        .insert(&mut store, cache_key(sid, 9), Node::empty_bucket(9))
        .unwrap();
    assert_eq!(counts_in(&mut store, b"T", 2), None);
    cache.sync(&mut store).unwrap();
    assert_eq!(counts_in(&mut store, b"T", 0), Some(vec![10]));
    assert_eq!(cache.dirty_len(), 0);
}

#[test]
fn the_cache_is_send() {
    fn send<T: Send>() {}
    send::<NodeCache>();
    send::<crate::ranktree::RankTree>();
}

#[test]
fn forget_space_and_clear_drop_unwritten_changes() {
    let mut store = MemStore::new();
    let mut cache = NodeCache::new(64);
    let a = cache.space_id(b"A", NIL);
    let b = cache.space_id(b"B", NIL);
    assert_eq!(cache.space_id(b"A", b), a);
    assert_eq!(cache.space_id(b"A", a), a);
    for nid in 0..5 {
        for sid in [a, b] {
            let slot = cache
                .insert(&mut store, cache_key(sid, nid), Node::empty_bucket(nid))
                .unwrap();
            cache.touch(slot);
        }
    }
    cache.forget(cache_key(b, 4));
    cache.forget_space(b"A");
    assert_eq!(cache.len(), 4);
    assert_eq!(cache.dirty_len(), 4);
    cache.sync(&mut store).unwrap();
    assert_eq!(store.footprint(b"A").0, 0);
    assert_eq!(store.footprint(b"B").0, 4);
    // The freed id is reused for a new space; the old hint no longer matches "A".
    let c = cache.space_id(b"C", a);
    assert_eq!(c, a);
    assert_ne!(cache.space_id(b"A", a), a);
    // A freed id never matches a hint, not even for the empty name: it is interned anew.
    cache.forget_space(b"A");
    let e = cache.space_id(b"", NIL);
    cache.forget_space(b"");
    assert!(!cache.space_ids.contains_key(&b""[..]));
    let again = cache.space_id(b"", e);
    assert_eq!(cache.space_ids.get(&b""[..]), Some(&again));
    let slot = cache
        .insert(&mut store, cache_key(c, 0), Node::empty_bucket(0))
        .unwrap();
    cache.touch(slot);
    cache.clear();
    assert!(cache.is_empty());
    cache.sync(&mut store).unwrap();
    assert_eq!(store.footprint(b"C").0, 0);
}
