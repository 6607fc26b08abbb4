//! The ranking engine: one validated event in, the push-topic records it causes out.
//!
//! Every decision of contract sections 1-3 that needs state is made here, against a
//! [`Store`] passed to each call, with the wall clock passed in, so that replay, tests and
//! the stream job agree. Per-board metadata and each open window's top-K are cached; both
//! are bounded by boards and K (never by users) and are rebuilt from the store on a miss,
//! so [`Engine::drop_caches`] makes the engine safe to use after the store changed under
//! it (a rebalance).
//!
//! The engine is in three parts: this file (boards, the event path and watermark moves),
//! `queries` (reads for the query API, tests and benches) and `windows` (one window's
//! state: an event's update, closing, retention).

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use crate::calendar::Calendar;
use crate::codec::board_space;
use crate::config::{BoardConfig, BoardsConfig};
use crate::dedup::{Dedup, EVENT_BUDGET};
use crate::meta::{self, Closed};
use crate::nodecache::NodeCache;
use crate::ranktree::RankTree;
use crate::store::{Store, StoreError, StoreResult};
use crate::topk::TopK;
use crate::types::{Kind, Record, ScoreEvent, WindowRef};

mod queries;
mod windows;

use windows::{apply_to_window, close_due, WindowCtx};

const WATERMARK: &[u8] = b"watermark";
const WINDOWS: &[u8] = b"windows";
/// Space listing every board with state (key: board name), for queries.
pub const BOARDS_SPACE: &[u8] = b"B";
/// Dedup clean-up budget (ids) of one idle close of one board.
pub const IDLE_BUDGET: usize = 20_000;

/// The future rule of contract section 1; edges call it to dead-letter early.
pub fn is_future(ts: i64, now_ms: i64, max_future_seconds: i64) -> bool {
    ts > now_ms + max_future_seconds * 1000
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    Applied,
    Duplicate,
    Future,
    TooOld, // behind the dedup horizon: applied nowhere, a dead letter
}

#[derive(Debug)]
pub struct Applied {
    pub outcome: Outcome,
    pub records: Vec<Record>,
    pub late: Vec<Kind>, // window kinds the event was late for
    pub closed: usize,   // windows this event closed (their records are in `records`)
}

impl Applied {
    fn of(outcome: Outcome) -> Self {
        Applied {
            outcome,
            records: Vec::new(),
            late: Vec::new(),
            closed: 0,
        }
    }
}

/// A window's store spaces, its cached top-K and its rank tree.
struct Spaces {
    window: Arc<WindowRef>,
    users: Vec<u8>,
    index: Vec<u8>,
    tree: RankTree,
    top: Option<TopK>,
}

/// A window within its board: kind and start identify it (the period follows from them).
type SpacesKey = (Kind, Option<i64>);

fn key_of(window: &WindowRef) -> SpacesKey {
    (window.kind, window.start)
}

/// What the engine remembers of one board between events (small, persisted in `M`).
struct Board {
    name: Arc<str>,
    config: BoardConfig,
    calendar: Calendar,
    grace_ms: i64,
    dedup: Dedup,
    horizon_ms: i64,
    meta_space: Vec<u8>,
    watermark: Option<i64>,
    open: Vec<Arc<WindowRef>>, // windows with an applied event that have not closed yet
    closed: Closed,            // retained closed windows per kind, oldest first
    windows: HashMap<SpacesKey, Spaces>, // cache: open windows
    next_close: Option<i64>,   // watermark at which the first open window closes (None: never)
}

impl Board {
    fn plan_close(&mut self) {
        let grace = self.grace_ms;
        self.next_close = self
            .open
            .iter()
            .filter_map(|w| w.end.map(|e| e + grace))
            .min();
    }

    fn due(&self, at: i64) -> bool {
        self.next_close.is_some_and(|c| at >= c)
    }
}

pub struct Engine {
    config: BoardsConfig,
    ranks: bool,
    bucket_max: usize,
    fanout: usize,
    event_budget: usize,
    boards: HashMap<String, Board>,
    tree_cache: NodeCache,
    buf_state: Vec<u8>,
    buf_old: Vec<u8>,
    buf_new: Vec<u8>,
}

fn config_error(message: String) -> StoreError {
    StoreError(message.into())
}

impl Engine {
    /// `tree_cache_nodes` bounds the decoded rank-tree nodes kept in RAM. `ranks = false`
    /// keeps no rank trees: exact ranks beyond the top-K are then unavailable, the records
    /// are the same, and each event costs less (replay).
    pub fn new(
        config: BoardsConfig,
        tree_cache_nodes: usize,
        ranks: bool,
        bucket_max: usize,
        fanout: usize,
    ) -> Self {
        Engine {
            config,
            ranks,
            bucket_max,
            fanout,
            event_budget: EVENT_BUDGET,
            boards: HashMap::default(),
            tree_cache: NodeCache::new(tree_cache_nodes.max(64)),
            buf_state: Vec::with_capacity(64),
            buf_old: Vec::with_capacity(64),
            buf_new: Vec::with_capacity(64),
        }
    }

    /// Dedup clean-up budget (ids) per watermark move of an event (tests shrink it).
    pub fn set_event_budget(&mut self, budget: usize) {
        self.event_budget = budget.max(1);
    }

    pub fn config(&self) -> &BoardsConfig {
        &self.config
    }

    /// Write the rank trees' pending count changes to the store; call it before the store
    /// is persisted (flushed, changelogged).
    pub fn sync(&mut self, store: &mut dyn Store) -> StoreResult<()> {
        self.tree_cache.sync(store)
    }

    /// Forget every cache, unsynced tree counts too: the store changed under the engine.
    pub fn drop_caches(&mut self) {
        self.boards.clear();
        self.tree_cache.clear();
    }

    pub fn apply(
        &mut self,
        store: &mut dyn Store,
        event: &ScoreEvent<'_>,
        now_ms: i64,
    ) -> StoreResult<Applied> {
        if is_future(event.ts, now_ms, self.config.max_future_seconds) {
            return Ok(Applied::of(Outcome::Future));
        }
        self.load_board(store, event.board)?;
        let Engine {
            boards,
            tree_cache,
            ranks,
            bucket_max,
            fanout,
            event_budget,
            buf_state,
            buf_old,
            buf_new,
            ..
        } = self;
        let board = boards.get_mut(event.board).expect("loaded");
        let watermark = board.watermark;
        let event_id = event.event_id.as_bytes();
        // A remembered id is a duplicate whatever the ts (contract section 1); only an
        // unknown id behind the horizon is too old to be checked.
        if board.dedup.seen(store, event_id, watermark)? {
            return Ok(Applied::of(Outcome::Duplicate));
        }
        if board.horizon_ms != 0 && watermark.is_some_and(|w| event.ts < w - board.horizon_ms) {
            return Ok(Applied::of(Outcome::TooOld));
        }
        board.dedup.remember(store, event_id, event.ts)?;
        let mut result = Applied::of(Outcome::Applied);
        let cause: Arc<str> = Arc::from(event.event_id);
        for n in 0..board.config.windows.len() {
            let kind = board.config.windows[n];
            let window = board.calendar.window_ref(kind, event.ts);
            if let (Some(end), Some(w)) = (window.end, watermark) {
                if w >= end + board.grace_ms {
                    result.late.push(kind);
                    continue;
                }
            }
            let window = window.clone();
            let mut ctx = WindowCtx {
                store,
                tree_cache,
                ranks: *ranks,
                bucket_max: *bucket_max,
                fanout: *fanout,
                buf_state,
                buf_old,
                buf_new,
            };
            apply_to_window(&mut ctx, board, window, event, &cause, &mut result.records)?;
        }
        if watermark.is_none_or(|w| event.ts > w) {
            if watermark.is_none() {
                store.put(BOARDS_SPACE, board.name.as_bytes(), b"")?;
            }
            board.watermark = Some(event.ts);
            store.put(
                &board.meta_space,
                WATERMARK,
                event.ts.to_string().as_bytes(),
            )?;
            if board.due(event.ts) {
                let before = result.records.len();
                close_due(
                    store,
                    tree_cache,
                    board,
                    *bucket_max,
                    *fanout,
                    &mut result.records,
                )?;
                result.closed = result.records.len() - before;
            }
            if board.dedup.next_expiry.is_some_and(|e| event.ts >= e) {
                board.dedup.expire(store, event.ts, *event_budget)?;
            }
        }
        Ok(result)
    }

    /// Idle close of one board (contract section 2): move its watermark up to `now_ms`
    /// (never back) and close the windows that are due, exactly as an event with that `ts`
    /// would. A board without state is left alone. `budget` bounds the dedup clean-up.
    pub fn advance_watermark(
        &mut self,
        store: &mut dyn Store,
        board: &str,
        now_ms: i64,
        budget: usize,
    ) -> StoreResult<Vec<Record>> {
        self.load_board(store, board)?;
        let Engine {
            boards,
            tree_cache,
            bucket_max,
            fanout,
            ..
        } = self;
        let state = boards.get_mut(board).expect("loaded");
        let mut out = Vec::new();
        if state.watermark.is_none_or(|w| now_ms <= w) {
            return Ok(out);
        }
        state.watermark = Some(now_ms);
        store.put(&state.meta_space, WATERMARK, now_ms.to_string().as_bytes())?;
        if state.due(now_ms) {
            close_due(store, tree_cache, state, *bucket_max, *fanout, &mut out)?;
        }
        if budget > 0 && state.dedup.next_expiry.is_some_and(|e| now_ms >= e) {
            state.dedup.expire(store, now_ms, budget)?;
        }
        Ok(out)
    }

    /// [`Engine::advance_watermark`] for every board with state whose idle close is on,
    /// in board name order.
    pub fn close_idle(
        &mut self,
        store: &mut dyn Store,
        now_ms: i64,
        budget: usize,
    ) -> StoreResult<Vec<Record>> {
        let mut out = Vec::new();
        for name in self.board_names(store)? {
            if self.config.for_board(&name).idle_close_seconds != 0 {
                out.extend(self.advance_watermark(store, &name, now_ms, budget)?);
            }
        }
        Ok(out)
    }

    fn load_board(&mut self, store: &mut dyn Store, name: &str) -> StoreResult<&mut Board> {
        if !self.boards.contains_key(name) {
            let board = self.read_board(store, name)?;
            self.boards.insert(name.to_owned(), board);
        }
        Ok(self.boards.get_mut(name).expect("inserted"))
    }

    fn read_board(&self, store: &mut dyn Store, name: &str) -> StoreResult<Board> {
        let config = self.config.for_board(name).clone();
        let meta_space = board_space(b'M', name);
        let watermark = match store.get(&meta_space, WATERMARK)? {
            None => None,
            Some(raw) => Some(
                std::str::from_utf8(&raw)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| config_error(format!("board {name:?}: unreadable watermark")))?,
            ),
        };
        let (open, closed) = match store.get(&meta_space, WINDOWS)? {
            None => (Vec::new(), Vec::new()),
            Some(raw) => {
                meta::decode(&raw).map_err(|e| config_error(format!("board {name:?}: {e}")))?
            }
        };
        let calendar = Calendar::new(&config.timezone, config.week_start).map_err(config_error)?;
        let dedup = Dedup::load(store, name, config.dedup_seconds)?;
        let mut board = Board {
            name: Arc::from(name),
            grace_ms: config.grace_seconds * 1000,
            horizon_ms: config.dedup_seconds * 1000,
            calendar,
            dedup,
            meta_space,
            watermark,
            open,
            closed,
            windows: HashMap::default(),
            next_close: None,
            config,
        };
        board.plan_close();
        Ok(board)
    }
}
