//! Unit tests of `treenodes.rs`.

use super::*;

// Bytes of the Python engine's encode_structure / u64 for the same nodes (computed with
// streams/engine/treenodes.py).
const PY_STRUCTURE: [u8; 38] = [
    2, 3, 0, 0, 0, 4, 0, 0, 0, 2, 0, 2, 0, 3, 0, 97, 98, 0, 255, 120, 121, 122, 1, 0, 0, 0, 2, 0,
    0, 0, 44, 1, 0, 0, 112, 17, 1, 0,
];
const PY_EMPTY_BUCKET: [u8; 9] = [1, 0, 0, 0, 0, 0, 0, 0, 0];
const PY_COUNTS: [u8; 40] = [
    5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 112, 17, 1, 0, 0, 0, 0,
    0, 255, 255, 255, 255, 255, 255, 255, 255,
];

fn sample() -> Node {
    Node {
        nid: 7,
        level: 2,
        seps: Seps::from_keys([&b"ab"[..], b"\x00\xff", b"xyz"]),
        counts: vec![5, 0, 9, 70000],
        kids: vec![1, 2, 300, 70000],
    }
}

#[test]
fn encoding_matches_python_bytes() {
    let node = sample();
    assert_eq!(encode_structure(&node).unwrap(), PY_STRUCTURE);
    assert_eq!(
        encode_structure(&Node::empty_bucket(0)).unwrap(),
        PY_EMPTY_BUCKET
    );
    let mut out = Vec::new();
    encode_counts(&[5, 0, 9, 70000, u64::MAX], &mut out);
    assert_eq!(out, PY_COUNTS);
    assert_eq!(
        decode_counts(&PY_COUNTS).unwrap(),
        vec![5, 0, 9, 70000, u64::MAX]
    );
    let back = decode_structure(7, &PY_STRUCTURE, node.counts.clone()).unwrap();
    assert_eq!(back, node);
    assert_eq!(node_key(b's', 0x0102_0304), *b"s\x01\x02\x03\x04");
}

/// Seps against a sorted Vec<Vec<u8>> doing the same edits.
#[test]
fn seps_behave_like_a_list_of_keys() {
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut seps = Seps::default();
    let mut model: Vec<Vec<u8>> = Vec::new();
    for _ in 0..3000 {
        let key: Vec<u8> = (0..next() % 12).map(|_| (next() % 4) as u8).collect();
        match next() % 6 {
            0 | 1 => {
                let i = model.partition_point(|k| k < &key);
                assert_eq!(seps.lower_bound(&key), i);
                seps.insert(i, &key);
                model.insert(i, key);
            }
            2 if !model.is_empty() => {
                let i = (next() % model.len() as u64) as usize;
                seps.remove(i);
                model.remove(i);
            }
            3 => {
                let i = (next() % (model.len() as u64 + 1)) as usize;
                let (tail, model_tail) = (seps.split_off(i), model.split_off(i));
                assert_eq!(tail.iter().collect::<Vec<_>>(), model_tail);
                if next() % 2 == 0 {
                    seps.append(&tail);
                    model.extend(model_tail);
                }
            }
            4 => assert_eq!(seps.pop(), model.pop()),
            _ if !matches!(model.last(), Some(last) if last > &key) => {
                seps.push(&key);
                model.push(key);
            }
            _ => {}
        }
        assert_eq!(seps.len(), model.len());
        assert_eq!(seps.iter().collect::<Vec<_>>(), model);
    }
}

#[test]
fn less_is_bytewise_order() {
    let mut keys: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0; 8],
        vec![0; 9],
        vec![255; 8],
        vec![255; 17],
    ];
    let mut x = 5u64;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // few distinct byte values, so that long common prefixes occur
        keys.push(
            (0..x % 20)
                .map(|n| ((x >> (n * 3)) % 3) as u8 * 127)
                .collect(),
        );
    }
    for a in &keys {
        for b in &keys {
            assert_eq!(less(a, b), a < b, "{a:?} {b:?}");
        }
    }
}

#[test]
fn malformed_nodes_are_errors() {
    let counts = vec![5, 0, 9, 70000];
    for cut in 0..PY_STRUCTURE.len() {
        assert!(
            decode_structure(7, &PY_STRUCTURE[..cut], counts.clone()).is_err(),
            "{cut}"
        );
    }
    assert!(decode_structure(7, &PY_STRUCTURE, vec![1, 2]).is_err());
    assert!(decode_counts(&[1, 2, 3]).is_err());
    let long = Node {
        seps: Seps::from_keys([&[0; 70000][..]]),
        counts: vec![0, 0],
        ..Node::empty_bucket(1)
    };
    assert!(encode_structure(&long).is_err());
}
