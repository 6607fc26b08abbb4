//! Unit tests of `store.rs`.

use super::*;

#[test]
fn scan_is_ordered_and_starts_after() {
    let mut s = MemStore::new();
    for k in [b"c", b"a", b"b"] {
        s.put(b"sp", k, b"v").unwrap();
    }
    let keys: Vec<Vec<u8>> = s
        .scan(b"sp", Some(b"a"), 10)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec()]);
    s.drop_space(b"sp").unwrap();
    assert!(s.scan(b"sp", None, 10).unwrap().is_empty());
}
