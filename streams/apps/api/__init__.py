"""The worker's HTTP side (contract section 7): JSON queries answered from the engine's
state, forwarded to the worker that owns the board's partition; the live page with
server-sent events fed from the push topic; health and Prometheus metrics.

A thin adapter: the answers come from :mod:`streams.engine.query`, the response shapes
from :mod:`schemas.query`; the handlers (:mod:`.routes`) see the stream job only through
:class:`.cluster.Cluster`, and :func:`.faust_web.register_api` is the one call the worker
makes to mount them on faust's web server.
"""
