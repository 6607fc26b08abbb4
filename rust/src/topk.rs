//! The first K entries of one window's rank index, and the rank changes one move causes.
//!
//! Only the K best index entries are held in RAM (bounded by K, not by users); anything
//! beyond them stays in the store. When a member falls out of the top-K the next-best user
//! is found with one seek in the store's ordered index, which keeps the top-K exact when
//! scores get worse (negative `sum` scores, `last`).

use std::sync::Arc;

use crate::codec::{index_score, index_user};
use crate::store::{Store, StoreResult};
use crate::types::{RankChange, Record, WindowRef};

/// An index key with its user and score, decoded once when it enters the top-K.
pub struct Entry {
    pub key: Vec<u8>,
    pub user: Arc<str>,
    pub score: i128,
}

/// What every change of one move shares: board, window and the causing event id.
pub struct Cause<'a> {
    pub board: &'a Arc<str>,
    pub window: &'a Arc<WindowRef>,
    pub event_id: &'a Arc<str>,
}

pub struct TopK {
    k: usize,
    descending: bool,
    pub entries: Vec<Entry>,
}

impl TopK {
    /// The first K entries of the index `space`.
    pub fn load(
        store: &mut dyn Store,
        space: &[u8],
        k: usize,
        descending: bool,
    ) -> StoreResult<TopK> {
        let entries = store
            .scan(space, None, k)?
            .into_iter()
            .map(|(key, _)| entry(key, descending))
            .collect();
        Ok(TopK {
            k,
            descending,
            entries,
        })
    }

    pub fn standings(&self) -> Vec<(u32, String, i128)> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u32 + 1, e.user.to_string(), e.score))
            .collect()
    }

    fn position(&self, key: &[u8]) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.key.as_slice().cmp(key))
    }

    /// Replace `old` by `new` (the store already holds the new index under `space`) and
    /// append a change for every member whose rank or score changed. The store is read
    /// only when a member left and the K-th place must be refilled from outside.
    pub fn move_key(
        &mut self,
        store: &mut dyn Store,
        space: &[u8],
        old: Option<&[u8]>,
        new: &[u8],
        cause: &Cause<'_>,
        out: &mut Vec<Record>,
    ) -> StoreResult<()> {
        let k = self.k;
        let full = self.entries.len() == k;
        let old_pos = old.and_then(|key| self.position(key).ok());
        let mut new_pos = None;
        let mut entered = false;
        let mut dropped: Option<Entry> = None;
        if let Some(at) = old_pos {
            let boundary = self.entries.last().expect("old is a member").key.clone();
            self.entries.remove(at);
            if !full || new < boundary.as_slice() {
                let at = self.position(new).unwrap_or_else(|at| at);
                self.entries
                    .insert(at, entry(new.to_vec(), self.descending));
                new_pos = Some(at);
            } else {
                let filler = store
                    .scan(space, Some(&boundary), 1)?
                    .pop()
                    .map(|(key, _)| key)
                    .expect("the store must hold the new index key");
                let is_new = filler == new;
                self.entries.push(entry(filler, self.descending));
                if is_new {
                    new_pos = Some(k - 1);
                } else {
                    entered = true;
                }
            }
        } else if !full
            || self
                .entries
                .last()
                .is_some_and(|last| new < last.key.as_slice())
        {
            let at = self.position(new).unwrap_or_else(|at| at);
            self.entries
                .insert(at, entry(new.to_vec(), self.descending));
            new_pos = Some(at);
            if self.entries.len() > k {
                dropped = self.entries.pop();
            }
        }
        if old_pos.is_some() || new_pos.is_some() {
            self.diff(old, new, old_pos, new_pos, entered, dropped, cause, out);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn diff(
        &self,
        old: Option<&[u8]>,
        new: &[u8],
        old_pos: Option<usize>,
        new_pos: Option<usize>,
        entered: bool,
        dropped: Option<Entry>,
        cause: &Cause<'_>,
        out: &mut Vec<Record>,
    ) {
        let desc = self.descending;
        let score = index_score(new, desc);
        let change =
            |user: &Arc<str>, old_rank: Option<usize>, new_rank: Option<usize>, score: i128| {
                Record::Change(RankChange {
                    board: cause.board.clone(),
                    window: cause.window.clone(),
                    user: user.clone(),
                    old_rank: old_rank.map(|r| r as u32),
                    new_rank: new_rank.map(|r| r as u32),
                    score,
                    cause: cause.event_id.clone(),
                })
            };
        if old_pos != new_pos || old.is_none_or(|o| index_score(o, desc) != score) {
            let user = match new_pos {
                Some(at) => self.entries[at].user.clone(),
                None => Arc::from(index_user(new)),
            };
            out.push(change(
                &user,
                old_pos.map(|p| p + 1),
                new_pos.map(|p| p + 1),
                score,
            ));
        }
        let entries = &self.entries;
        // Everyone strictly between the old and the new place moved by one.
        let (first, stop, delta): (usize, usize, isize) = match (old_pos, new_pos) {
            (Some(o), Some(n)) if n < o => (n + 1, o + 1, -1),
            (Some(o), Some(n)) => (o, n, 1),
            (None, Some(n)) => (n + 1, entries.len(), -1), // entered: everyone below moved down
            (Some(o), None) => (o, entries.len() - usize::from(entered), 1), // left: below moved up
            (None, None) => unreachable!("diff of a move that touched nothing"),
        };
        for (pos, member) in entries.iter().enumerate().take(stop).skip(first) {
            let before = (pos as isize + 1 + delta) as usize;
            out.push(change(
                &member.user,
                Some(before),
                Some(pos + 1),
                member.score,
            ));
        }
        if entered {
            let last = entries.last().expect("a refill entered");
            out.push(change(&last.user, None, Some(entries.len()), last.score));
        }
        if let Some(gone) = dropped {
            out.push(change(&gone.user, Some(entries.len()), None, gone.score));
        }
    }
}

fn entry(key: Vec<u8>, descending: bool) -> Entry {
    let user = Arc::from(index_user(&key));
    let score = index_score(&key, descending);
    Entry { key, user, score }
}
