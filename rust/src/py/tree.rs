//! The `RankTree` class, for tests: see [`PyRankTree`].

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::store::{MemoryStore, PyStore};
use super::to_py;
use crate::nodecache::NodeCache;
use crate::ranktree::{RankTree, BUCKET_MAX, FANOUT};
use crate::store::{Store, StoreResult};

/// One counted rank tree over an index space, with its own node cache: for tests that
/// check the tree against a sorted list with tiny shapes; the engine keeps its own.
#[pyclass(module = "streams.engine._core", unsendable, name = "RankTree")]
pub struct PyRankTree {
    tree: RankTree,
    cache: NodeCache,
    store: Py<PyAny>,
}

impl PyRankTree {
    fn with<T>(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut RankTree, &mut NodeCache, &mut dyn Store) -> StoreResult<T>,
    ) -> PyResult<T> {
        let bound = self.store.bind(py).clone();
        if let Ok(native) = bound.downcast::<MemoryStore>() {
            let mut store = native.borrow_mut();
            return f(&mut self.tree, &mut self.cache, &mut store.inner).map_err(to_py);
        }
        let mut store = PyStore::new(&bound)?;
        f(&mut self.tree, &mut self.cache, &mut store).map_err(to_py)
    }
}

#[pymethods]
impl PyRankTree {
    #[new]
    #[pyo3(signature = (store, space, index, bucket_max=BUCKET_MAX, fanout=FANOUT, cache_nodes=4096))]
    fn new(
        store: &Bound<'_, PyAny>,
        space: &[u8],
        index: &[u8],
        bucket_max: usize,
        fanout: usize,
        cache_nodes: usize,
    ) -> Self {
        PyRankTree {
            tree: RankTree::new(space.to_vec(), index.to_vec(), bucket_max, fanout),
            cache: NodeCache::new(cache_nodes),
            store: store.clone().unbind(),
        }
    }

    /// The index key `old` was replaced by `new` (None: absent), already written.
    #[pyo3(name = "move", signature = (old, new))]
    fn move_key(&mut self, py: Python<'_>, old: Option<&[u8]>, new: Option<&[u8]>) -> PyResult<()> {
        self.with(py, |tree, cache, store| {
            tree.move_key(store, cache, old, new)
        })
    }

    fn rank(&mut self, py: Python<'_>, key: &[u8]) -> PyResult<Option<u64>> {
        self.with(py, |tree, cache, store| tree.rank(store, cache, key))
    }

    fn page<'py>(
        &mut self,
        py: Python<'py>,
        offset: u64,
        limit: usize,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let keys = self.with(py, |tree, cache, store| {
            tree.page(store, cache, offset, limit)
        })?;
        Ok(keys.iter().map(|k| PyBytes::new(py, k)).collect())
    }

    fn __len__(&mut self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |tree, cache, store| tree.len(store, cache))
            .map(|n| n as usize)
    }

    fn root_level(&mut self, py: Python<'_>) -> PyResult<u8> {
        self.with(py, |tree, cache, store| tree.root_level(store, cache))
    }

    /// Write the pending count changes of the cached nodes.
    fn sync(&mut self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |_, cache, store| cache.sync(store))
    }
}
