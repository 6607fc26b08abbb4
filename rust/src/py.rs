//! The Python face of the engine: `streams.engine._core`.
//!
//! A thin adapter: it converts Python values to the core's types and back, and lets the
//! core use either the native [`MemStore`](crate::store::MemStore) (replay, tests, benches)
//! or any Python object with the `Store` protocol of `streams/engine/storage.py` (the stream
//! job's RocksDB). The classes live in [`store`] (`MemoryStore`), [`engine`] (`Engine`),
//! [`records`] (`RankChange`, `Result`, `DedupInfo`), [`tree`] (`RankTree`, for tests) and
//! [`calendar`] (`Calendar`); [`convert`] turns values of one side into the other's.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::dedup::bucket_ms_for as core_bucket_ms_for;
use crate::engine::{BOARDS_SPACE, IDLE_BUDGET};
use crate::ranktree::{BUCKET_MAX, FANOUT};
use crate::store::StoreError;

mod calendar;
mod convert;
mod engine;
mod records;
mod store;
mod tree;

use calendar::Calendar;
use engine::Engine;
use records::{ApplyResult, DedupInfo, RankChange};
use store::MemoryStore;
use tree::PyRankTree;

/// A store failure as a Python exception: the original one when the store was a Python
/// object that raised.
fn to_py(err: StoreError) -> PyErr {
    match err.0.downcast::<PyErr>() {
        Ok(py) => *py,
        Err(other) => PyRuntimeError::new_err(other.to_string()),
    }
}

fn from_py(err: PyErr) -> StoreError {
    StoreError(Box::new(err))
}

/// Width of one dedup bucket for a horizon in ms (0: no buckets, ids kept forever).
#[pyfunction]
fn bucket_ms_for(horizon_ms: i64) -> i64 {
    core_bucket_ms_for(horizon_ms)
}

/// The future rule of contract section 1; edges call it to dead-letter early.
#[pyfunction]
fn is_future(ts: i64, now_ms: i64, max_future_seconds: i64) -> bool {
    crate::engine::is_future(ts, now_ms, max_future_seconds)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MemoryStore>()?;
    m.add_class::<Engine>()?;
    m.add_class::<ApplyResult>()?;
    m.add_class::<RankChange>()?;
    m.add_class::<Calendar>()?;
    m.add_class::<DedupInfo>()?;
    m.add_class::<PyRankTree>()?;
    m.add_function(wrap_pyfunction!(bucket_ms_for, m)?)?;
    m.add_function(wrap_pyfunction!(is_future, m)?)?;
    m.add("BUCKET_MAX", BUCKET_MAX)?;
    m.add("FANOUT", FANOUT)?;
    m.add("IDLE_BUDGET", IDLE_BUDGET)?;
    m.add("BOARDS_SPACE", PyBytes::new(m.py(), BOARDS_SPACE))?;
    Ok(())
}
