"""Every error of the worker's HTTP port as JSON (:class:`schemas.query.ErrorOut`), by one
aiohttp middleware, so that no handler, and no route that does not exist, can answer
otherwise.

- :class:`~streams.engine.query.QueryError` (bad parameters, unknown boards, windows,
  periods and users; ``unavailable``) becomes its status and code.
- aiohttp's own answers (no such route: ``404 not_found``; a method other than GET/HEAD:
  ``405 method_not_allowed`` with its ``Allow`` header) become JSON too.
- ``unavailable`` is ``409 Conflict`` with ``Retry-After``: the request is fine but the
  board's partition is, right now, moving between workers or being recovered (or its
  owner did not answer). The contract wants 4xx only (no request may make the API answer
  5xx); of the 4xx codes, 409 says "the target's current state conflicts with the
  request, which may succeed later" (RFC 9110 15.5.10), where 429 would blame the client
  for sending too many requests and 425 is about TLS early data.
- Anything else is a bug: logged with its traceback and answered ``500 internal`` in JSON.
  The schemathesis test (tests/integration/test_api_schemathesis.py) exists to find them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from schemas.query import ErrorOut
from streams.engine.query import QueryError

log = logging.getLogger(__name__)
RETRY_AFTER_S = 1
UNAVAILABLE = 409

_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 414: "too_long"}


class Unavailable(QueryError):
    """The board cannot be answered right now; retry (``409`` + ``Retry-After``)."""

    def __init__(self, message: str) -> None:
        super().__init__(UNAVAILABLE, "unavailable", message)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = ErrorOut(error=code, message=message, status=status).model_dump()
    extra = dict(headers or {})
    if code == "unavailable":
        extra["Retry-After"] = str(RETRY_AFTER_S)
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        content_type="application/json",
        headers=extra,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except QueryError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _CODES.get(exc.status, "bad_request")
        if exc.status == 404:
            message = f"no such route: {request.method} {request.path}; see /openapi.json"
        elif exc.status == 405:
            message = f"method {request.method} not allowed here; only GET and HEAD"
        else:
            message = exc.reason
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, code, message, headers)
    except Exception:
        log.exception("HTTP %s %s failed", request.method, request.path_qs)
        return error_response(500, "internal", "internal error (a bug; see the worker log)")
