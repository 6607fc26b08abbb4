//! Unit tests of `meta.rs`.

use super::*;

#[test]
fn matches_python_json_dumps_and_round_trips() {
    // json.dumps({"open": [["daily", "2026-11-30", 1764460800000, 1764547200000]],
    //             "closed": {"weekly": [["weekly", "2026-11-23", -5, 7]]}})
    let python = br#"{"open": [["daily", "2026-11-30", 1764460800000, 1764547200000]], "closed": {"weekly": [["weekly", "2026-11-23", -5, 7]]}}"#;
    let (open, closed) = decode(python).unwrap();
    assert_eq!(open[0].period.as_deref(), Some("2026-11-30"));
    assert_eq!(closed[0].1[0].start, Some(-5));
    assert_eq!(encode(&open, &closed), python.to_vec());
    assert_eq!(
        encode(&[], &Vec::new()),
        br#"{"open": [], "closed": {}}"#.to_vec()
    );
}
