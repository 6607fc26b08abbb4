//! Unit tests of `codec.rs`.

use super::*;

#[test]
fn state_round_trips_and_sorts() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    let s1 = Standing {
        score: 10,
        reached: 5,
        last_event_id: String::new(),
    };
    let s2 = Standing {
        score: -3,
        reached: -7,
        last_event_id: "e".into(),
    };
    encode_state(&s1, true, &mut a);
    encode_state(&s2, true, &mut b);
    assert!(a < b, "desc: the higher score sorts first");
    assert_eq!(decode_state(&a, true), s1);
    assert_eq!(decode_state(&b, true), s2);
    encode_state(&s2, false, &mut b);
    assert_eq!(decode_state(&b, false), s2);
}

#[test]
fn fold_table() {
    let old = Standing {
        score: 5,
        reached: 100,
        last_event_id: String::new(),
    };
    /// (aggregate, score, ts) -> (score, reached) of the new standing, None: unchanged.
    type Case = (Aggregate, i64, i64, Option<(i128, i64)>);
    let cases: [Case; 7] = [
        (Aggregate::Sum, 3, 50, Some((8, 100))),
        (Aggregate::Sum, 0, 50, None),
        (Aggregate::Max, 6, 50, Some((6, 50))),
        (Aggregate::Max, 5, 50, Some((5, 50))),
        (Aggregate::Max, 5, 150, None),
        (Aggregate::Min, 4, 150, Some((4, 150))),
        (Aggregate::Min, 6, 10, None),
    ];
    for (agg, score, ts, want) in cases {
        let got = fold(agg, Some(&old), score, ts, "x").map(|s| (s.score, s.reached));
        assert_eq!(got, want, "{agg:?} {score} {ts}");
    }
}
