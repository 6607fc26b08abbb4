//! `ReplayBlock`: a block of replay's input cut into per-worker shares for
//! `rankstream replay --jobs N` (rust/src/replay_io.rs).

use pyo3::exceptions::{PyIndexError, PyKeyError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::replay_io::Block;

/// Complete lines of replay's input, numbered from `first`, each with the board it is
/// routed by (read from its bytes; `unknown()` lists the lines to decode instead).
#[pyclass(module = "streams.engine._core")]
pub struct ReplayBlock {
    block: Block,
}

#[pymethods]
impl ReplayBlock {
    #[new]
    fn new(data: &[u8], first: u64) -> Self {
        ReplayBlock {
            block: Block::new(data.to_vec(), first),
        }
    }

    /// Lines counted, blank ones included.
    #[getter]
    fn counted(&self) -> u64 {
        self.block.counted
    }

    fn __len__(&self) -> usize {
        self.block.len()
    }

    /// Indices of the lines whose board the bytes did not settle.
    fn unknown(&self) -> Vec<usize> {
        self.block.unknown()
    }

    fn body<'py>(&self, py: Python<'py>, line: usize) -> PyResult<Bound<'py, PyBytes>> {
        if line >= self.block.len() {
            return Err(PyIndexError::new_err("no such line"));
        }
        Ok(PyBytes::new(py, self.block.body(line)))
    }

    /// A decoded line's board (None: not a valid event).
    #[pyo3(signature = (line, board))]
    fn set_board(&mut self, line: usize, board: Option<&[u8]>) -> PyResult<()> {
        if line >= self.block.len() {
            return Err(PyIndexError::new_err("no such line"));
        }
        self.block.set_board(line, board);
        Ok(())
    }

    /// (board, lines) per board, first seen first.
    fn counts<'py>(&self, py: Python<'py>) -> Vec<(Bound<'py, PyBytes>, usize)> {
        self.block
            .counts()
            .into_iter()
            .map(|(b, n)| (PyBytes::new(py, b), n))
            .collect()
    }

    /// Per worker: its lines' numbers (array "q" bytes) and its lines joined by b"\\n". A
    /// line goes to `owner[board]`, a line without a board to `number % jobs`.
    fn shares<'py>(
        &self,
        py: Python<'py>,
        owner: &Bound<'py, PyDict>,
        jobs: usize,
    ) -> PyResult<Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>> {
        // Every board of the block has a line, so every one needs an owner.
        let mut owner_of = Vec::with_capacity(self.block.boards().len());
        for board in self.block.boards() {
            let key = PyBytes::new(py, board);
            let Some(w) = owner.get_item(&key)? else {
                let name = String::from_utf8_lossy(board).into_owned();
                return Err(PyKeyError::new_err(format!("no owner for board {name:?}")));
            };
            let w: usize = w.extract()?;
            if w >= jobs {
                return Err(PyIndexError::new_err(format!(
                    "owner {w} of {jobs} workers"
                )));
            }
            owner_of.push(w);
        }
        Ok(self
            .block
            .shares(&owner_of, jobs)
            .into_iter()
            .map(|(numbers, joined)| {
                let raw: Vec<u8> = numbers.iter().flat_map(|n| n.to_ne_bytes()).collect();
                (PyBytes::new(py, &raw), PyBytes::new(py, &joined))
            })
            .collect())
    }
}
