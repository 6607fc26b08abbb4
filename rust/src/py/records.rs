//! The classes of the values the engine's methods return: [`RankChange`], [`ApplyResult`]
//! (`Result` in Python) and [`DedupInfo`].
//!
//! A `RankChange` writes its own compact JSON from a prefix shared by every change of one
//! board's window, made by `streams.engine.events._prefix` (the one place that formats window
//! fields) and cached per window by [`super::convert::PyObjects`], so that the JSON always
//! equals `json.dumps(change.to_wire())`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::convert::core_window;
use crate::dedup::Dedup;
use crate::types::{RankChange as CoreChange, WindowRef};

/// One user's rank or score moved inside a window's top-K because of `cause` (an event id).
#[pyclass(module = "streams.engine._core", frozen, eq, hash)]
pub struct RankChange {
    board: Arc<str>,
    window: Py<PyAny>,
    window_key: Arc<WindowRef>,
    /// `{"type":"rank_change", <board and window fields>` of the JSON form, shared by every
    /// change of one board's window.
    prefix: Arc<str>,
    user: Arc<str>,
    #[pyo3(get)]
    old_rank: Option<u32>,
    #[pyo3(get)]
    new_rank: Option<u32>,
    #[pyo3(get)]
    score: i128,
    cause: Arc<str>,
}

impl PartialEq for RankChange {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl std::hash::Hash for RankChange {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

type Identity<'a> = (
    &'a str,
    &'a WindowRef,
    &'a str,
    Option<u32>,
    Option<u32>,
    i128,
    &'a str,
);

impl RankChange {
    /// Append the compact JSON of this change (see `to_json`).
    pub(super) fn write_json(&self, out: &mut String) {
        out.push_str(&self.prefix);
        out.push_str(",\"user\":");
        json_string(out, &self.user);
        out.push_str(",\"old_rank\":");
        rank(out, self.old_rank);
        out.push_str(",\"new_rank\":");
        rank(out, self.new_rank);
        out.push_str(",\"score\":");
        out.push_str(&self.score.to_string());
        out.push_str(",\"cause\":");
        json_string(out, &self.cause);
        out.push('}');
    }

    fn identity(&self) -> Identity<'_> {
        (
            &*self.board,
            &*self.window_key,
            &*self.user,
            self.old_rank,
            self.new_rank,
            self.score,
            &*self.cause,
        )
    }

    /// The core's change, with its window's Python object and JSON prefix.
    pub(super) fn of(change: CoreChange, window: Py<PyAny>, prefix: Arc<str>) -> Self {
        RankChange {
            prefix,
            board: change.board,
            window,
            window_key: change.window,
            user: change.user,
            old_rank: change.old_rank,
            new_rank: change.new_rank,
            score: change.score,
            cause: change.cause,
        }
    }
}

#[pymethods]
impl RankChange {
    #[new]
    #[pyo3(signature = (board, window, user, old_rank, new_rank, score, cause))]
    fn new(
        board: String,
        window: &Bound<'_, PyAny>,
        user: &str,
        old_rank: Option<u32>,
        new_rank: Option<u32>,
        score: i128,
        cause: &str,
    ) -> PyResult<Self> {
        let key = Arc::new(core_window(window)?);
        Ok(RankChange {
            prefix: change_prefix(window.py(), &board, window)?,
            board: board.into(),
            window: window.clone().unbind(),
            window_key: key,
            user: user.into(),
            old_rank,
            new_rank,
            score,
            cause: cause.into(),
        })
    }

    #[getter]
    fn board(&self) -> &str {
        &self.board
    }

    #[getter]
    fn user(&self) -> &str {
        &self.user
    }

    #[getter]
    fn cause(&self) -> &str {
        &self.cause
    }

    #[getter]
    fn window(&self, py: Python<'_>) -> Py<PyAny> {
        self.window.clone_ref(py)
    }

    /// Compact JSON equal to `dumps(to_wire())`, from the window's cached prefix.
    fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.prefix.len() + 96);
        self.write_json(&mut out);
        out
    }

    fn to_wire<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let record = PyDict::new(py);
        record.set_item("type", "rank_change")?;
        let wire = self.window.bind(py).call_method1("wire", (&*self.board,))?;
        record.call_method1("update", (wire,))?;
        record.set_item("user", &*self.user)?;
        record.set_item("old_rank", self.old_rank)?;
        record.set_item("new_rank", self.new_rank)?;
        record.set_item("score", self.score)?;
        record.set_item("cause", &*self.cause)?;
        Ok(record)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let window = self.window.bind(py).repr()?;
        let opt = |r: Option<u32>| r.map_or("None".to_owned(), |r| r.to_string());
        Ok(format!(
            "RankChange(board={:?}, window={}, user={:?}, old_rank={}, new_rank={}, score={}, cause={:?})",
            &*self.board, window, &*self.user, opt(self.old_rank), opt(self.new_rank), self.score, self.cause
        ))
    }
}

/// The JSON prefix of a board's window's rank changes, from `streams.engine.events._prefix`
/// (the one place that formats window fields).
pub(super) fn change_prefix(
    py: Python<'_>,
    board: &str,
    window: &Bound<'_, PyAny>,
) -> PyResult<Arc<str>> {
    let events = py.import("streams.engine.events")?;
    let prefix = events
        .getattr("_prefix")?
        .call1(("rank_change", board, window))?;
    Ok(Arc::from(prefix.downcast::<PyString>()?.to_str()?))
}

fn rank(out: &mut String, rank: Option<u32>) {
    match rank {
        Some(r) => out.push_str(&r.to_string()),
        None => out.push_str("null"),
    }
}

/// A JSON string as Python's `json.encoder.encode_basestring` writes it (non-ASCII kept).
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What one event did: its outcome, the records it caused, the kinds it was late for and
/// how many windows it closed (their `WindowClosed` records are among `records`).
#[pyclass(module = "streams.engine._core", frozen, name = "Result")]
pub struct ApplyResult {
    #[pyo3(get)]
    pub(super) outcome: Py<PyAny>,
    #[pyo3(get)]
    /// A tuple, not a list: a tuple of records (objects the garbage collector does not
    /// track) is untracked at its first collection, so results a caller keeps cost the
    /// collector nothing; an event without records shares the empty tuple.
    pub(super) records: Py<PyTuple>,
    #[pyo3(get)]
    pub(super) late: Py<PyTuple>,
    #[pyo3(get)]
    pub(super) closed: usize,
}

#[pymethods]
impl ApplyResult {
    /// Equal when outcome, records, late kinds and closed count are (tests compare runs).
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.downcast::<ApplyResult>() else {
            return Ok(false);
        };
        let other = other.get();
        Ok(self.closed == other.closed
            && self.outcome.bind(py).eq(&other.outcome)?
            && self.records.bind(py).eq(&other.records)?
            && self.late.bind(py).eq(&other.late)?)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Result(outcome={}, records={}, late={}, closed={})",
            self.outcome.bind(py).repr()?,
            self.records.bind(py).repr()?,
            self.late.bind(py).repr()?,
            self.closed
        ))
    }
}

/// A snapshot of one board's dedup set.
#[pyclass(module = "streams.engine._core", frozen)]
pub struct DedupInfo {
    #[pyo3(get)]
    horizon_ms: i64,
    #[pyo3(get)]
    bucket_ms: i64,
    #[pyo3(get)]
    next_expiry: Option<i64>,
    live: Vec<(i64, (u64, u64))>,
}

impl DedupInfo {
    pub(super) fn of(dedup: &Dedup) -> Self {
        DedupInfo {
            horizon_ms: dedup.horizon_ms,
            bucket_ms: dedup.bucket_ms,
            next_expiry: dedup.next_expiry,
            live: dedup.buckets(),
        }
    }
}

#[pymethods]
impl DedupInfo {
    /// Live buckets: end -> (ids put, ids cleaned), oldest first.
    fn buckets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (end, counts) in &self.live {
            out.set_item(end, counts)?;
        }
        Ok(out)
    }
}
