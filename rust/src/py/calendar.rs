//! The `Calendar` class: the windows of one board's time zone, as Python `WindowRef`s.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::calendar::Calendar as CoreCalendar;
use crate::types::Kind;

/// Maps event time to the daily/weekly/all window of one board's time zone.
#[pyclass(module = "streams.engine._core", unsendable)]
pub struct Calendar {
    inner: CoreCalendar,
    window_ref: Py<PyAny>,
}

#[pymethods]
impl Calendar {
    #[new]
    fn new(py: Python<'_>, timezone: &str, week_start: u32) -> PyResult<Self> {
        let inner = CoreCalendar::new(timezone, week_start).map_err(PyValueError::new_err)?;
        let window_ref = py
            .import("streams.engine.events")?
            .getattr("WindowRef")?
            .unbind();
        Ok(Calendar { inner, window_ref })
    }

    fn window<'py>(&mut self, py: Python<'py>, kind: &str, ts: i64) -> PyResult<Bound<'py, PyAny>> {
        let kind = Kind::parse(kind)
            .ok_or_else(|| PyValueError::new_err(format!("unknown window kind {kind:?}")))?;
        let w = self.inner.window(kind, ts);
        self.window_ref
            .bind(py)
            .call1((kind.name(), w.period, w.start, w.end))
    }
}
