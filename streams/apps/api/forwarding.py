"""Answers from other workers: a board's query goes to the worker that owns the board,
and ``/boards`` asks every peer for the boards it owns.

Invariants:

* A forwarded request carries :data:`FORWARDED`; its receiver answers itself or says
  ``unavailable``, never forwards again (two workers with different views of a rebalance
  would otherwise bounce it between them).
* The client never sees a 5xx: an owner that fails or does not answer is, to it, an owner
  not available right now (``409`` + ``Retry-After``, :mod:`.errors`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from schemas.query import BoardOut, BoardsOut
from streams.apps.api.cluster import Cluster
from streams.apps.api.errors import UNAVAILABLE, Unavailable

log = logging.getLogger(__name__)

#: Set on a forwarded request: the receiver answers itself or fails, never forwards again.
FORWARDED = "X-Rankstream-Forwarded"
#: On a forwarded answer: the base URL of the worker that answered.
ANSWERED_BY = "X-Rankstream-Answered-By"
FORWARD_TIMEOUT_S = 10.0
PEER_BOARDS_TIMEOUT_S = 5.0


class Forwarder:
    """``session()`` is the HTTP client session of the worker (created on first use)."""

    def __init__(self, cluster: Cluster, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._cluster = cluster
        self._session = session

    async def forward(self, request: web.Request, board: str) -> web.StreamResponse | None:
        """Answer from the owner of ``board`` when that is another worker; None: local."""
        if self._cluster.owns(board):
            return None
        if request.headers.get(FORWARDED):
            raise Unavailable("partition is moving; retry shortly")
        owner = self._cluster.owner_url(board)
        if owner is None or owner == self._cluster.own_url():
            raise Unavailable("no worker owns this board yet; retry shortly")
        url = owner + str(request.rel_url)
        try:
            async with self._session().get(
                url,
                headers={FORWARDED: "1"},
                timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S),
            ) as response:
                body = await response.read()
                status, content_type = response.status, response.content_type
                retry_after = response.headers.get("Retry-After", "1")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unavailable(f"owner {owner} did not answer: {exc!r}") from None
        if status >= 500:
            raise Unavailable(f"owner {owner} answered {status}; retry shortly")
        headers = {ANSWERED_BY: owner}
        if status == UNAVAILABLE:
            headers["Retry-After"] = retry_after
        return web.Response(body=body, status=status, content_type=content_type, headers=headers)

    async def peer_boards(self, url: str) -> list[BoardOut]:
        """The boards another worker owns (``/boards?scope=local``); none when it does not
        answer or answers something else."""
        try:
            async with self._session().get(
                url + "/boards?scope=local",
                timeout=aiohttp.ClientTimeout(total=PEER_BOARDS_TIMEOUT_S),
            ) as response:
                if response.status != 200:
                    raise ValueError(f"status {response.status}")
                return BoardsOut.model_validate_json(await response.read()).boards
        except (TimeoutError, aiohttp.ClientError, ValueError, ValidationError) as exc:
            log.warning("boards: worker %s did not answer: %s", url, exc)
            return []
