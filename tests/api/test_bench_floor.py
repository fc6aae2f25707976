"""The SQL floor of ``rongbank bench paths`` replays what a path's request sends: its
pgbench script is built from statements captured from real requests, so it is the
statements the path's budget counter sees (``tests/test_path_costs.py``), in order,
and cannot drift from them. (Its run by pgbench: ``tests/api/test_paths_bench.py``.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rongbank.api import bench_floor_trip
from rongbank.api.app import create_app
from rongbank.api.bench_floor import build, capture
from rongbank.api.bench_sql import counting
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.settings import Settings, throwaway_secrets
from tests.support.path_cost import PER_CUSTOMER, Prepare, Request, Scene, paths

_CAST = re.compile(r"::[\w\[\]]+")
_VALUE = re.compile(
    r"replace\(:\w+, :m, :u\)"  # the request's client_id replaced
    r"|\(:\w+ \|\| '\.' \|\| :u\)"  # a key made unique
    r"|regexp_replace\(:\w+, '[^']*', '[^']*' \|\| :u, 'g'\)"  # keys in an array
    r"|:\w+"  # a pgbench variable
    r"|%(\(\w+\))?[sbt]"  # a psycopg placeholder
    r"|\bNULL\b"
)


_UNIQUE_JSON = re.compile(r"jsonb_set\(([^()]*), '\{[\w,]+\}', to_jsonb\(:u\)\)")


def _shape(statement: str) -> str:
    """A statement with each value a ``?``, no casts, its spaces collapsed."""
    bare = _CAST.sub("", statement)
    while (unwrapped := _UNIQUE_JSON.sub(r"\1", bare)) != bare:  # a JSON's numbers made unique
        bare = unwrapped
    return " ".join(_VALUE.sub("?", bare).replace("(?)", "?").split())


@pytest.fixture
def served(fresh_db: str, tmp_path: Path, clock: FrozenClock) -> Iterator[tuple[TestClient, Scene]]:
    settings = Settings(database_url=fresh_db, data_dir=tmp_path, **throwaway_secrets())  # type: ignore[arg-type]
    platform = Platform.connect(fresh_db, settings, clock=clock)
    try:
        with TestClient(create_app(platform, background=False)) as client:
            scene = Scene(platform)
            scene.set_up()
            yield client, scene
    finally:
        platform.close()


def _status(client: TestClient) -> Callable[[Request], int]:
    def send(request: Request) -> int:
        sent = client.request(
            request.method, request.url, headers=request.headers, json=request.body
        )
        return sent.status_code

    return send


_ARGUMENT = re.compile(r"\(\$1\[(\d+)\]::[^)]*\)")


def test_the_replay_is_the_statements_a_request_sends(
    served: tuple[TestClient, Scene], fresh_db: str
) -> None:
    client, scene = served
    prepared: dict[str, Prepare] = paths(scene, 2 * PER_CUSTOMER)
    transfer, static_qr = prepared["transfer"], prepared["static_qr"]
    send = _status(client)
    for i in (0, PER_CUSTOMER):  # each payer's first warms what the process keeps
        assert send(transfer(i)) == 201
    # One request of each payer, then the first payer's second.
    runs = capture([transfer(1), transfer(PER_CUSTOMER + 1), transfer(2)], 201, send)
    replay = build("transfer", runs, clients=2, index=0)

    with counting(keep_texts=True) as tally:
        assert send(transfer(3)) == 201
    # The \\set lines and the payer's row apart, the script is the request's statements,
    # each transaction's BEGIN and COMMIT in their places.
    assert replay.script.endswith("\n".join(f"{s};" for s in replay.sql) + "\n")
    sent = replay.sql
    assert [s for s in sent if s not in ("BEGIN", "COMMIT")] != []
    assert [_shape(s) for s in sent if s not in ("BEGIN", "COMMIT")] == [
        _shape(t) for t in tally.texts
    ]
    assert replay.statements == tally.statements == len(tally.texts)
    assert replay.transactions == sent.count("BEGIN") == 1
    assert sent[-1] == "COMMIT"
    # The request's own keys are made unique per transaction; the payers' rows read.
    claims = [s for s in sent if "INSERT INTO idempotency_record" in s]
    assert claims
    assert all(":u" in s for s in claims)
    assert replay.varied["payer"] > 0
    assert len(replay.rows) == 2
    assert {"ledger_entry", "ledger_posting", "audit_log", "outbox_event"} <= set(replay.inserts)

    # In one call a transaction: the same statements as a SQL function's body, each
    # variable an element of its argument, cast to the type of its place.
    # (The login check's statement, sent outside the transaction, is a call of its own.)
    trip = bench_floor_trip.build(fresh_db, replay)
    calls = trip.script.splitlines()[4:]
    assert [c.split("(")[0] for c in calls] == [
        "SELECT bench_trip_transfer_0",
        "SELECT bench_trip_transfer_1",
    ]
    restored = []
    for function, call in zip(trip.functions, calls, strict=True):
        names = re.findall(r":(\w+)::text", call)  # the argument's elements, in order

        def variable(found: re.Match[str], names: list[str] = names) -> str:
            return ":" + names[int(found.group(1)) - 1]

        body = function.split("$trip$")[1].strip().rstrip(";").split(";\n")
        restored += [_ARGUMENT.sub(variable, s) for s in body]
    statements = [s for s in sent if s not in ("BEGIN", "COMMIT")]
    assert [_shape(s) for s in restored] == [_shape(s) for s in statements]

    other = capture([static_qr(1)], 201, send)
    with pytest.raises(ValueError, match="same statements"):
        build("transfer", [runs[0], other[0], runs[2]], clients=2, index=0)
