//! One window's state changes: an event's update of a user's state, the rank index, the rank
//! tree and the top-K ([`apply_to_window`]); closing the windows that are due
//! ([`close_due`]) and removing those beyond retention from the store ([`forget`]).
//!
//! Order matters in [`apply_to_window`]: the window's top-K is loaded before the index write
//! (it must mirror the old index), and the rank tree is told right after that write (its
//! bucket scans read the index as it is after the change).

use std::sync::Arc;

use super::{key_of, Board, Spaces, WINDOWS};
use crate::codec::{decode_state, encode_state, fold, index_key, window_space};
use crate::meta;
use crate::nodecache::NodeCache;
use crate::ranktree::RankTree;
use crate::store::{Store, StoreResult};
use crate::topk::{Cause, TopK};
use crate::types::{Kind, Record, ScoreEvent, WindowClosed, WindowRef};

/// What applying an event to one window works with, borrowed from the engine.
pub(super) struct WindowCtx<'a> {
    pub(super) store: &'a mut dyn Store,
    pub(super) tree_cache: &'a mut NodeCache,
    pub(super) ranks: bool,
    pub(super) bucket_max: usize,
    pub(super) fanout: usize,
    pub(super) buf_state: &'a mut Vec<u8>,
    pub(super) buf_old: &'a mut Vec<u8>,
    pub(super) buf_new: &'a mut Vec<u8>,
}

pub(super) fn new_spaces(
    board: &str,
    window: Arc<WindowRef>,
    bucket_max: usize,
    fanout: usize,
) -> Spaces {
    let (kind, period) = (window.kind.name(), window.period.as_deref());
    let index = window_space(b'I', board, kind, period);
    let tree = RankTree::new(
        window_space(b'T', board, kind, period),
        index.clone(),
        bucket_max,
        fanout,
    );
    Spaces {
        users: window_space(b'U', board, kind, period),
        index,
        tree,
        top: None,
        window,
    }
}

pub(super) fn spaces_of<'b>(
    board: &'b mut Board,
    window: &Arc<WindowRef>,
    bucket_max: usize,
    fanout: usize,
) -> &'b mut Spaces {
    let name = &board.name;
    board
        .windows
        .entry(key_of(window))
        .or_insert_with(|| new_spaces(name, window.clone(), bucket_max, fanout))
}

pub(super) fn top_of<'s>(
    store: &mut dyn Store,
    spaces: &'s mut Spaces,
    k: usize,
    descending: bool,
) -> StoreResult<&'s mut TopK> {
    if spaces.top.is_none() {
        spaces.top = Some(TopK::load(store, &spaces.index, k, descending)?);
    }
    Ok(spaces.top.as_mut().expect("loaded"))
}

pub(super) fn apply_to_window(
    ctx: &mut WindowCtx<'_>,
    board: &mut Board,
    window: Arc<WindowRef>,
    event: &ScoreEvent<'_>,
    cause: &Arc<str>,
    out: &mut Vec<Record>,
) -> StoreResult<()> {
    let store = &mut *ctx.store;
    let (descending, aggregate) = (board.config.descending, board.config.aggregate);
    let user = event.user.as_bytes();
    let spaces = spaces_of(board, &window, ctx.bucket_max, ctx.fanout);
    let raw = store.get(&spaces.users, user)?;
    let old = raw.as_deref().map(|r| decode_state(r, descending));
    let Some(new) = fold(
        aggregate,
        old.as_ref(),
        event.score,
        event.ts,
        event.event_id,
    ) else {
        return Ok(());
    };
    encode_state(&new, descending, ctx.buf_state);
    store.put(&spaces.users, user, ctx.buf_state)?;
    let shared = spaces.window.clone();
    if raw.is_none() && window.kind != Kind::All && !board.open.iter().any(|w| **w == *window) {
        let end = window.end.expect("daily and weekly windows end");
        board.open.push(shared.clone());
        let close = end + board.grace_ms;
        board.next_close = Some(board.next_close.map_or(close, |c| c.min(close)));
        save_windows(store, board)?;
    }
    let spaces = board
        .windows
        .get_mut(&key_of(&window))
        .expect("cached above");
    if let Some(raw) = &raw {
        index_key(raw, user, ctx.buf_old);
    }
    index_key(ctx.buf_state, user, ctx.buf_new);
    let old_key = raw.as_ref().map(|_| ctx.buf_old.as_slice());
    if old_key == Some(ctx.buf_new.as_slice()) {
        return Ok(());
    }
    let new_key = ctx.buf_new.as_slice();
    // Load the top-K before the index write: it must mirror the old index.
    let (k, board_name) = (board.config.top, board.name.clone());
    let top = top_of(store, spaces, k, descending)?;
    let _ = top;
    if let Some(old_key) = old_key {
        store.delete(&spaces.index, old_key)?;
    }
    store.put(&spaces.index, new_key, b"")?;
    if ctx.ranks {
        spaces
            .tree
            .move_key(store, ctx.tree_cache, old_key, Some(new_key))?;
    }
    let cause = Cause {
        board: &board_name,
        window: &shared,
        event_id: cause,
    };
    let top = spaces.top.as_mut().expect("loaded above");
    top.move_key(store, &spaces.index, old_key, new_key, &cause, out)
}

pub(super) fn close_due(
    store: &mut dyn Store,
    tree_cache: &mut NodeCache,
    board: &mut Board,
    bucket_max: usize,
    fanout: usize,
    out: &mut Vec<Record>,
) -> StoreResult<()> {
    let watermark = board.watermark.expect("closing needs a watermark");
    let grace = board.grace_ms;
    let is_due = |w: &Arc<WindowRef>| w.end.is_some_and(|e| watermark >= e + grace);
    let mut due: Vec<Arc<WindowRef>> = board.open.iter().filter(|w| is_due(w)).cloned().collect();
    if due.is_empty() {
        return Ok(());
    }
    board.open.retain(|w| !is_due(w));
    board.plan_close();
    due.sort_by_key(|w| (w.end, w.kind));
    let (k, descending, retain) = (
        board.config.top,
        board.config.descending,
        board.config.retain,
    );
    for window in due {
        let spaces = spaces_of(board, &window, bucket_max, fanout);
        let standings = top_of(store, spaces, k, descending)?.standings();
        board.windows.remove(&key_of(&window)); // closed: no event will touch it again
        out.push(Record::Closed(WindowClosed {
            board: board.name.clone(),
            window: window.clone(),
            standings,
        }));
        let at = match board
            .closed
            .iter()
            .position(|(kind, _)| *kind == window.kind)
        {
            Some(at) => at,
            None => {
                board.closed.push((window.kind, Vec::new()));
                board.closed.len() - 1
            }
        };
        board.closed[at].1.push(window);
        while board.closed[at].1.len() > retain {
            let gone = board.closed[at].1.remove(0);
            forget(store, tree_cache, &board.name, &gone)?;
        }
    }
    save_windows(store, board)
}

/// Retention: a closed window beyond `retain` leaves the store entirely.
fn forget(
    store: &mut dyn Store,
    tree_cache: &mut NodeCache,
    board: &str,
    window: &WindowRef,
) -> StoreResult<()> {
    let (kind, period) = (window.kind.name(), window.period.as_deref());
    for tag in [b'U', b'I'] {
        store.drop_space(&window_space(tag, board, kind, period))?;
    }
    let tree = window_space(b'T', board, kind, period);
    store.drop_space(&tree)?;
    tree_cache.forget_space(&tree);
    Ok(())
}

fn save_windows(store: &mut dyn Store, board: &Board) -> StoreResult<()> {
    store.put(
        &board.meta_space,
        WINDOWS,
        &meta::encode(&board.open, &board.closed),
    )
}
