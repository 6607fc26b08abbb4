//! One board's remembered event ids, bounded by the dedup horizon (contract section 2);
//! port of `streams/engine/dedup.py`, byte for byte in the store.
//!
//! Semantics: an id is remembered together with the *bucket* of its event's `ts`: buckets
//! are `bucket_ms` wide (an eighth of the horizon, at least a second) and named by their
//! end. An id is a duplicate while its bucket has not fallen wholly behind the horizon, i.e.
//! while `end > watermark - horizon`, whatever the duplicate's own `ts`. Once the bucket is
//! behind, the id counts as forgotten at once, whether or not its keys are still in the
//! store: the physical clean-up is lazy and bounded (a budget per call) and never changes an
//! answer. So ids live between `horizon` and `horizon + bucket_ms` of event time behind the
//! watermark.
//!
//! Key layout (integers are biased 8-byte big-endian: `(v + 2^63)` as u64, so they sort in
//! numeric order):
//!
//! * `D\0<board>`, key = event id: value = the bucket end; an empty value means "forever"
//!   (ids stored before the horizon existed, and every id of a board with
//!   `dedup_seconds = 0`), so old state keeps working.
//! * `Q\0<board>`, key = bucket end: value = (ids put in the bucket, ids already cleaned up),
//!   8 bytes each. Bounded by the live buckets (~9).
//! * `X\0<board>\0<end in decimal>`, key = the id's sequence number in its bucket: value =
//!   the id. Cleaning a bucket walks its sequence numbers with point reads (no scan), deleting
//!   each `X` key and its `D` key unless that id was stored again since, in a newer bucket,
//!   after it had been forgotten. The bucket's `Q` row goes last.

use crate::store::{Store, StoreResult};

/// Clean-up budget (ids) per watermark move of an event; enough to keep up with any input
/// rate (each event adds one id) while bounding the work one event can cause.
pub const EVENT_BUDGET: usize = 64;

const BIAS: u64 = 1 << 63;
/// Page size of the `Q` scan in [`Dedup::load`].
const LOAD_PAGE: usize = 256;

/// Biased big-endian encoding of an integer (Python `(v + 2**63).to_bytes(8, "big")`).
#[inline]
pub fn enc(value: i64) -> [u8; 8] {
    ((value as u64) ^ BIAS).to_be_bytes()
}

/// Python `int.from_bytes(raw, "big") - 2**63` for any length; values of more than 15
/// significant bytes (never written by this module) saturate.
#[inline]
fn dec_wide(raw: &[u8]) -> i128 {
    if let Ok(bytes) = <[u8; 8]>::try_from(raw) {
        return i128::from(u64::from_be_bytes(bytes)) - i128::from(BIAS);
    }
    let significant = &raw[raw.iter().position(|&b| b != 0).unwrap_or(raw.len())..];
    if significant.len() > 15 {
        return i128::MAX;
    }
    let value = significant
        .iter()
        .fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
    value as i128 - i128::from(BIAS)
}

/// [`dec_wide`] clamped to i64 (bucket ends and counters).
fn dec(raw: &[u8]) -> i64 {
    dec_wide(raw).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Width of one event-time bucket for a horizon (0: no buckets, ids kept forever).
pub fn bucket_ms_for(horizon_ms: i64) -> i64 {
    if horizon_ms > 0 {
        (horizon_ms / 8).max(1000)
    } else {
        0
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    end: i64,
    /// ids put in the bucket
    count: i64,
    /// ids already cleaned up (a prefix of the sequence numbers)
    cleaned: i64,
}

/// The dedup set of one board; see the module docs for semantics and layout.
pub struct Dedup {
    pub horizon_ms: i64,
    pub bucket_ms: i64,
    /// The watermark from which the oldest bucket is behind the horizon (clean-up due);
    /// None = infinity (no bucket).
    pub next_expiry: Option<i64>,
    ids: Vec<u8>,
    list_space: Vec<u8>,
    /// `X\0<board>\0` followed by the decimal end of `member_end`.
    member_space: Vec<u8>,
    member_prefix: usize,
    member_end: Option<i64>,
    /// Live buckets sorted by end (Python: a dict, iterated sorted).
    buckets: Vec<Bucket>,
}

impl Dedup {
    /// The dedup set of `board`, its live buckets read from the store. `dedup_seconds` is
    /// validated `>= 0` by the config; a negative value is treated as 0 (ids kept forever).
    pub fn load(store: &mut dyn Store, board: &str, dedup_seconds: i64) -> StoreResult<Dedup> {
        let horizon_ms = dedup_seconds.max(0).saturating_mul(1000);
        let space = |tag: u8| {
            let mut name = Vec::with_capacity(2 + board.len());
            name.extend_from_slice(&[tag, 0]);
            name.extend_from_slice(board.as_bytes());
            name
        };
        let mut member_space = space(b'X');
        member_space.push(0);
        let member_prefix = member_space.len();
        member_space.reserve(20);
        let mut dedup = Dedup {
            horizon_ms,
            bucket_ms: bucket_ms_for(horizon_ms),
            next_expiry: None,
            ids: space(b'D'),
            list_space: space(b'Q'),
            member_space,
            member_prefix,
            member_end: None,
            buckets: Vec::new(),
        };
        if horizon_ms != 0 {
            dedup.load_buckets(store)?;
        }
        Ok(dedup)
    }

    /// `D\0<board>`: the space of the remembered ids.
    pub fn ids_space(&self) -> &[u8] {
        &self.ids
    }

    /// `Q\0<board>`: the space of the bucket list.
    pub fn list_space(&self) -> &[u8] {
        &self.list_space
    }

    /// Behind the horizon: an event this old can no longer be checked for duplicates.
    pub fn too_old(&self, ts: i64, watermark: Option<i64>) -> bool {
        self.horizon_ms != 0
            && watermark
                .is_some_and(|w| i128::from(ts) < i128::from(w) - i128::from(self.horizon_ms))
    }

    pub fn seen(
        &self,
        store: &mut dyn Store,
        event_id: &[u8],
        watermark: Option<i64>,
    ) -> StoreResult<bool> {
        let Some(raw) = store.get(&self.ids, event_id)? else {
            return Ok(false);
        };
        Ok(match watermark {
            // kept forever, or no horizon yet
            _ if raw.is_empty() || self.horizon_ms == 0 => true,
            None => true,
            Some(w) => dec_wide(&raw) > i128::from(w) - i128::from(self.horizon_ms),
        })
    }

    /// Remember `event_id` in the bucket of `ts` (the caller checked it is not seen).
    pub fn remember(&mut self, store: &mut dyn Store, event_id: &[u8], ts: i64) -> StoreResult<()> {
        if self.horizon_ms == 0 {
            return store.put(&self.ids, event_id, b"");
        }
        let bucket_ms = self.bucket_ms;
        let end = ts
            .div_euclid(bucket_ms)
            .saturating_add(1)
            .saturating_mul(bucket_ms);
        let index = match self.buckets.binary_search_by_key(&end, |b| b.end) {
            Ok(index) => index,
            Err(index) => {
                self.buckets.insert(
                    index,
                    Bucket {
                        end,
                        count: 0,
                        cleaned: 0,
                    },
                );
                let due = end.saturating_add(self.horizon_ms);
                self.next_expiry = Some(self.next_expiry.map_or(due, |next| next.min(due)));
                index
            }
        };
        self.set_member_space(end);
        let end_key = enc(end);
        let bucket = &mut self.buckets[index];
        store.put(&self.member_space, &enc(bucket.count), event_id)?;
        bucket.count += 1;
        store.put(
            &self.list_space,
            &end_key,
            &row_value(bucket.count, bucket.cleaned),
        )?;
        store.put(&self.ids, event_id, &end_key)
    }

    /// Clean up at most `budget` ids of buckets behind the horizon, oldest first; returns
    /// the ids looked at. Answers do not depend on it (see the module docs).
    pub fn expire(
        &mut self,
        store: &mut dyn Store,
        watermark: i64,
        budget: usize,
    ) -> StoreResult<usize> {
        match self.next_expiry {
            Some(next) if !self.buckets.is_empty() && watermark >= next => {}
            _ => return Ok(0),
        }
        let limit = watermark.saturating_sub(self.horizon_ms);
        let mut done = 0;
        // Only the last bucket looked at can stay partly cleaned (its budget ran out), so
        // the one to work on is always the first.
        while let Some(&Bucket {
            end,
            count,
            cleaned,
        }) = self.buckets.first()
        {
            if end > limit || done >= budget {
                break;
            }
            self.set_member_space(end);
            let end_key = enc(end);
            let mut cursor = cleaned;
            while cursor < count && done < budget {
                let seq = enc(cursor);
                if let Some(event_id) = store.get(&self.member_space, &seq)? {
                    store.delete(&self.member_space, &seq)?;
                    if store.get(&self.ids, &event_id)?.as_deref() == Some(&end_key[..]) {
                        store.delete(&self.ids, &event_id)?;
                    }
                }
                cursor += 1;
                done += 1;
            }
            self.buckets[0].cleaned = cursor;
            if cursor >= count {
                store.delete(&self.list_space, &end_key)?;
                self.buckets.remove(0);
            } else {
                store.put(&self.list_space, &end_key, &row_value(count, cursor))?;
                break;
            }
        }
        self.next_expiry = self
            .buckets
            .first()
            .map(|b| b.end.saturating_add(self.horizon_ms));
        Ok(done)
    }

    /// Live buckets, sorted by end: (end, (ids put, ids cleaned)), for tests and benches.
    pub fn buckets(&self) -> Vec<(i64, (u64, u64))> {
        self.buckets
            .iter()
            .map(|b| (b.end, (b.count.max(0) as u64, b.cleaned.max(0) as u64)))
            .collect()
    }

    /// `X\0<board>\0<end>`: the space of one bucket's members.
    pub fn bucket_space(&self, end: i64) -> Vec<u8> {
        let mut name = self.member_space[..self.member_prefix].to_vec();
        push_decimal(&mut name, end);
        name
    }

    fn set_member_space(&mut self, end: i64) {
        if self.member_end != Some(end) {
            self.member_space.truncate(self.member_prefix);
            push_decimal(&mut self.member_space, end);
            self.member_end = Some(end);
        }
    }

    fn load_buckets(&mut self, store: &mut dyn Store) -> StoreResult<()> {
        let mut buckets = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = store.scan(&self.list_space, after.as_deref(), LOAD_PAGE)?;
            let full = page.len() == LOAD_PAGE;
            for (key, value) in &page {
                let split = value.len().min(8);
                buckets.push(Bucket {
                    end: dec(key),
                    count: dec(&value[..split]),
                    cleaned: dec(&value[split..]),
                });
            }
            after = page.into_iter().next_back().map(|(key, _)| key);
            if !full {
                break;
            }
        }
        // 8-byte keys scan in numeric order already; keep Python's dict semantics (last
        // value wins) for malformed keys that decode to the same end.
        buckets.sort_by_key(|b| b.end);
        buckets.dedup_by(|later, earlier| {
            let same = later.end == earlier.end;
            if same {
                *earlier = *later;
            }
            same
        });
        self.next_expiry = buckets
            .first()
            .map(|b| b.end.saturating_add(self.horizon_ms));
        self.buckets = buckets;
        Ok(())
    }
}

/// The `Q` value of a bucket: (ids put, ids cleaned).
fn row_value(count: i64, cleaned: i64) -> [u8; 16] {
    let mut value = [0; 16];
    value[..8].copy_from_slice(&enc(count));
    value[8..].copy_from_slice(&enc(cleaned));
    value
}

/// Python `str(value).encode()`, appended without allocating beyond `out`'s capacity.
fn push_decimal(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut n = value.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
#[path = "tests/dedup.rs"]
mod tests;
