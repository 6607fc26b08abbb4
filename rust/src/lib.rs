//! rankstream's ranking engine: events in, records out, state behind [`store::Store`].
//!
//! The core modules are plain Rust (no Python types), so `cargo test` exercises them
//! directly; `py` is the one adapter that exposes them as `streams.engine._core`.

pub mod calendar;
pub mod codec;
pub mod config;
pub mod dedup;
pub mod engine;
pub mod meta;
pub mod nodecache;
pub mod ranktree;
pub mod replay_io;
pub mod store;
pub mod topk;
pub mod treenodes;
pub mod types;

#[cfg(feature = "python")]
mod py;

/// The Python module's allocator (Rust allocations only; Python's own are untouched).
#[cfg(feature = "python")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
