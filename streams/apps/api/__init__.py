"""The worker's HTTP side (contract section 7): JSON queries answered from the engine's
state, forwarded to the worker that owns the board's partition; the live page with
server-sent events fed from the push topic; health and Prometheus metrics.

A thin adapter: the answers come from :mod:`streams.engine.query`, the response shapes
from :mod:`schemas.query`. :func:`register_api` is the one call the app makes.
"""

from __future__ import annotations

from streams.apps.api.routes import register_api

__all__ = ["register_api"]
