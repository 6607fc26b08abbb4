//! Unit tests of `dedup.rs`.

use super::*;
use crate::store::MemStore;

const T0: i64 = 1_795_773_600_000; // 2026-11-27T10:00:00Z
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Keys per dedup space kind (D: ids, Q: bucket list, X: bucket members).
fn key_counts(store: &MemStore) -> [usize; 3] {
    let mut counts = [0; 3];
    for space in store.space_names() {
        if let Some(i) = [b'D', b'Q', b'X']
            .iter()
            .position(|&t| space.first() == Some(&t))
        {
            counts[i] += store.footprint(&space).0;
        }
    }
    counts
}

/// The store as (space, key, value) triples, sorted.
fn dump(store: &MemStore) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut out: Vec<_> = store
        .space_names()
        .into_iter()
        .flat_map(|space| {
            store
                .items(&space)
                .into_iter()
                .map(move |(k, v)| (space.clone(), k, v))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn encodings() {
    assert_eq!(enc(0), [0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(enc(-1), [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(enc(i64::MIN), [0; 8]);
    for v in [0, 1, -1, T0, -T0, i64::MIN, i64::MAX] {
        assert_eq!(dec(&enc(v)), v);
    }
    assert!(enc(-5) < enc(3) && enc(3) < enc(T0));
    assert_eq!(dec_wide(&[0x80]), 0x80 - (1i128 << 63));
    assert_eq!(dec_wide(&[1; 17]), i128::MAX);
    let mut s = Vec::new();
    for v in [0, 7, -3_600_000, T0, i64::MIN, i64::MAX] {
        s.clear();
        push_decimal(&mut s, v);
        assert_eq!(s, v.to_string().into_bytes());
    }
}

#[test]
fn bucket_widths() {
    for (horizon, width) in [
        (0, 0),
        (-5, 0),
        (1, 1000),
        (1000, 1000),
        (7999, 1000),
        (8000, 1000),
        (8 * HOUR, HOUR),
        (8 * HOUR + 7, HOUR),
    ] {
        assert_eq!(bucket_ms_for(horizon), width, "horizon {horizon}");
    }
}

/// Byte layout: the store after a fixed sequence of operations, as Python's Dedup
/// (streams/engine/dedup.py with MemoryStore) leaves it.
#[test]
fn layout_matches_python() {
    let mut store = MemStore::new();
    let mut d = Dedup::load(&mut store, "b", 8 * 3600).unwrap();
    d.remember(&mut store, b"a", T0 + HOUR / 2).unwrap();
    d.remember(&mut store, b"b", T0 + HOUR / 2 + 1).unwrap();
    d.remember(&mut store, b"c", -HOUR - 1).unwrap();
    d.remember(&mut store, b"d", T0 + 2 * HOUR).unwrap();
    assert_eq!(d.expire(&mut store, T0 + 10 * HOUR, 2).unwrap(), 2);
    let mut b = Dedup::load(&mut store, "b\u{e9}", 0).unwrap();
    b.remember(&mut store, b"z", T0).unwrap();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let got: Vec<String> = dump(&store)
        .iter()
        .map(|(s, k, v)| format!("{} {} {}", hex(s), hex(k), hex(v)))
        .collect();
    let want: &[&str] = &[
        "440062 62 800001a21ca97f80",
        "440062 64 800001a21d175c80",
        "440062c3a9 7a ",
        "510062 800001a21ca97f80 80000000000000028000000000000001",
        "510062 800001a21d175c80 80000000000000018000000000000000",
        "5800620031373935373737323030303030 8000000000000001 62",
        "5800620031373935373834343030303030 8000000000000000 64",
    ];
    assert_eq!(got, want);
    assert_eq!(
        d.buckets(),
        vec![(T0 + HOUR, (2, 1)), (T0 + 3 * HOUR, (1, 0))]
    );
    assert_eq!(d.next_expiry, Some(T0 + 9 * HOUR));
}

fn setup(dedup_seconds: i64) -> (MemStore, Dedup) {
    let mut store = MemStore::new();
    let d = Dedup::load(&mut store, "b", dedup_seconds).unwrap();
    (store, d)
}

/// Horizon 8 h -> buckets of 1 h: "x" at T0 + 30 min is in the bucket ending T0 + 1 h,
/// so it is a duplicate while the watermark is below T0 + 9 h.
#[test]
fn seen_across_the_horizon() {
    let cases: &[(Option<i64>, bool)] = &[
        (None, true),
        (Some(T0), true),
        (Some(T0 + 9 * HOUR - 1), true), // just inside: the bucket is not wholly behind
        (Some(T0 + 9 * HOUR), false),    // just outside: forgotten, keys or not
        (Some(T0 + 30 * DAY), false),
    ];
    for &(watermark, seen) in cases {
        let (mut store, mut d) = setup(8 * 3600);
        assert!(!d.seen(&mut store, b"x", watermark).unwrap());
        d.remember(&mut store, b"x", T0 + HOUR / 2).unwrap();
        assert_eq!(
            d.seen(&mut store, b"x", watermark).unwrap(),
            seen,
            "{watermark:?}"
        );
        assert!(!d.seen(&mut store, b"y", watermark).unwrap());
    }
}

#[test]
fn too_old_is_behind_the_horizon() {
    let (_, d) = setup(3600);
    for (ts, watermark, old) in [
        (T0, Some(T0 + HOUR), false),
        (T0 - 1, Some(T0 + HOUR), true),
        (T0 - 30 * DAY, None, false),
    ] {
        assert_eq!(d.too_old(ts, watermark), old);
    }
    let (_, forever) = setup(0);
    assert!(!forever.too_old(i64::MIN, Some(i64::MAX)));
}

#[test]
fn dedup_seconds_zero_keeps_ids_forever() {
    let (mut store, mut d) = setup(0);
    assert_eq!((d.horizon_ms, d.bucket_ms, d.next_expiry), (0, 0, None));
    d.remember(&mut store, b"x", T0).unwrap();
    assert_eq!(store.get(b"D\0b", b"x").unwrap(), Some(Vec::new()));
    assert!(d.seen(&mut store, b"x", Some(T0 + 1000 * DAY)).unwrap());
    assert_eq!(d.expire(&mut store, i64::MAX, usize::MAX).unwrap(), 0);
    assert!(d.buckets().is_empty());
    assert_eq!(key_counts(&store), [1, 0, 0]);
}

#[test]
fn legacy_empty_values_stay_seen() {
    let (mut store, mut d) = setup(3600);
    store.put(b"D\0b", b"legacy", b"").unwrap();
    d.remember(&mut store, b"x", T0).unwrap();
    assert!(d.seen(&mut store, b"legacy", Some(T0 + 50 * DAY)).unwrap());
    d.expire(&mut store, T0 + 50 * DAY, usize::MAX).unwrap();
    assert!(d.seen(&mut store, b"legacy", Some(T0 + 50 * DAY)).unwrap());
    assert!(!d.seen(&mut store, b"x", Some(T0 + 50 * DAY)).unwrap());
}

#[test]
fn expired_buckets_leave_the_store_within_the_budget() {
    let (mut store, mut d) = setup(8 * 3600); // buckets of 1 h
    for n in 0..300 {
        d.remember(&mut store, format!("a{n}").as_bytes(), T0 + n * 36_000)
            .unwrap();
    }
    // T0 is 10:00Z, so the 300 ids land in the buckets ending 11:00, 12:00, 13:00
    assert_eq!(
        d.buckets(),
        vec![
            (T0 + HOUR, (100, 0)),
            (T0 + 2 * HOUR, (100, 0)),
            (T0 + 3 * HOUR, (100, 0))
        ]
    );
    assert_eq!(d.next_expiry, Some(T0 + 9 * HOUR));
    assert_eq!(key_counts(&store), [300, 3, 300]);
    // not due yet: nothing looked at
    assert_eq!(
        d.expire(&mut store, T0 + 9 * HOUR - 1, EVENT_BUDGET)
            .unwrap(),
        0
    );
    // (watermark, budget, ids looked at, buckets after, next_expiry after, D keys)
    type Step = (
        i64,
        usize,
        usize,
        Vec<(i64, (u64, u64))>,
        Option<i64>,
        usize,
    );
    #[rustfmt::skip]
    let steps: &[Step] = &[
        (T0 + 9 * HOUR, 64, 64, vec![(T0 + HOUR, (100, 64)), (T0 + 2 * HOUR, (100, 0)), (T0 + 3 * HOUR, (100, 0))], Some(T0 + 9 * HOUR), 236),
        // only the first bucket is behind: the rest of it, then stop
        (T0 + 9 * HOUR, 64, 36, vec![(T0 + 2 * HOUR, (100, 0)), (T0 + 3 * HOUR, (100, 0))], Some(T0 + 10 * HOUR), 200),
        (T0 + 10 * HOUR - 1, 64, 0, vec![(T0 + 2 * HOUR, (100, 0)), (T0 + 3 * HOUR, (100, 0))], Some(T0 + 10 * HOUR), 200),
        // a budget spanning two buckets
        (T0 + 12 * HOUR, 150, 150, vec![(T0 + 3 * HOUR, (100, 50))], Some(T0 + 11 * HOUR), 50),
        (T0 + 12 * HOUR, 0, 0, vec![(T0 + 3 * HOUR, (100, 50))], Some(T0 + 11 * HOUR), 50),
        (T0 + 12 * HOUR, 50, 50, vec![], None, 0),
        (T0 + 99 * HOUR, 50, 0, vec![], None, 0),
    ];
    for (watermark, budget, done, buckets, next, ids) in steps {
        assert_eq!(d.expire(&mut store, *watermark, *budget).unwrap(), *done);
        assert_eq!(&d.buckets(), buckets);
        assert_eq!(d.next_expiry, *next);
        assert_eq!(key_counts(&store)[0], *ids);
        // the Q rows and X members mirror the in-memory buckets
        let again = Dedup::load(&mut store, "b", 8 * 3600).unwrap();
        assert_eq!(again.buckets(), d.buckets());
        assert_eq!(again.next_expiry, d.next_expiry);
        let members: u64 = d
            .buckets()
            .iter()
            .map(|(_, (put, cleaned))| put - cleaned)
            .sum();
        assert_eq!(key_counts(&store)[2] as u64, members);
    }
    assert_eq!(key_counts(&store), [0, 0, 0]);
    assert!(store.space_names().is_empty());
}

#[test]
fn a_forgotten_id_stored_again_survives_the_old_buckets_clean_up() {
    let (mut store, mut d) = setup(8 * 3600);
    d.remember(&mut store, b"x", T0).unwrap(); // bucket ending T0 + 1 h (T0 is 10:00Z)
    d.remember(&mut store, b"y", T0).unwrap();
    let watermark = T0 + 9 * HOUR; // the old bucket is behind: x forgotten, not cleaned
    assert!(!d.seen(&mut store, b"x", Some(watermark)).unwrap());
    d.remember(&mut store, b"x", watermark).unwrap();
    assert!(d.seen(&mut store, b"x", Some(watermark)).unwrap());
    assert_eq!(d.expire(&mut store, watermark, EVENT_BUDGET).unwrap(), 2);
    assert!(d.seen(&mut store, b"x", Some(watermark)).unwrap());
    assert_eq!(
        store.get(b"D\0b", b"x").unwrap(),
        Some(enc(T0 + 10 * HOUR).to_vec())
    );
    assert_eq!(store.get(b"D\0b", b"y").unwrap(), None);
    assert_eq!(d.buckets(), vec![(T0 + 10 * HOUR, (1, 0))]);
    assert_eq!(key_counts(&store), [1, 1, 1]);
}

#[test]
fn next_expiry_follows_the_oldest_bucket() {
    let (mut store, mut d) = setup(3600); // buckets of 450 s
    let width = 450_000;
    assert_eq!(d.bucket_ms, width);
    let base = T0 - T0 % width;
    d.remember(&mut store, b"late", base + 5 * width).unwrap();
    assert_eq!(d.next_expiry, Some(base + 6 * width + HOUR));
    d.remember(&mut store, b"early", base + 1).unwrap(); // an older bucket: earlier expiry
    assert_eq!(d.next_expiry, Some(base + width + HOUR));
    d.remember(&mut store, b"neg", -1).unwrap(); // before the epoch: bucket ends at 0
    assert_eq!(d.next_expiry, Some(HOUR));
    assert_eq!(
        store.get(b"X\0b\x000", &enc(0)).unwrap(),
        Some(b"neg".to_vec())
    );
    d.remember(&mut store, b"neg2", -width - 1).unwrap();
    assert_eq!(d.bucket_space(-width), b"X\0b\0-450000".to_vec());
    assert_eq!(
        store.get(&d.bucket_space(-width), &enc(0)).unwrap(),
        Some(b"neg2".to_vec())
    );
    assert_eq!(d.buckets().first(), Some(&(-width, (1, 0))));
    let again = Dedup::load(&mut store, "b", 3600).unwrap();
    assert_eq!(
        (again.buckets(), again.next_expiry),
        (d.buckets(), d.next_expiry)
    );
}

#[test]
fn the_clean_up_resumes_after_a_reload() {
    let (mut store, mut d) = setup(8 * 3600);
    for n in 0..200 {
        d.remember(&mut store, format!("a{n}").as_bytes(), T0 + n)
            .unwrap();
    }
    d.remember(&mut store, b"w", T0 + 10 * HOUR).unwrap();
    assert_eq!(
        d.expire(&mut store, T0 + 10 * HOUR, EVENT_BUDGET).unwrap(),
        64
    );
    assert_eq!(key_counts(&store)[2], 200 - 64 + 1);
    let mut again = Dedup::load(&mut store, "b", 8 * 3600).unwrap();
    assert_eq!(
        again.buckets(),
        vec![(T0 + HOUR, (200, 64)), (T0 + 11 * HOUR, (1, 0))]
    );
    assert_eq!(again.next_expiry, Some(T0 + 9 * HOUR));
    assert_eq!((again.horizon_ms, again.bucket_ms), (8 * HOUR, HOUR));
    assert_eq!(again.ids_space(), b"D\0b");
    for id in ["a5", "a150"] {
        assert!(!again
            .seen(&mut store, id.as_bytes(), Some(T0 + 10 * HOUR))
            .unwrap());
    }
    assert_eq!(again.expire(&mut store, T0 + 10 * HOUR, 1000).unwrap(), 136);
    assert_eq!(key_counts(&store), [1, 1, 1]);
    assert_eq!(again.next_expiry, Some(T0 + 19 * HOUR));
}

#[test]
fn load_pages_through_many_buckets() {
    let (mut store, mut d) = setup(1); // buckets of 1 s
    for n in 0..(LOAD_PAGE as i64 * 2 + 3) {
        d.remember(&mut store, format!("e{n}").as_bytes(), T0 + n * 1000)
            .unwrap();
    }
    let again = Dedup::load(&mut store, "b", 1).unwrap();
    assert_eq!(again.buckets().len(), LOAD_PAGE * 2 + 3);
    assert_eq!(
        (again.buckets(), again.next_expiry),
        (d.buckets(), d.next_expiry)
    );
}
