//! The Python face of the engine: `streams.engine._core`.
//!
//! A thin adapter: it converts Python values to the core's types and back, and lets the
//! core use either the native [`MemStore`](crate::store::MemStore) (replay, tests, benches)
//! or any Python object with the `Store` protocol of `streams/engine/storage.py` (the stream
//! job's RocksDB). The classes live in [`store`] (`MemoryStore`), [`engine`] (`Engine`),
//! [`records`] (`RankChange`, `Result`, `DedupInfo`), [`tree`] (`RankTree`, for tests) and
//! [`calendar`] (`Calendar`), [`replay`] (`ReplayBlock`, for `replay --jobs N`); [`convert`] turns values of one side into the other's.

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
mod replay;
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

/// For each worker's answers of one chunk, as `(numbers, wheres, ends)` (arrays of "q"
/// and bytes), the file offset of each answer in line order, stdout and --dlq each from
/// its cursor in `cursors`, which are advanced (rust/src/replay_io.rs).
#[pyfunction]
fn merge_offsets<'py>(
    py: Python<'py>,
    answers: Vec<(
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
    )>,
    cursors: [i64; 2],
) -> PyResult<(Vec<Bound<'py, PyBytes>>, [i64; 2])> {
    let longs = |raw: &[u8]| -> PyResult<Vec<i64>> {
        if raw.len() % 8 != 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "not an array of 8-byte ints",
            ));
        }
        Ok(raw
            .chunks_exact(8)
            .map(|c| i64::from_ne_bytes(c.try_into().expect("8")))
            .collect())
    };
    let mut parsed = Vec::with_capacity(answers.len());
    for (numbers, wheres, ends) in &answers {
        parsed.push((
            longs(numbers.as_bytes())?,
            wheres.as_bytes(),
            longs(ends.as_bytes())?,
        ));
    }
    let views: Vec<crate::replay_io::Answers<'_>> = parsed
        .iter()
        .map(|(n, w, e)| crate::replay_io::Answers {
            numbers: n,
            wheres: w,
            ends: e,
        })
        .collect();
    let mut cursors = cursors;
    let out = crate::replay_io::offsets(&views, &mut cursors);
    let bytes = out
        .iter()
        .map(|offsets| {
            let raw: Vec<u8> = offsets.iter().flat_map(|o| o.to_ne_bytes()).collect();
            PyBytes::new(py, &raw)
        })
        .collect();
    Ok((bytes, cursors))
}

/// The JSON lines of `records` (each followed by a newline), as replay writes them: a
/// `RankChange` written here, any other record by its own `to_json()`.
#[pyfunction]
fn render<'py>(py: Python<'py>, records: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = String::new();
    for record in records.try_iter()? {
        let record = record?;
        match record.downcast::<RankChange>() {
            Ok(change) => change.get().write_json(&mut out),
            Err(_) => out.push_str(record.call_method0("to_json")?.extract::<&str>()?),
        }
        out.push('\n');
    }
    Ok(PyBytes::new(py, out.as_bytes()))
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
    m.add_class::<replay::ReplayBlock>()?;
    m.add_function(wrap_pyfunction!(merge_offsets, m)?)?;
    m.add_function(wrap_pyfunction!(render, m)?)?;
    m.add("BUCKET_MAX", BUCKET_MAX)?;
    m.add("FANOUT", FANOUT)?;
    m.add("IDLE_BUDGET", IDLE_BUDGET)?;
    m.add("BOARDS_SPACE", PyBytes::new(m.py(), BOARDS_SPACE))?;
    Ok(())
}
