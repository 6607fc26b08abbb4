//! Unit tests of `replay_io.rs`.

use super::*;

type Seen<'a> = (u64, &'a [u8], Option<&'a [u8]>);

#[test]
fn board_fast_path_table() {
    let cases: [(&[u8], Option<&[u8]>); 9] = [
        (
            br#"{"event_id":"e","board":"arena","user":"u"}"#,
            Some(b"arena"),
        ),
        (br#"{"board" :	"b 1" , "x": 1}"#, Some(b"b 1")),
        (br#"{"board": ""}"#, Some(b"")),
        (br#"{"board": "a\"b"}"#, None), // an escape: decode
        (br#"{"board": "a", "x": {"board": "b"}}"#, None), // two tokens: decode
        (br#"{"board": 5}"#, None),      // not a string
        (br#"{"board": "open"#, None),   // no closing quote
        (br#"{"user": "u"}"#, None),     // no board
        (
            "{\"board\": \"プレイヤー\"}".as_bytes(),
            Some("プレイヤー".as_bytes()),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(board(line), want, "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn split_numbers_every_line_and_skips_blank_ones() {
    let block = b"{\"board\":\"a\"}\r\n\n  \t\n{\"board\":\"b\"}";
    let (lines, counted) = split(block, 10);
    assert_eq!(counted, 4);
    let got: Vec<Seen<'_>> = lines.iter().map(|l| (l.number, l.body, l.board)).collect();
    assert_eq!(
        got,
        vec![
            (10, &b"{\"board\":\"a\"}"[..], Some(&b"a"[..])),
            (13, &b"{\"board\":\"b\"}"[..], Some(&b"b"[..])),
        ]
    );
    assert_eq!(split(b"x\n", 1).1, 1);
    assert_eq!(split(b"", 1).1, 0);
}

#[test]
fn offsets_follow_line_order_per_destination() {
    // worker 0: lines 1 (stdout, 10 bytes) and 4 (dlq, 3); worker 1: lines 2 (stdout, 5), 3 (stdout, 7)
    let w0 = Answers {
        numbers: &[1, 4],
        wheres: &[0, 1],
        ends: &[10, 13],
    };
    let w1 = Answers {
        numbers: &[2, 3],
        wheres: &[0, 0],
        ends: &[5, 12],
    };
    let mut cursors = [100, 0];
    let got = offsets(&[w0, w1], &mut cursors);
    assert_eq!(got, vec![vec![100, 0], vec![110, 115]]);
    assert_eq!(cursors, [122, 3]);
}

#[test]
fn a_block_cuts_into_shares_by_board_owner() {
    let data = b"{\"board\":\"a\"}\n\n{\"board\":\"b\"}\n{\"board\":\"a\"}\nnot json\n{\"board\": \"x\\u0041\"}\n".to_vec();
    let mut block = Block::new(data, 1);
    assert_eq!(block.counted, 6);
    assert_eq!(block.len(), 5);
    let unknown = block.unknown();
    assert_eq!(unknown, vec![3, 4]); // "not json" and the escaped board: decode them
    block.set_board(3, None);
    block.set_board(4, Some(b"xA"));
    let counts: Vec<(Vec<u8>, usize)> = block
        .counts()
        .into_iter()
        .map(|(b, n)| (b.to_vec(), n))
        .collect();
    assert_eq!(
        counts,
        vec![(b"a".to_vec(), 2), (b"b".to_vec(), 1), (b"xA".to_vec(), 1)]
    );
    // a -> 1, b -> 0, xA -> 1; the line without a board (number 5) goes to 5 % 2 = 1
    let shares = block.shares(&[1, 0, 1], 2);
    assert_eq!(shares[0].0, vec![3]);
    assert_eq!(shares[1].0, vec![1, 4, 5, 6]);
    assert_eq!(shares[1].1.split(|&b| b == b'\n').count(), 4);
    assert_eq!(block.body(2), b"{\"board\":\"a\"}");
}
