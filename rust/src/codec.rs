//! Byte layouts of the engine's keys and values, and how one event folds into a standing.
//!
//! Index keys sort bytewise in rank order - score (flipped for `desc`), then the time the
//! score was reached, then the user's UTF-8 bytes (UTF-8 preserves code-point order) - so
//! an ordered scan walks a window from rank 1 down and the top-K is a prefix scan. A user's
//! state value starts with the same 24-byte rank head (followed by the last event id for
//! `last`), so the user's index key is `head + user`: no second encoding.

const SCORE_BIAS: u128 = 1 << 127; // sums of 2^53-bounded scores stay far inside 128 bits
const TS_BIAS: u64 = 1 << 63;
const SCORE_BYTES: usize = 16;
pub const HEAD: usize = SCORE_BYTES + 8;
pub const SEP: u8 = 0;

/// A user's standing in one window: score, the event time it was reached, and the last
/// event id (kept for `last` only, the tie-break between two events of one ts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub score: i128,
    pub reached: i64,
    pub last_event_id: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Aggregate {
    Sum,
    Max,
    Min,
    Last,
}

impl Aggregate {
    pub fn parse(name: &str) -> Option<Aggregate> {
        match name {
            "sum" => Some(Aggregate::Sum),
            "max" => Some(Aggregate::Max),
            "min" => Some(Aggregate::Min),
            "last" => Some(Aggregate::Last),
            _ => None,
        }
    }
}

/// The standing after the event, or None when the event changes nothing (contract
/// section 2). `reached` is chosen per aggregate so that the result depends only on the
/// set of applied events, never on their arrival order.
pub fn fold(
    agg: Aggregate,
    old: Option<&Standing>,
    score: i64,
    ts: i64,
    event_id: &str,
) -> Option<Standing> {
    let score = score as i128;
    let Some(old) = old else {
        let last = if agg == Aggregate::Last {
            event_id.to_owned()
        } else {
            String::new()
        };
        return Some(Standing {
            score,
            reached: ts,
            last_event_id: last,
        });
    };
    match agg {
        Aggregate::Sum => {
            let new = Standing {
                score: old.score + score,
                reached: old.reached.max(ts),
                last_event_id: String::new(),
            };
            if new == *old {
                None
            } else {
                Some(new)
            }
        }
        Aggregate::Max => extreme(old, score, ts, score > old.score),
        Aggregate::Min => extreme(old, score, ts, score < old.score),
        Aggregate::Last => {
            if (ts, event_id) > (old.reached, old.last_event_id.as_str()) {
                Some(Standing {
                    score,
                    reached: ts,
                    last_event_id: event_id.to_owned(),
                })
            } else {
                None
            }
        }
    }
}

fn extreme(old: &Standing, score: i128, ts: i64, better: bool) -> Option<Standing> {
    if better || (score == old.score && ts < old.reached) {
        Some(Standing {
            score,
            reached: ts,
            last_event_id: String::new(),
        })
    } else {
        None
    }
}

/// The user's value in a window: rank head (score, reached) plus the last event id.
pub fn encode_state(s: &Standing, descending: bool, out: &mut Vec<u8>) {
    out.clear();
    let biased = if descending {
        SCORE_BIAS.wrapping_sub(s.score as u128)
    } else {
        SCORE_BIAS.wrapping_add(s.score as u128)
    };
    out.extend_from_slice(&biased.to_be_bytes());
    out.extend_from_slice(&((s.reached as u64).wrapping_add(TS_BIAS)).to_be_bytes());
    out.extend_from_slice(s.last_event_id.as_bytes());
}

pub fn decode_state(raw: &[u8], descending: bool) -> Standing {
    let reached = u64::from_be_bytes(raw[SCORE_BYTES..HEAD].try_into().expect("8 bytes"));
    Standing {
        score: index_score(raw, descending),
        reached: reached.wrapping_sub(TS_BIAS) as i64,
        last_event_id: String::from_utf8_lossy(&raw[HEAD..]).into_owned(),
    }
}

pub fn index_key(state: &[u8], user: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&state[..HEAD]);
    out.extend_from_slice(user);
}

pub fn index_user(key: &[u8]) -> &str {
    std::str::from_utf8(&key[HEAD..]).expect("index keys end in a UTF-8 user id")
}

pub fn index_score(key: &[u8], descending: bool) -> i128 {
    let biased = u128::from_be_bytes(key[..SCORE_BYTES].try_into().expect("16 bytes"));
    if descending {
        SCORE_BIAS.wrapping_sub(biased) as i128
    } else {
        biased.wrapping_sub(SCORE_BIAS) as i128
    }
}

/// Space of one window's user states (tag `U`), rank index (`I`) or rank tree (`T`).
pub fn window_space(tag: u8, board: &str, kind: &str, period: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(board.len() + kind.len() + 16);
    out.push(tag);
    out.push(SEP);
    out.extend_from_slice(board.as_bytes());
    out.push(SEP);
    out.extend_from_slice(kind.as_bytes());
    out.push(SEP);
    out.extend_from_slice(period.unwrap_or("").as_bytes());
    out
}

/// Space of a board's dedup set (`D`) or metadata (`M`).
pub fn board_space(tag: u8, board: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(board.len() + 2);
    out.push(tag);
    out.push(SEP);
    out.extend_from_slice(board.as_bytes());
    out
}

#[cfg(test)]
#[path = "tests/codec.rs"]
mod tests;
