//! Reads of the engine's state for the query API, tests and benches: a window's top-K, size,
//! pages and exact ranks (the last three need rank trees, `ranks = true`), a board's windows
//! and dedup set, the boards with state.
//!
//! They change no ranking state. Like an event, they may load a board's metadata into the
//! engine's cache, and reading tree nodes may evict others from the node cache (which writes
//! their pending counts).

use std::sync::Arc;

use super::windows::{new_spaces, spaces_of, top_of};
use super::{config_error, key_of, Engine, BOARDS_SPACE};
use crate::codec::{self, decode_state, index_key};
use crate::dedup::Dedup;
use crate::meta::Closed;
use crate::nodecache::NodeCache;
use crate::ranktree::RankTree;
use crate::store::{Store, StoreResult};
use crate::types::WindowRef;

impl Engine {
    /// Whether moving the board's watermark to `now_ms` would close a window.
    pub fn closes_by(
        &mut self,
        store: &mut dyn Store,
        board: &str,
        now_ms: i64,
    ) -> StoreResult<bool> {
        Ok(self.load_board(store, board)?.due(now_ms))
    }

    pub fn dedup(&mut self, store: &mut dyn Store, board: &str) -> StoreResult<&Dedup> {
        Ok(&self.load_board(store, board)?.dedup)
    }

    /// Current (rank, user, score) of a window's top-K.
    pub fn top(
        &mut self,
        store: &mut dyn Store,
        board: &str,
        window: &WindowRef,
    ) -> StoreResult<Vec<(u32, String, i128)>> {
        let (bucket_max, fanout) = (self.bucket_max, self.fanout);
        let state = self.load_board(store, board)?;
        let (k, descending) = (state.config.top, state.config.descending);
        let spaces = spaces_of(state, &Arc::new(window.clone()), bucket_max, fanout);
        Ok(top_of(store, spaces, k, descending)?.standings())
    }

    /// Boards with state in the store, in name order.
    pub fn board_names(&self, store: &mut dyn Store) -> StoreResult<Vec<String>> {
        Ok(store
            .scan(BOARDS_SPACE, None, usize::MAX)?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
            .collect())
    }

    /// Configured, or has state here (asking for made-up boards never grows the cache).
    pub fn known(&self, store: &mut dyn Store, board: &str) -> StoreResult<bool> {
        Ok(self.boards.contains_key(board)
            || self.config.boards.contains_key(board)
            || store.get(BOARDS_SPACE, board.as_bytes())?.is_some())
    }

    /// A board's watermark, open windows and retained closed windows per kind.
    #[allow(clippy::type_complexity)]
    pub fn windows(
        &mut self,
        store: &mut dyn Store,
        board: &str,
    ) -> StoreResult<(Option<i64>, Vec<Arc<WindowRef>>, Closed)> {
        let state = self.load_board(store, board)?;
        Ok((state.watermark, state.open.clone(), state.closed.clone()))
    }

    fn query_tree<T>(
        &mut self,
        store: &mut dyn Store,
        board: &str,
        window: &WindowRef,
        run: impl FnOnce(&mut dyn Store, &mut NodeCache, &mut RankTree, &[u8], bool) -> StoreResult<T>,
    ) -> StoreResult<T> {
        if !self.ranks {
            return Err(config_error(
                "this engine keeps no rank trees (ranks=False)".into(),
            ));
        }
        let (bucket_max, fanout) = (self.bucket_max, self.fanout);
        self.load_board(store, board)?;
        let Engine {
            boards, tree_cache, ..
        } = self;
        let state = boards.get_mut(board).expect("loaded");
        let descending = state.config.descending;
        if let Some(spaces) = state.windows.get_mut(&key_of(window)) {
            return run(
                store,
                tree_cache,
                &mut spaces.tree,
                &spaces.users,
                descending,
            );
        }
        let mut spaces = new_spaces(&state.name, Arc::new(window.clone()), bucket_max, fanout);
        run(
            store,
            tree_cache,
            &mut spaces.tree,
            &spaces.users,
            descending,
        )
    }

    /// Number of users with a score in the window.
    pub fn window_size(
        &mut self,
        store: &mut dyn Store,
        board: &str,
        window: &WindowRef,
    ) -> StoreResult<u64> {
        self.query_tree(store, board, window, |s, c, tree, _, _| tree.len(s, c))
    }

    /// (user, score) at 0-based positions `offset` .. `offset + limit - 1`.
    pub fn page(
        &mut self,
        store: &mut dyn Store,
        board: &str,
        window: &WindowRef,
        offset: u64,
        limit: usize,
    ) -> StoreResult<Vec<(String, i128)>> {
        self.query_tree(store, board, window, |s, c, tree, _, desc| {
            Ok(tree
                .page(s, c, offset, limit)?
                .iter()
                .map(|key| {
                    (
                        codec::index_user(key).to_owned(),
                        codec::index_score(key, desc),
                    )
                })
                .collect())
        })
    }

    /// Levels of the window's counted tree above its buckets (benches: tree shape).
    pub fn tree_levels(
        &mut self,
        store: &mut dyn Store,
        board: &str,
        window: &WindowRef,
    ) -> StoreResult<u8> {
        self.query_tree(store, board, window, |s, c, tree, _, _| {
            tree.root_level(s, c)
        })
    }

    /// A user's exact (rank, score) among all of the window's users; None: no score.
    pub fn user_rank(
        &mut self,
        store: &mut dyn Store,
        board: &str,
        window: &WindowRef,
        user: &str,
    ) -> StoreResult<Option<(u64, i128)>> {
        self.query_tree(store, board, window, |s, c, tree, users, desc| {
            let Some(raw) = s.get(users, user.as_bytes())? else {
                return Ok(None);
            };
            let mut key = Vec::new();
            index_key(&raw, user.as_bytes(), &mut key);
            match tree.rank(s, c, &key)? {
                Some(rank) => Ok(Some((rank, decode_state(&raw, desc).score))),
                None => Err(config_error(format!(
                    "user {user:?} has a state but no rank index entry"
                ))),
            }
        })
    }
}
