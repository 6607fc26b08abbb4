"""Browser tests reuse the integration fixtures (the real broker, isolated jobs)."""

from __future__ import annotations

from ..integration.conftest import job_factory, kafka

__all__ = ["job_factory", "kafka"]
