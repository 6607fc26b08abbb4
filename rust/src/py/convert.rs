//! Values between Python and the core: windows and board configs into the core's types,
//! the core's windows and records into Python objects.
//!
//! [`PyObjects`] caches the Python window per core window and the JSON prefix per board and
//! window, so that the records of one event share them; both caches are bounded by windows,
//! never by users, and are cleared when full.

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::records::{change_prefix, RankChange};
use crate::codec::Aggregate;
use crate::config::{BoardConfig, BoardsConfig};
use crate::engine::Outcome;
use crate::types::{Kind, Record, WindowRef};

/// A Python `WindowRef` (kind, period, start, end) as the core's.
pub(super) fn core_window(window: &Bound<'_, PyAny>) -> PyResult<WindowRef> {
    let (kind, period, start, end): (String, Option<String>, Option<i64>, Option<i64>) =
        window.extract()?;
    let kind = Kind::parse(&kind)
        .ok_or_else(|| PyValueError::new_err(format!("unknown window kind {kind:?}")))?;
    Ok(WindowRef {
        kind,
        period,
        start,
        end,
    })
}

fn board_config(config: &Bound<'_, PyAny>) -> PyResult<BoardConfig> {
    let text = |name: &str| -> PyResult<String> { config.getattr(name)?.extract() };
    let aggregate = text("aggregate")?;
    let windows: Vec<String> = config.getattr("windows")?.extract()?;
    Ok(BoardConfig {
        aggregate: Aggregate::parse(&aggregate)
            .ok_or_else(|| PyValueError::new_err(format!("unknown aggregate {aggregate:?}")))?,
        descending: text("order")? == "desc",
        windows: windows
            .iter()
            .map(|k| {
                Kind::parse(k).ok_or_else(|| PyValueError::new_err(format!("unknown window {k:?}")))
            })
            .collect::<PyResult<_>>()?,
        top: config.getattr("top")?.extract()?,
        timezone: text("timezone")?,
        week_start: config.getattr("week_start")?.extract()?,
        grace_seconds: config.getattr("grace_seconds")?.extract()?,
        retain: config.getattr("retain")?.extract()?,
        dedup_seconds: config.getattr("dedup_seconds")?.extract()?,
        idle_close_seconds: config.getattr("idle_close_seconds")?.extract()?,
    })
}

pub(super) fn boards_config(config: &Bound<'_, PyAny>) -> PyResult<BoardsConfig> {
    let mut boards = HashMap::default();
    let named = config.getattr("boards")?;
    for (name, board) in named.downcast::<PyDict>()?.iter() {
        boards.insert(name.extract::<String>()?, board_config(&board)?);
    }
    Ok(BoardsConfig {
        max_future_seconds: config.getattr("max_future_seconds")?.extract()?,
        defaults: board_config(&config.getattr("defaults")?)?,
        boards,
    })
}

/// The tree shape: explicit, else `streams.engine.ranktree`'s module values (tests shrink
/// them there to build deep trees from a few users).
pub(super) fn tree_shape(
    py: Python<'_>,
    bucket_max: Option<usize>,
    fanout: Option<usize>,
) -> PyResult<(usize, usize)> {
    let module = py.import("streams.engine.ranktree")?;
    let bucket_max = match bucket_max {
        Some(v) => v,
        None => module.getattr("BUCKET_MAX")?.extract()?,
    };
    let fanout = match fanout {
        Some(v) => v,
        None => module.getattr("FANOUT")?.extract()?,
    };
    Ok((bucket_max, fanout))
}

/// Python classes and values the records are made of, looked up once per engine.
struct PyTypes {
    window_ref: Py<PyAny>,
    window_closed: Py<PyAny>,
    standing: Py<PyAny>,
    outcomes: [Py<PyAny>; 4],
    kinds: [Py<PyString>; 3],
}

impl PyTypes {
    fn load(py: Python<'_>) -> PyResult<Self> {
        let events = py.import("streams.engine.events")?;
        let outcome = events.getattr("Outcome")?;
        let member = |name: &str| outcome.getattr(name).map(Bound::unbind);
        Ok(PyTypes {
            window_ref: events.getattr("WindowRef")?.unbind(),
            window_closed: events.getattr("WindowClosed")?.unbind(),
            standing: events.getattr("Standing")?.unbind(),
            outcomes: [
                member("APPLIED")?,
                member("DUPLICATE")?,
                member("FUTURE")?,
                member("TOO_OLD")?,
            ],
            kinds: Kind::ALL_KINDS.map(|k| PyString::intern(py, k.name()).unbind()),
        })
    }

    fn outcome(&self, py: Python<'_>, outcome: Outcome) -> Py<PyAny> {
        let at = match outcome {
            Outcome::Applied => 0,
            Outcome::Duplicate => 1,
            Outcome::Future => 2,
            Outcome::TooOld => 3,
        };
        self.outcomes[at].clone_ref(py)
    }

    fn kind(&self, py: Python<'_>, kind: Kind) -> Py<PyString> {
        self.kinds[kind as usize].clone_ref(py)
    }
}

/// Python objects made from the core's values; see the module docs.
pub(super) struct PyObjects {
    types: PyTypes,
    /// Python WindowRef per window, bounded (windows, not users); cleared when full.
    windows: HashMap<WindowRef, Py<PyAny>>,
    /// JSON prefix per (board, window) of rank changes; bounded like `windows`.
    prefixes: HashMap<(Arc<str>, Arc<WindowRef>), Arc<str>>,
}

const WINDOW_CACHE: usize = 4096;

impl PyObjects {
    pub(super) fn load(py: Python<'_>) -> PyResult<Self> {
        Ok(PyObjects {
            types: PyTypes::load(py)?,
            windows: HashMap::default(),
            prefixes: HashMap::default(),
        })
    }

    /// Forget the cached windows and prefixes.
    pub(super) fn clear(&mut self) {
        self.windows.clear();
        self.prefixes.clear();
    }

    pub(super) fn outcome(&self, py: Python<'_>, outcome: Outcome) -> Py<PyAny> {
        self.types.outcome(py, outcome)
    }

    pub(super) fn kind(&self, py: Python<'_>, kind: Kind) -> Py<PyString> {
        self.types.kind(py, kind)
    }

    fn window(&mut self, py: Python<'_>, window: &WindowRef) -> PyResult<Py<PyAny>> {
        if let Some(found) = self.windows.get(window) {
            return Ok(found.clone_ref(py));
        }
        if self.windows.len() >= WINDOW_CACHE {
            self.windows.clear();
        }
        let made = self.types.window_ref.bind(py).call1((
            self.types.kind(py, window.kind),
            window.period.as_deref(),
            window.start,
            window.end,
        ))?;
        self.windows.insert(window.clone(), made.clone().unbind());
        Ok(made.unbind())
    }

    pub(super) fn records<'py>(
        &mut self,
        py: Python<'py>,
        records: Vec<Record>,
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let mut last: Option<(Arc<WindowRef>, Py<PyAny>, Arc<str>)> = None;
        for record in records {
            match record {
                Record::Change(c) => {
                    let (window, prefix) = match &last {
                        Some((w, obj, prefix)) if Arc::ptr_eq(w, &c.window) => {
                            (obj.clone_ref(py), prefix.clone())
                        }
                        _ => {
                            let obj = self.window(py, &c.window)?;
                            let prefix = self.prefix(py, &c.board, &c.window, &obj)?;
                            last = Some((c.window.clone(), obj.clone_ref(py), prefix.clone()));
                            (obj, prefix)
                        }
                    };
                    out.append(Bound::new(py, RankChange::of(c, window, prefix))?)?;
                }
                Record::Closed(c) => {
                    let window = self.window(py, &c.window)?;
                    let standing = self.types.standing.bind(py);
                    let rows = c
                        .standings
                        .into_iter()
                        .map(|(rank, user, score)| standing.call1((rank, user, score)))
                        .collect::<PyResult<Vec<_>>>()?;
                    let closed = self.types.window_closed.bind(py).call1((
                        &*c.board,
                        window,
                        PyTuple::new(py, rows)?,
                    ))?;
                    out.append(closed)?;
                }
            }
        }
        Ok(out)
    }

    fn prefix(
        &mut self,
        py: Python<'_>,
        board: &Arc<str>,
        window: &Arc<WindowRef>,
        obj: &Py<PyAny>,
    ) -> PyResult<Arc<str>> {
        let key = (board.clone(), window.clone());
        if let Some(found) = self.prefixes.get(&key) {
            return Ok(found.clone());
        }
        if self.prefixes.len() >= WINDOW_CACHE {
            self.prefixes.clear();
        }
        let made = change_prefix(py, board, obj.bind(py))?;
        self.prefixes.insert(key, made.clone());
        Ok(made)
    }

    pub(super) fn windows<'py>(
        &mut self,
        py: Python<'py>,
        windows: &[Arc<WindowRef>],
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for w in windows {
            out.append(self.window(py, w)?)?;
        }
        Ok(out)
    }
}
