//! The engine's value types: one validated event, window identities, the records it emits.

use std::sync::Arc;

/// Window kinds in their contract order (`KINDS`): closing records of one watermark move
/// are sorted by (end, kind order).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Kind {
    Daily,
    Weekly,
    All,
}

impl Kind {
    pub const ALL_KINDS: [Kind; 3] = [Kind::Daily, Kind::Weekly, Kind::All];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Daily => "daily",
            Kind::Weekly => "weekly",
            Kind::All => "all",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "daily" => Some(Kind::Daily),
            "weekly" => Some(Kind::Weekly),
            "all" => Some(Kind::All),
            _ => None,
        }
    }
}

/// One concrete window: kind, period name (local date of its first day, ISO) and UTC
/// bounds in epoch ms (all None for `all`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct WindowRef {
    pub kind: Kind,
    pub period: Option<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl WindowRef {
    pub fn all() -> Self {
        WindowRef {
            kind: Kind::All,
            period: None,
            start: None,
            end: None,
        }
    }
}

/// A score event that already passed validation at the edge; `ts` in epoch ms.
#[derive(Clone, Copy, Debug)]
pub struct ScoreEvent<'a> {
    pub event_id: &'a str,
    pub board: &'a str,
    pub user: &'a str,
    pub score: i64,
    pub ts: i64,
}

/// One user's rank or score moved inside a window's top-K because of the event `cause`.
#[derive(Clone, Debug, PartialEq)]
pub struct RankChange {
    pub board: Arc<str>,
    pub window: Arc<WindowRef>,
    pub user: Arc<str>,
    pub old_rank: Option<u32>,
    pub new_rank: Option<u32>,
    pub score: i128,
    pub cause: Arc<str>,
}

/// Final top-K of a window: (rank, user, score) from rank 1.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowClosed {
    pub board: Arc<str>,
    pub window: Arc<WindowRef>,
    pub standings: Vec<(u32, String, i128)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Change(RankChange),
    Closed(WindowClosed),
}
