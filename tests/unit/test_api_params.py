"""Query API parameters (streams/apps/api/params.py): every bad value is a 400 bad_parameter
that names the parameter; good values parse to what the engine expects; and the OpenAPI
document describes exactly the models the handlers parse with."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from streams.apps.api.openapi import OPERATIONS, document
from streams.apps.api.params import (
    BoardPath,
    BoardsParams,
    NoParams,
    PageParams,
    Params,
    UserParams,
    UserPath,
    UsersParams,
    WindowPath,
    parse_path,
    parse_query,
)
from streams.engine.query import MAX_IDS, QueryError


def bad(model: type[Params], *items: tuple[str, str]) -> str:
    with pytest.raises(QueryError) as info:
        parse_query(model, MultiDict(items))
    assert (info.value.status, info.value.code) == (400, "bad_parameter")
    return info.value.message


@pytest.mark.parametrize(
    ("model", "items", "names"),
    [
        (PageParams, [("limit", "\u00b2")], "limit: must be a decimal integer, got '²'"),
        (PageParams, [("limit", "1.0")], "limit: must be a decimal integer"),
        (PageParams, [("limit", "1_000")], "limit: must be a decimal integer"),
        (PageParams, [("limit", "0x10")], "limit: must be a decimal integer"),
        (PageParams, [("limit", "\u0661\u0662")], "limit: must be a decimal integer"),
        (PageParams, [("limit", "9" * 5000)], "limit: must be a decimal integer"),
        (PageParams, [("limit", "")], "limit: must be a decimal integer, got ''"),
        (PageParams, [("limit", "0")], "limit: should be greater than or equal to 1"),
        (PageParams, [("limit", "1001")], "limit: should be less than or equal to 1000"),
        (PageParams, [("offset", "-1")], "offset: should be greater than or equal to 0"),
        (PageParams, [("limit", "1"), ("limit", "2")], "limit: given 2 times; give it once"),
        (PageParams, [("limt", "5")], "limt: unknown parameter; this operation takes period,"),
        (PageParams, [("period", "")], "period: must be a date YYYY-MM-DD"),
        (PageParams, [("period", "2026-13-01")], "period: must be a real date"),
        (PageParams, [("period", "2026-1-01")], "period: must be a date YYYY-MM-DD"),
        (PageParams, [("period", "20261201")], "period: must be a date YYYY-MM-DD"),
        (UserParams, [("around", "101")], "around: should be less than or equal to 100"),
        (UserParams, [("around", " 1")], "around: must be a decimal integer"),
        (UserParams, [("period", "")], "period: must be a date"),
        (UsersParams, [], "ids: give at least one user id"),
        (UsersParams, [("ids", "")], "ids: user id 1 is empty"),
        (UsersParams, [("ids", "a,,b")], "ids: user id 2 is empty"),
        (UsersParams, [("ids", "a,")], "ids: user id 2 is empty"),
        (UsersParams, [("ids", "a\x07")], "ids: a user id is 1..128 characters"),
        (UsersParams, [("ids", "x" * 129)], "ids: a user id is 1..128 characters"),
        (UsersParams, [("ids", ",".join("u" * 101))], "ids: at most 100 user ids, got 101"),
        (UsersParams, [("id", "")], "id: a user id is 1..128 characters"),
        (UsersParams, [("ids", "a,b"), ("ids", "c")], "ids: given 2 times"),
        (UsersParams, [("ids", "a"), ("period", "")], "period: must be a date"),
        (
            UsersParams,
            [("ids", ",".join("u" * 60)), *[("id", "v")] * 41],
            "ids: at most 100 user ids in all, got 101",
        ),
        (BoardsParams, [("scope", "all")], "scope: should be 'local', got 'all'"),
        (BoardsParams, [("scope", "")], "scope: should be 'local', got ''"),
        (NoParams, [("x", "1")], "x: unknown parameter; this operation takes none"),
    ],
)
def test_bad_values_are_400_naming_the_parameter(
    model: type[Params], items: list[tuple[str, str]], names: str
) -> None:
    assert bad(model, *items).startswith(names)


def test_good_values() -> None:
    page = parse_query(PageParams, MultiDict([("limit", "5"), ("period", "2026-11-27")]))
    assert (page.period, page.limit, page.offset) == ("2026-11-27", 5, 0)
    assert parse_query(PageParams, MultiDict()) == PageParams(period=None, limit=100, offset=0)
    assert parse_query(UserParams, MultiDict([("around", "007")])).around == 7
    users = parse_query(
        UsersParams, MultiDict([("id", "a,b"), ("ids", "c,d"), ("id", "e"), ("id", "c")])
    )
    assert users.users == ["c", "d", "a,b", "e", "c"]  # ids first, then each id; repeats kept
    assert parse_query(BoardsParams, MultiDict([("scope", "local")])).scope == "local"
    most = parse_query(UsersParams, MultiDict([("ids", ",".join(str(n) for n in range(MAX_IDS)))]))
    assert len(most.users) == MAX_IDS


@pytest.mark.parametrize(
    ("model", "match", "problem"),
    [
        (BoardPath, {"board": "a b"}, "board: a board name is 1..128 letters"),
        (BoardPath, {"board": "-x"}, "board: a board name"),
        (BoardPath, {"board": "x" * 129}, "board: a board name"),
        (UserPath, {"board": "b", "window": "daily", "user": "a\x00"}, "user: a user id"),
        (UserPath, {"board": "b", "window": "daily", "user": "u" * 129}, "user: a user id"),
    ],
)
def test_bad_path_parameters(model: type[Any], match: dict[str, str], problem: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_path(model, match)
    assert (info.value.status, info.value.code) == (400, "bad_parameter")
    assert info.value.message.startswith(problem)


def test_window_kind_is_left_to_the_board() -> None:
    """``hourly`` is a 404 unknown_window from the query, not a 400: the path names a
    resource that does not exist (and a board may lack a kind that exists)."""
    assert parse_path(WindowPath, {"board": "b", "window": "hourly"}).window == "hourly"
    assert parse_path(UserPath, {"board": "b", "window": "all", "user": "x,y/z"}).user == "x,y/z"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.sampled_from(["limit", "offset", "around", "period", "ids"]))
def test_any_text_parses_or_is_a_400(value: str, name: str) -> None:
    model: type[Params] = UsersParams if name == "ids" else PageParams
    if name == "around":
        model = UserParams
    try:
        parse_query(model, MultiDict([(name, value), ("ids", "a")] if name != "ids" else []))
    except QueryError as exc:
        assert (exc.status, exc.code) == (400, "bad_parameter")
        assert exc.message.startswith(f"{name}:") or exc.message.startswith("ids:")


def test_document_describes_the_parsed_parameters() -> None:
    doc = json.loads(json.dumps(document("1.2.3")))
    assert doc["openapi"].startswith("3.1") and doc["info"]["version"] == "1.2.3"
    assert len(doc["paths"]) == len(OPERATIONS) == 8
    schemas = doc["components"]["schemas"]
    for op in OPERATIONS:
        spec = doc["paths"][op.path]["get"]
        names = [p["name"] for p in spec["parameters"]]
        path_names = re.findall(r"{(\w+)}", op.path)
        assert names == [*path_names, *op.params.model_fields], op.path
        assert all(p["required"] for p in spec["parameters"] if p["in"] == "path")
        assert not any(p["required"] for p in spec["parameters"] if p["in"] == "query")
        assert "400" in spec["responses"]
        for answer in spec["responses"].values():
            for content in answer["content"].values():
                ref = content["schema"].get("$ref")
                assert ref is None or ref.rsplit("/", 1)[1] in schemas
    page = {p["name"]: p for p in doc["paths"]["/boards/{board}/{window}"]["get"]["parameters"]}
    assert page["limit"]["schema"] == {
        "default": 100,
        "examples": [10],
        "maximum": 1000,
        "minimum": 1,
        "type": "integer",
    }
    assert page["window"]["schema"]["enum"] == ["daily", "weekly", "all"]
    assert page["period"]["schema"]["format"] == "date"  # no "null": absent means now
    users = doc["paths"]["/boards/{board}/{window}/users"]["get"]["parameters"]
    repeated = next(p for p in users if p["name"] == "id")
    assert (repeated["schema"]["type"], repeated["explode"]) == ("array", True)
    assert (
        "Retry-After"
        in doc["paths"]["/boards/{board}/{window}"]["get"]["responses"]["409"]["headers"]
    )
