"""Leg 4: the same leaderboard workload the way teams build it on Redis sorted sets.

    python -m bench.redis_rank --port 6390 [--top 100] [--batch 500] < events.jsonl > changes.jsonl

Per event (contract ``[defaults]``: aggregate ``sum``, order ``desc``, UTC daily + weekly
(Monday) + all windows, top K = 100), one server-side Lua script, pipelined ``--batch``
events per round trip:

* dedup: ``SET dedup:<board>:<event_id> 1 NX EX <8 days>``; a duplicate stops there;
* per window: ``ZREVRANK`` (old rank), ``ZINCRBY`` (the aggregate), ``ZREVRANK`` (new
  rank), and only when the user was or is in the top K, ``ZSCORE`` and ``ZREVRANGE`` of
  just the segment of the top K whose ranks moved (between the old and the new rank, plus
  the member pushed out at rank K+1); ``--aggregate max|min|last`` use ``ZADD GT`` /
  ``ZADD LT`` / ``ZADD`` instead of ``ZINCRBY``.

From that segment the client knows every rank that changed (the members between old and
new rank shift by one) without keeping any state, and writes ``rank_change`` records
like ours (JSONL, same fields) to stdout. (A first version read the whole top K per event
and diffed it against a client-side copy: ~5x slower, dominated by reading 100 entries
x 3 windows.) Decoding is ``json.loads`` plus the type checks of contract section 1;
invalid lines are counted, not written. Not done, as a typical Redis leaderboard does
not do them: ties are ordered by member name (Redis) instead of by the time the score
was reached, no window closing / ``window_closed`` records, no lateness or grace, no
retention of closed windows. Each of those would add work on the Redis side, so the
comparison favours Redis.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import redis

DAY_MS = 86_400_000
DEDUP_TTL_S = 8 * 86_400

SCRIPT = """
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[4]) then return false end
local user = ARGV[2]
local k = tonumber(ARGV[3])
local op = ARGV[5]
local out = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local before = redis.call('ZSCORE', key, user)
  local old = redis.call('ZREVRANK', key, user)
  if op == 'sum' then
    redis.call('ZINCRBY', key, ARGV[1], user)
  elseif op == 'max' then
    redis.call('ZADD', key, 'GT', ARGV[1], user)
  elseif op == 'min' then
    redis.call('ZADD', key, 'LT', ARGV[1], user)
  else
    redis.call('ZADD', key, ARGV[1], user)
  end
  local after = redis.call('ZSCORE', key, user)
  local new = redis.call('ZREVRANK', key, user)
  local o = old or 1e18
  if (o >= k and new >= k) or before == after then
    out[i - 1] = 0
  else
    local lo, hi = new, new
    if new < o then hi = math.min(o, k) elseif new > o then lo, hi = o, math.min(new, k - 1) end
    out[i - 1] = {old or -1, new, lo, after,
                  redis.call('ZREVRANGE', key, lo, hi, 'WITHSCORES')}
  end
end
return out
"""


@lru_cache(maxsize=4096)
def window_prefix(board: str, kind: str, start_ms: int | None, end_ms: int | None) -> str:
    """The record's constant part for one window (as our engine caches it)."""

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    period = None if start_ms is None else iso(start_ms)[:10]
    wire = {
        "type": "rank_change",
        "board": board,
        "window": kind,
        "period": period,
        "window_start": None if start_ms is None else iso(start_ms),
        "window_end": None if end_ms is None else iso(end_ms),
    }
    return json.dumps(wire, ensure_ascii=False, separators=(",", ":"))[:-1]


def windows(ts_ms: int) -> list[tuple[str, int | None, int | None]]:
    day = ts_ms // DAY_MS
    monday = day - (day + 3) % 7  # 1970-01-01 was a Thursday
    return [
        ("daily", day * DAY_MS, (day + 1) * DAY_MS),
        ("weekly", monday * DAY_MS, (monday + 7) * DAY_MS),
        ("all", None, None),
    ]


def parse(line: bytes) -> tuple[str, str, str, int, int] | None:
    """(event_id, board, user, score, ts_ms) of a valid event, else None."""
    try:
        obj = json.loads(line)
        eid, board, user, score, ts = (
            obj["event_id"],
            obj["board"],
            obj["user"],
            obj["score"],
            obj["ts"],
        )
    except (ValueError, KeyError, TypeError):
        return None
    if not (isinstance(eid, str) and isinstance(board, str) and isinstance(user, str)):
        return None
    if isinstance(score, bool) or not isinstance(score, int) or abs(score) > 2**53 - 1:
        return None
    if isinstance(ts, int) and not isinstance(ts, bool):
        return eid, board, user, score, ts
    if isinstance(ts, str):
        try:
            dt = datetime.fromisoformat(ts)
        except ValueError:
            return None
        if dt.tzinfo is not None:
            return eid, board, user, score, int(dt.timestamp() * 1000)
    return None


class Ranker:
    def __init__(self, client: redis.Redis, top: int, aggregate: str, out: Any) -> None:
        self.client = client
        self.top = top
        self.aggregate = aggregate
        self.out = out
        self.script = client.register_script(SCRIPT)
        self.counts = {"applied": 0, "duplicates": 0, "invalid": 0, "records": 0}

    def run_batch(self, events: list[tuple[str, str, str, int, int]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        plans = []
        for eid, board, user, score, ts in events:
            wins = windows(ts)
            keys = [f"dedup:{board}:{eid}"]
            keys += [f"lb:{board}:{kind}:{start}" for kind, start, _ in wins]
            self.script(
                keys=keys,
                args=[score, user, self.top, DEDUP_TTL_S, self.aggregate],
                client=pipe,
            )
            plans.append((eid, board, user, wins))
        lines: list[str] = []
        for (eid, board, user, wins), reply in zip(plans, pipe.execute(), strict=True):
            if reply is None:
                self.counts["duplicates"] += 1
                continue
            self.counts["applied"] += 1
            cause = json.dumps(eid, ensure_ascii=False)
            member = user.encode()
            for (kind, start, end), moved in zip(wins, reply, strict=True):
                if moved != 0:
                    prefix = window_prefix(board, kind, start, end)
                    lines += self.changes(prefix, member, moved, cause)
        self.counts["records"] += len(lines)
        if lines:
            self.out.write("\n".join(lines) + "\n")

    def changes(self, prefix: str, user: bytes, moved: list[Any], cause: str) -> list[str]:
        """rank_change records from (old index or -1, new index, segment start, the user's
        score, the segment [member, score, ...]) of one window."""
        k = self.top
        old, new, lo, user_score, flat = moved
        o = old if old >= 0 else 1 << 62
        shift = -1 if new < o else (1 if new > o else 0)
        records = []
        seen_user = False
        for j in range(0, len(flat), 2):
            member, index = flat[j], lo + j // 2
            new_rank = index + 1 if index < k else None
            if member == user:
                seen_user = True
                old_rank = old + 1 if 0 <= old < k else None
            else:
                prev = index + shift
                old_rank = prev + 1 if prev < k else None
                if old_rank == new_rank:
                    continue
            if old_rank is None and new_rank is None:
                continue
            records.append(self.record(prefix, member, old_rank, new_rank, flat[j + 1], cause))
        if not seen_user and 0 <= old < k:  # dropped out of the top K
            records.append(self.record(prefix, user, old + 1, None, user_score, cause))
        return records

    @staticmethod
    def record(
        prefix: str,
        member: bytes,
        old_rank: int | None,
        new_rank: int | None,
        score: bytes,
        cause: str,
    ) -> str:
        user = json.dumps(member.decode(), ensure_ascii=False)
        return (
            f'{prefix},"user":{user},"old_rank":{"null" if old_rank is None else old_rank},'
            f'"new_rank":{"null" if new_rank is None else new_rank},'
            f'"score":{int(float(score))},"cause":{cause}}}'
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.redis_rank", description=__doc__)
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=6390)
    p.add_argument("--top", type=int, default=100)
    p.add_argument("--batch", type=int, default=500, help="events per pipelined round trip")
    p.add_argument("--aggregate", choices=("sum", "max", "min", "last"), default="sum")
    p.add_argument("--flush", action="store_true", help="FLUSHDB first (a fresh run)")
    args = p.parse_args(argv)
    client = redis.Redis(host=args.host, port=args.port)
    if args.flush:
        client.flushdb()
    out = sys.stdout
    ranker = Ranker(client, args.top, args.aggregate, out)
    t0 = time.perf_counter()
    batch: list[tuple[str, str, str, int, int]] = []
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        event = parse(line)
        if event is None:
            ranker.counts["invalid"] += 1
            continue
        batch.append(event)
        if len(batch) >= args.batch:
            ranker.run_batch(batch)
            batch = []
    if batch:
        ranker.run_batch(batch)
    out.flush()
    info = client.info("memory")
    summary = {
        **ranker.counts,
        "seconds": round(time.perf_counter() - t0, 3),
        "redis_used_memory": info.get("used_memory"),
        "redis_keys": client.dbsize(),
    }
    print(json.dumps(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
