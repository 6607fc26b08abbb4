//! The `Engine` class: the core engine over a store, returning Python records.
//!
//! Each call runs the core against the engine's store: directly when it is a
//! [`MemoryStore`] (no Python call per store access), else through a [`PyStore`] over the
//! Python object, made for the call.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::convert::{boards_config, core_window, tree_shape, PyObjects};
use super::records::{ApplyResult, DedupInfo};
use super::store::{MemoryStore, PyMethods, PyStore};
use super::to_py;
use crate::engine::{Engine as Core, IDLE_BUDGET};
use crate::store::{Store, StoreResult};
use crate::types::ScoreEvent;

/// How calls reach the store (see the module docs).
enum StoreHandle {
    Native(Py<MemoryStore>),
    Python(PyMethods),
}

/// The ranking engine over a store; see rust/src/engine.rs for what it decides.
#[pyclass(module = "streams.engine._core", unsendable, subclass)]
pub struct Engine {
    core: Core,
    store: Py<PyAny>,
    handle: StoreHandle,
    config: Py<PyAny>,
    clock: Py<PyAny>,
    objects: PyObjects,
}

impl Engine {
    /// Run `f` with the core and the store as a `&mut dyn Store`.
    fn with<T>(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut Core, &mut dyn Store) -> StoreResult<T>,
    ) -> PyResult<T> {
        match &self.handle {
            StoreHandle::Native(native) => {
                let mut store = native.bind(py).borrow_mut();
                f(&mut self.core, &mut store.inner).map_err(to_py)
            }
            StoreHandle::Python(methods) => {
                let mut store = PyStore::bind(py, methods);
                f(&mut self.core, &mut store).map_err(to_py)
            }
        }
    }
}

#[pymethods]
impl Engine {
    /// `clock` returns the wall clock in epoch ms (for the future rule);
    /// `tree_cache_nodes` bounds the decoded rank-tree nodes kept in RAM; `ranks=False`
    /// keeps no rank trees (exact ranks beyond the top-K unavailable; same records).
    #[new]
    #[allow(clippy::too_many_arguments)] // the Python signature's keywords
    #[pyo3(signature = (config, store, clock, tree_cache_nodes=4096, ranks=true, bucket_max=None, fanout=None, event_budget=None))]
    fn new(
        py: Python<'_>,
        config: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
        clock: &Bound<'_, PyAny>,
        tree_cache_nodes: usize,
        ranks: bool,
        bucket_max: Option<usize>,
        fanout: Option<usize>,
        event_budget: Option<usize>,
    ) -> PyResult<Self> {
        let (bucket_max, fanout) = tree_shape(py, bucket_max, fanout)?;
        let mut core = Core::new(
            boards_config(config)?,
            tree_cache_nodes,
            ranks,
            bucket_max,
            fanout,
        );
        if let Some(budget) = event_budget {
            core.set_event_budget(budget);
        }
        let handle = match store.downcast::<MemoryStore>() {
            Ok(native) => StoreHandle::Native(native.clone().unbind()),
            Err(_) => {
                StoreHandle::Python(PyStore::new(store)?.unbind()) // a non-store fails here
            }
        };
        Ok(Engine {
            core,
            store: store.clone().unbind(),
            handle,
            config: config.clone().unbind(),
            clock: clock.clone().unbind(),
            objects: PyObjects::load(py)?,
        })
    }

    #[getter]
    fn config(&self, py: Python<'_>) -> Py<PyAny> {
        self.config.clone_ref(py)
    }

    #[getter]
    fn store(&self, py: Python<'_>) -> Py<PyAny> {
        self.store.clone_ref(py)
    }

    /// Write the rank trees' pending count changes to the store; call it before the
    /// store is persisted (flushed, changelogged).
    fn sync(&mut self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |core, store| core.sync(store))
    }

    /// Forget every cache, unsynced tree counts too (the store changed under the engine).
    fn drop_caches(&mut self) {
        self.core.drop_caches();
        self.objects.clear();
    }

    fn apply(&mut self, py: Python<'_>, event: &Bound<'_, PyAny>) -> PyResult<ApplyResult> {
        let fields = event.downcast::<PyTuple>()?;
        if fields.len() != 5 {
            return Err(PyValueError::new_err("a ScoreEvent has 5 fields"));
        }
        let text = |at: usize| -> PyResult<Bound<'_, PyString>> {
            Ok(fields.get_item(at)?.downcast_into::<PyString>()?)
        };
        let (event_id, board, user) = (text(0)?, text(1)?, text(2)?);
        let now: i64 = self.clock.bind(py).call0()?.extract()?;
        let event = ScoreEvent {
            event_id: event_id.to_str()?,
            board: board.to_str()?,
            user: user.to_str()?,
            score: fields.get_item(3)?.extract()?,
            ts: fields.get_item(4)?.extract()?,
        };
        let applied = self.with(py, |core, store| core.apply(store, &event, now))?;
        let records = self.objects.records(py, applied.records)?.to_tuple();
        let late = PyTuple::new(py, applied.late.iter().map(|k| self.objects.kind(py, *k)))?;
        Ok(ApplyResult {
            outcome: self.objects.outcome(py, applied.outcome),
            records: records.unbind(),
            late: late.unbind(),
            closed: applied.closed,
        })
    }

    /// Idle close of one board (contract section 2): move its watermark up to `now_ms`
    /// (never back) and close what is due, as an event with that ts would.
    #[pyo3(signature = (board, now_ms, budget=IDLE_BUDGET))]
    fn advance_watermark<'py>(
        &mut self,
        py: Python<'py>,
        board: &str,
        now_ms: i64,
        budget: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let records = self.with(py, |core, store| {
            core.advance_watermark(store, board, now_ms, budget)
        })?;
        self.objects.records(py, records)
    }

    /// `advance_watermark` for every board with state whose idle close is on, by name.
    #[pyo3(signature = (now_ms, budget=IDLE_BUDGET))]
    fn close_idle<'py>(
        &mut self,
        py: Python<'py>,
        now_ms: i64,
        budget: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let records = self.with(py, |core, store| core.close_idle(store, now_ms, budget))?;
        self.objects.records(py, records)
    }

    /// Whether moving the board's watermark to `now_ms` would close a window.
    fn closes_by(&mut self, py: Python<'_>, board: &str, now_ms: i64) -> PyResult<bool> {
        self.with(py, |core, store| core.closes_by(store, board, now_ms))
    }

    /// The board's dedup set, as a snapshot (tests and benches).
    fn dedup(&mut self, py: Python<'_>, board: &str) -> PyResult<DedupInfo> {
        self.with(py, |core, store| {
            core.dedup(store, board).map(DedupInfo::of)
        })
    }

    /// Current (rank, user, score) of a window's top-K.
    fn top(
        &mut self,
        py: Python<'_>,
        board: &str,
        window: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<(u32, String, i128)>> {
        let window = core_window(window)?;
        self.with(py, |core, store| core.top(store, board, &window))
    }

    /// Boards with state in this engine's store, in name order.
    fn boards(&mut self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with(py, |core, store| core.board_names(store))
    }

    /// Configured, or has state here.
    fn known(&mut self, py: Python<'_>, board: &str) -> PyResult<bool> {
        self.with(py, |core, store| core.known(store, board))
    }

    /// (watermark, open windows, retained closed windows per kind, oldest first).
    #[allow(clippy::type_complexity)]
    fn windows<'py>(
        &mut self,
        py: Python<'py>,
        board: &str,
    ) -> PyResult<(Option<i64>, Bound<'py, PyList>, Bound<'py, PyDict>)> {
        let (watermark, open, closed) = self.with(py, |core, store| core.windows(store, board))?;
        let open = self.objects.windows(py, &open)?;
        let by_kind = PyDict::new(py);
        for (kind, windows) in &closed {
            by_kind.set_item(kind.name(), self.objects.windows(py, windows)?)?;
        }
        Ok((watermark, open, by_kind))
    }

    /// Number of users with a score in the window (needs rank trees).
    fn window_size(
        &mut self,
        py: Python<'_>,
        board: &str,
        window: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let window = core_window(window)?;
        self.with(py, |core, store| core.window_size(store, board, &window))
    }

    /// (user, score) at 0-based positions offset .. offset + limit - 1 (needs rank trees).
    fn page(
        &mut self,
        py: Python<'_>,
        board: &str,
        window: &Bound<'_, PyAny>,
        offset: u64,
        limit: usize,
    ) -> PyResult<Vec<(String, i128)>> {
        let window = core_window(window)?;
        self.with(py, |core, store| {
            core.page(store, board, &window, offset, limit)
        })
    }

    /// Levels of the window's counted tree above its buckets (benches).
    fn tree_levels(
        &mut self,
        py: Python<'_>,
        board: &str,
        window: &Bound<'_, PyAny>,
    ) -> PyResult<u8> {
        let window = core_window(window)?;
        self.with(py, |core, store| core.tree_levels(store, board, &window))
    }

    /// A user's exact (rank, score) in the window, None without a score (needs rank trees).
    fn user_rank(
        &mut self,
        py: Python<'_>,
        board: &str,
        window: &Bound<'_, PyAny>,
        user: &str,
    ) -> PyResult<Option<(u64, i128)>> {
        let window = core_window(window)?;
        self.with(py, |core, store| {
            core.user_rank(store, board, &window, user)
        })
    }
}
