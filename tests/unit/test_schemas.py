"""The published JSON Schemas, the models and the engine's wire output agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from schemas.dead_letter import REASONS, DeadLetterReplay, DeadLetterStream, Reason
from schemas.export import MODELS, SCHEMA_DIR, drifted, main, render, render_all, write_all
from schemas.push import RankChangeOut, WindowClosedOut
from schemas.score_event import ScoreEventIn
from schemas.timefmt import parse_rfc3339_ms
from streams.edge.validation import to_engine
from streams.engine.events import RankChange, ScoreEvent, Standing, WindowClosed, WindowRef, dumps

# --- drift between the models and the committed schema files ----------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_schema_file_is_up_to_date(name: str) -> None:
    path = SCHEMA_DIR / name
    assert path.exists(), f"{name} missing: run python -m schemas.export"
    assert path.read_text(encoding="utf-8") == render(MODELS[name]), (
        f"{name} is stale: run python -m schemas.export"
    )


def test_export_check_passes_on_the_committed_files() -> None:
    assert drifted() == []
    assert main(["--check"]) == 0


def test_export_check_detects_drift_without_writing(tmp_path: Path) -> None:
    write_all(tmp_path)
    assert drifted(tmp_path) == []
    stale = tmp_path / "rank_change.schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    (tmp_path / "window_closed.schema.json").unlink()
    assert sorted(p.name for p in drifted(tmp_path)) == [
        "rank_change.schema.json",
        "window_closed.schema.json",
    ]
    assert stale.read_text(encoding="utf-8") == "{}\n"


def test_export_format_is_stable() -> None:
    for path, text in render_all().items():
        assert text.endswith("}\n"), path
        data = json.loads(text)
        assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("model", list(MODELS.values()), ids=lambda m: m.__name__)
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    assert model.__doc__
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"


# --- engine output against the push-topic models ----------------------------------------

DAILY = WindowRef(
    "daily",
    "2026-11-27",
    parse_rfc3339_ms("2026-11-27T00:00:00Z"),
    parse_rfc3339_ms("2026-11-28T00:00:00Z"),
)
WEEKLY_TOKYO = WindowRef(
    "weekly",
    "2026-11-23",
    parse_rfc3339_ms("2026-11-23T00:00:00+09:00"),
    parse_rfc3339_ms("2026-11-30T00:00:00+09:00"),
)
ODD_BOUNDS = WindowRef("daily", "2026-03-08", 1_772_956_800_123, 1_773_039_600_000)
ALL = WindowRef("all", None, None, None)

RANK_CHANGES = [
    pytest.param(RankChange("arena", DAILY, "alice", 5, 2, 120, "e-1"), id="moved-up"),
    pytest.param(RankChange("arena", DAILY, "bob", None, 3, 7, "e-2"), id="entered"),
    pytest.param(RankChange("arena", ALL, "carol", 100, None, -5, "e-3"), id="left-all"),
    pytest.param(RankChange("speedrun", WEEKLY_TOKYO, "zoë", 1, 1, 9, "e-4"), id="score-only"),
    pytest.param(RankChange("arena", ODD_BOUNDS, "dave", 2, 1, 2**53 - 1, "e-5"), id="millis"),
]


@pytest.mark.parametrize("change", RANK_CHANGES)
def test_rank_change_wire_matches_model(change: RankChange) -> None:
    wire = change.to_wire()
    assert list(wire) == list(RankChangeOut.model_fields), "field order drifted"
    model = RankChangeOut.model_validate_json(json.dumps(wire))
    assert model.model_dump(mode="json") == wire
    assert RankChangeOut.model_validate(wire) == model


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(), st.one_of(st.none(), st.integers(1, 10_000)))
def test_rank_change_json_is_dumps_of_its_wire_form(
    user: str, cause: str, rank: int | None
) -> None:
    """The compiled ``to_json`` writes every string as ``json`` does with ensure_ascii off:
    quotes, backslashes, control characters and non-ASCII."""
    for window in (DAILY, ALL, WEEKLY_TOKYO):
        change = RankChange("arena", window, user, rank, 1, -(2**53 - 1), cause)
        assert change.to_json() == dumps(change.to_wire())
        assert json.loads(change.to_json()) == change.to_wire()


WINDOWS_CLOSED = [
    pytest.param(
        WindowClosed("arena", DAILY, (Standing(1, "alice", 120), Standing(2, "bob", 7))),
        id="daily",
    ),
    pytest.param(WindowClosed("arena", WEEKLY_TOKYO, (Standing(1, "a", -3),)), id="weekly"),
    pytest.param(WindowClosed("arena", ALL, ()), id="all-empty"),
]


@pytest.mark.parametrize("closed", WINDOWS_CLOSED)
def test_window_closed_wire_matches_model(closed: WindowClosed) -> None:
    wire = closed.to_wire()
    assert list(wire) == list(WindowClosedOut.model_fields), "field order drifted"
    model = WindowClosedOut.model_validate_json(json.dumps(wire))
    assert model.model_dump(mode="json") == wire


def _change(**fields: Any) -> dict[str, Any]:
    wire = RankChange("arena", DAILY, "alice", 5, 2, 120, "e-1").to_wire()
    wire.update(fields)
    return wire


BAD_RECORDS = [
    pytest.param(RankChangeOut, _change(level=3), id="unknown-field"),
    pytest.param(RankChangeOut, _change(type="window_closed"), id="wrong-type"),
    pytest.param(RankChangeOut, _change(window="monthly"), id="unknown-window"),
    pytest.param(RankChangeOut, _change(new_rank=0), id="rank-zero"),
    pytest.param(RankChangeOut, _change(old_rank=None, new_rank=None), id="both-ranks-null"),
    pytest.param(RankChangeOut, _change(score=1.0), id="float-score"),
    pytest.param(RankChangeOut, _change(new_rank="2"), id="string-rank"),
    pytest.param(RankChangeOut, _change(period="27/11/2026"), id="bad-period"),
    pytest.param(RankChangeOut, _change(window_end="2026-11-28T00:00:00+00:00"), id="not-utc-z"),
    pytest.param(RankChangeOut, _change(window="all"), id="all-with-period"),
    pytest.param(RankChangeOut, _change(period=None), id="daily-without-period"),
    pytest.param(
        WindowClosedOut,
        WindowClosed("a", DAILY, (Standing(2, "x", 1),)).to_wire(),
        id="standings-not-from-1",
    ),
    pytest.param(
        WindowClosedOut,
        {**WindowClosed("a", ALL, ()).to_wire(), "standings": [{"rank": 1, "user": "x"}]},
        id="standing-missing-score",
    ),
]


@pytest.mark.parametrize(("model", "record"), BAD_RECORDS)
def test_output_models_reject_drifted_records(
    model: type[BaseModel], record: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(record)


# --- dead letters -----------------------------------------------------------------------


def test_reason_codes_are_the_stable_set() -> None:
    assert {
        "too_large",
        "not_utf8",
        "bad_json",
        "not_object",
        "missing_field",
        "invalid_field",
        "future",
        "too_old",
    } == REASONS
    assert {r.value for r in Reason} == REASONS


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_dead_letters_accept_every_reason(reason: str) -> None:
    DeadLetterReplay.model_validate({"reason": reason, "detail": "d", "raw": "r", "line": 1})
    DeadLetterStream.model_validate(
        {
            "reason": reason,
            "detail": "d",
            "raw": "r",
            "source": {"topic": "scores", "partition": 0, "offset": 0},
        }
    )


BAD_DEAD_LETTERS = [
    pytest.param(DeadLetterReplay, {"reason": "oops", "detail": "", "raw": "", "line": 1}),
    pytest.param(DeadLetterReplay, {"reason": "bad_json", "detail": "", "raw": "", "line": 0}),
    pytest.param(DeadLetterReplay, {"reason": "bad_json", "raw": "", "line": 1}),
    pytest.param(
        DeadLetterStream,
        {"reason": "bad_json", "detail": "", "raw": "", "source": {"topic": "t", "offset": 1}},
    ),
    pytest.param(
        DeadLetterStream,
        {
            "reason": "bad_json",
            "detail": "",
            "raw": "",
            "line": 1,
            "source": {"topic": "t", "partition": 0, "offset": 1},
        },
    ),
]


@pytest.mark.parametrize(("model", "record"), BAD_DEAD_LETTERS)
def test_dead_letter_models_reject_malformed(
    model: type[BaseModel], record: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(record)


# --- input model ------------------------------------------------------------------------


def test_score_event_in_exposes_ts_as_epoch_ms_and_converts_to_engine() -> None:
    raw = (
        '{"event_id": "e", "board": "b", "user": "u", "score": -3, "ts": "1970-01-01T00:00:01.5Z"}'
    )
    model = ScoreEventIn.model_validate_json(raw)
    assert model.ts == 1500
    assert to_engine(model) == ScoreEvent("e", "b", "u", -3, 1500)
    with pytest.raises(ValidationError):
        model.__setattr__("score", 4)  # frozen: a validated event cannot be made invalid


def test_replay_renders_each_record_as_its_json_line() -> None:
    """replay's compiled ``render`` writes a RankChange itself and asks any other record for
    its ``to_json()``: the same lines either way."""
    from streams.apps.replay import render

    records = [
        RankChange("arena", DAILY, 'zoë "q" \\ \n', None, 1, 2**53 - 1, "e-1"),
        WindowClosed("arena", DAILY, (Standing(1, "alice", 120),)),
        RankChange("arena", ALL, "bob", 3, None, -5, "e-2"),
    ]
    assert render(records) == "".join(r.to_json() + "\n" for r in records).encode()
    assert render(()) == b""
