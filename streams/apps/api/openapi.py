"""``GET /openapi.json``: the OpenAPI 3.1 document of the query API, generated from the
pydantic models the handlers use (parameters: :mod:`streams.apps.api.params`; answers:
:mod:`schemas.query`), so the document cannot describe an API other than the one served.

:data:`OPERATIONS` is also the route table: :func:`streams.apps.api.routes.routes` gives one
handler per entry and refuses to start when one is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.query import (
    BoardOut,
    BoardPageOut,
    BoardsOut,
    ErrorOut,
    HealthOut,
    UserRankOut,
    UserRanksOut,
)
from streams.apps.api import params as parameters

REF = "#/components/schemas/{model}"
JSON = "application/json"
TEXT = "text/plain"

_ERRORS = {
    400: "bad_parameter: a parameter is malformed or out of range, or unknown here",
    404: "unknown_board, unknown_window, unknown_period or unknown_user",
    409: "unavailable: the board's partition is moving between workers or being recovered, "
    "or its owner did not answer; the request is fine, retry after Retry-After seconds",
}
_BOARD_ERRORS = (400, 404, 409)


@dataclass(frozen=True)
class Operation:
    """One GET operation: its path, parameter models and answer."""

    operation_id: str
    path: str
    summary: str
    params: type[parameters.Params]
    path_params: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None  # None: ``content_type`` text
    content_type: str = JSON
    errors: tuple[int, ...] = (400,)
    forwarded: bool = False  # answered by the board's owner (X-Rankstream-Answered-By)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "listBoards",
        "/boards",
        "The boards: settings, current, open and retained windows",
        parameters.BoardsParams,
        answer=BoardsOut,
    ),
    Operation(
        "getBoard",
        "/api/boards/{board}",
        "One board: settings, current, open and retained windows",
        parameters.NoParams,
        parameters.BoardPath,
        BoardOut,
        errors=_BOARD_ERRORS,
        forwarded=True,
    ),
    Operation(
        "getWindowPage",
        "/boards/{board}/{window}",
        "A page of a window's standings; without period, the current window",
        parameters.PageParams,
        parameters.WindowPath,
        BoardPageOut,
        errors=_BOARD_ERRORS,
        forwarded=True,
    ),
    Operation(
        "getUserRank",
        "/boards/{board}/{window}/users/{user}",
        "One user's exact rank and score in a window, with neighbours",
        parameters.UserParams,
        parameters.UserPath,
        UserRankOut,
        errors=_BOARD_ERRORS,
        forwarded=True,
    ),
    Operation(
        "getUsersRanks",
        "/boards/{board}/{window}/users",
        "Several users' ranks and scores in a window (null: no score there)",
        parameters.UsersParams,
        parameters.WindowPath,
        UserRanksOut,
        errors=_BOARD_ERRORS,
        forwarded=True,
    ),
    Operation(
        "getHealth",
        "/healthz",
        "200 once this worker's state is recovered; 409 while it recovers",
        parameters.NoParams,
        answer=HealthOut,
        errors=(400, 409),
    ),
    Operation(
        "getMetrics",
        "/metrics",
        "Prometheus metrics (text exposition format)",
        parameters.NoParams,
        content_type=TEXT,
    ),
    Operation("getOpenApi", "/openapi.json", "This document", parameters.NoParams),
)

_MODELS: tuple[type[BaseModel], ...] = (
    BoardsOut,
    BoardOut,
    BoardPageOut,
    UserRankOut,
    UserRanksOut,
    HealthOut,
    ErrorOut,
)


def document(version: str) -> dict[str, Any]:
    """The OpenAPI document; ``version`` is the API's (the package's) version."""
    _, defs = models_json_schema([(model, "validation") for model in _MODELS], ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "rankstream query API",
            "version": version,
            "description": "Windowed leaderboards of a rankstream worker (docs/api.md). Any "
            "worker answers any board. Every error is JSON (ErrorOut) with a 4xx status.",
        },
        "paths": {op.path: {"get": _operation(op)} for op in OPERATIONS},
        "components": {"schemas": defs.get("$defs", {})},
    }


def _operation(op: Operation) -> dict[str, Any]:
    parameters = []
    if op.path_params is not None:
        parameters += _parameters(op.path_params, "path")
    parameters += _parameters(op.params, "query")
    responses: dict[str, Any] = {"200": _ok(op)}
    for status in op.errors:
        responses[str(status)] = _error(status, op)
    return {
        "operationId": op.operation_id,
        "summary": op.summary,
        "parameters": parameters,
        "responses": responses,
    }


def _ok(op: Operation) -> dict[str, Any]:
    if op.answer is not None:
        schema: dict[str, Any] = {"$ref": REF.format(model=op.answer.__name__)}
    elif op.content_type == JSON:
        schema = {"type": "object"}
    else:
        schema = {"type": "string"}
    ok: dict[str, Any] = {"description": "OK", "content": {op.content_type: {"schema": schema}}}
    if op.forwarded:
        ok["headers"] = {
            "X-Rankstream-Answered-By": {
                "description": "base URL of the worker that owns the board, when another "
                "worker answered (the request was forwarded to it)",
                "schema": {"type": "string"},
            }
        }
    return ok


def _error(status: int, op: Operation) -> dict[str, Any]:
    model = HealthOut if status == 409 and op.answer is HealthOut else ErrorOut
    description = "recovering" if model is HealthOut else _ERRORS[status]
    answer: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": {"$ref": REF.format(model=model.__name__)}}},
    }
    if status == 409:
        answer["headers"] = {
            "Retry-After": {
                "description": "seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    return answer


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    required = set(schema.get("required", ()))
    found = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(prop)
        description = prop.pop("description", "")
        prop.pop("title", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "description": description,
            "schema": prop,
        }
        if prop.get("type") == "array":
            parameter |= {"style": "form", "explode": True}
        found.append(parameter)
    return found


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string, never JSON null: ``X | None`` is ``X``."""
    options = prop.get("anyOf")
    if not options:
        return dict(prop)
    kept = [o for o in options if o.get("type") != "null"]
    rest = {k: v for k, v in prop.items() if k != "anyOf"}
    if rest.get("default", 0) is None:
        del rest["default"]
    return {**kept[0], **rest} if len(kept) == 1 else {"anyOf": kept, **rest}
