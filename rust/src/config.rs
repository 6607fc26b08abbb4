//! A board's configuration as the engine uses it (parsed and validated at the edge).

use crate::codec::Aggregate;
use crate::types::Kind;

#[derive(Clone, Debug)]
pub struct BoardConfig {
    pub aggregate: Aggregate,
    pub descending: bool,
    pub windows: Vec<Kind>,
    pub top: usize,
    pub timezone: String,
    pub week_start: u32,
    pub grace_seconds: i64,
    pub retain: usize,
    pub dedup_seconds: i64,
    pub idle_close_seconds: i64,
}

impl Default for BoardConfig {
    /// The contract's defaults (section 3).
    fn default() -> Self {
        BoardConfig {
            aggregate: Aggregate::Sum,
            descending: true,
            windows: Kind::ALL_KINDS.to_vec(),
            top: 100,
            timezone: "UTC".into(),
            week_start: 0,
            grace_seconds: 300,
            retain: 8,
            dedup_seconds: 691_200,
            idle_close_seconds: 60,
        }
    }
}

/// Every board's configuration: named boards and the defaults for any other board.
#[derive(Clone, Debug, Default)]
pub struct BoardsConfig {
    pub max_future_seconds: i64,
    pub defaults: BoardConfig,
    pub boards: rustc_hash::FxHashMap<String, BoardConfig>,
}

impl BoardsConfig {
    pub fn for_board(&self, name: &str) -> &BoardConfig {
        self.boards.get(name).unwrap_or(&self.defaults)
    }
}
