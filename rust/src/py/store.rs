//! The stores the engine can run on: the native [`MemoryStore`] class (replay, tests,
//! benches), and [`PyStore`], the adapter that lets the core use any Python object with the
//! `Store` protocol (the stream job's RocksDB) and passes its exceptions through unchanged.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use super::{from_py, to_py};
use crate::store::{MemStore, Store, StoreResult};

/// In-process store for replay and tests: one ordered map per space.
#[pyclass(module = "streams.engine._core")]
pub struct MemoryStore {
    pub(super) inner: MemStore,
}

#[pymethods]
impl MemoryStore {
    #[new]
    fn new() -> Self {
        MemoryStore {
            inner: MemStore::new(),
        }
    }

    fn get<'py>(
        &mut self,
        py: Python<'py>,
        space: &[u8],
        key: &[u8],
    ) -> Option<Bound<'py, PyBytes>> {
        let found = self.inner.get(space, key).ok().flatten();
        found.map(|v| PyBytes::new(py, &v))
    }

    fn put(&mut self, space: &[u8], key: &[u8], value: &[u8]) {
        let _ = self.inner.put(space, key, value);
    }

    fn delete(&mut self, space: &[u8], key: &[u8]) {
        let _ = self.inner.delete(space, key);
    }

    /// Items of `space` with key > `after`, ascending (a list: Python callers are tests).
    #[pyo3(signature = (space, after=None))]
    fn scan<'py>(
        &mut self,
        py: Python<'py>,
        space: &[u8],
        after: Option<&[u8]>,
    ) -> PyResult<Bound<'py, PyList>> {
        let items = self.inner.scan(space, after, usize::MAX).map_err(to_py)?;
        let rows: Vec<Bound<'py, PyTuple>> = items
            .iter()
            .map(|(k, v)| PyTuple::new(py, [PyBytes::new(py, k), PyBytes::new(py, v)]))
            .collect::<PyResult<_>>()?;
        PyList::new(py, rows)
    }

    fn drop(&mut self, space: &[u8]) {
        let _ = self.inner.drop_space(space);
    }

    /// (keys, bytes of keys and values) of a space (benches).
    fn footprint(&self, space: &[u8]) -> (usize, usize) {
        self.inner.footprint(space)
    }

    /// Non-empty spaces, sorted (tests that check what retention left behind).
    fn spaces<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner
            .space_names()
            .iter()
            .map(|s| PyBytes::new(py, s))
            .collect()
    }
}

/// Any Python object with get/put/delete/scan/drop (the stream job's RocksDB store).
/// A Python store's get, put, delete, scan and drop, looked up once.
pub(super) struct PyMethods([Py<PyAny>; 5]);

pub(super) struct PyStore<'py> {
    get: Bound<'py, PyAny>,
    put: Bound<'py, PyAny>,
    delete: Bound<'py, PyAny>,
    scan: Bound<'py, PyAny>,
    drop: Bound<'py, PyAny>,
}

impl<'py> PyStore<'py> {
    pub(super) fn new(store: &Bound<'py, PyAny>) -> PyResult<Self> {
        Ok(PyStore {
            get: store.getattr("get")?,
            put: store.getattr("put")?,
            delete: store.getattr("delete")?,
            scan: store.getattr("scan")?,
            drop: store.getattr("drop")?,
        })
    }

    /// The methods, unbound from this GIL scope: an engine keeps them for its lifetime, so
    /// that its store calls do not look the five methods up again on every event.
    pub(super) fn unbind(self) -> PyMethods {
        PyMethods([self.get, self.put, self.delete, self.scan, self.drop].map(Bound::unbind))
    }

    /// A store over methods kept by [`PyStore::unbind`].
    pub(super) fn bind(py: Python<'py>, methods: &PyMethods) -> Self {
        let [get, put, delete, scan, drop] = &methods.0;
        PyStore {
            get: get.bind(py).clone(),
            put: put.bind(py).clone(),
            delete: delete.bind(py).clone(),
            scan: scan.bind(py).clone(),
            drop: drop.bind(py).clone(),
        }
    }

    fn py(&self) -> Python<'py> {
        self.get.py()
    }
}

impl Store for PyStore<'_> {
    fn get(&mut self, space: &[u8], key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let py = self.py();
        let found = self
            .get
            .call1((PyBytes::new(py, space), PyBytes::new(py, key)))
            .map_err(from_py)?;
        if found.is_none() {
            return Ok(None);
        }
        bytes_of(&found).map(|b| Some(b.to_vec())).map_err(from_py)
    }

    fn put(&mut self, space: &[u8], key: &[u8], value: &[u8]) -> StoreResult<()> {
        let py = self.py();
        let args = (
            PyBytes::new(py, space),
            PyBytes::new(py, key),
            PyBytes::new(py, value),
        );
        self.put.call1(args).map(|_| ()).map_err(from_py)
    }

    fn delete(&mut self, space: &[u8], key: &[u8]) -> StoreResult<()> {
        let py = self.py();
        self.delete
            .call1((PyBytes::new(py, space), PyBytes::new(py, key)))
            .map(|_| ())
            .map_err(from_py)
    }

    fn scan(
        &mut self,
        space: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let py = self.py();
        let after = after.map(|a| PyBytes::new(py, a));
        let items = self
            .scan
            .call1((PyBytes::new(py, space), after))
            .map_err(from_py)?;
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for item in items.try_iter().map_err(from_py)? {
            let item = item.map_err(from_py)?;
            let pair = item.downcast::<PyTuple>().map_err(|e| from_py(e.into()))?;
            let key = pair.get_item(0).map_err(from_py)?;
            let value = pair.get_item(1).map_err(from_py)?;
            let key = bytes_of(&key).map_err(from_py)?.to_vec();
            let value = bytes_of(&value).map_err(from_py)?.to_vec();
            out.push((key, value));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn drop_space(&mut self, space: &[u8]) -> StoreResult<()> {
        self.drop
            .call1((PyBytes::new(self.py(), space),))
            .map(|_| ())
            .map_err(from_py)
    }
}

/// The bytes of a `bytes` object, borrowed (extracting a `Vec<u8>` would go through the
/// sequence protocol, one Python int per byte).
pub(super) fn bytes_of<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    Ok(value.downcast::<PyBytes>()?.as_bytes())
}
