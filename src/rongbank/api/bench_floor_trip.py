"""A path's SQL floor in one round trip (issue 17's second lever, measured before it is
built): the statements of each transaction of a captured request, unchanged, as the
body of one SQL function on the server, which pgbench calls once a transaction.

What the replay by pgbench (:mod:`.bench_floor`) still pays per statement, this one does
not: a network round trip, the protocol's parse of each message, the client's share of
the CPU. What it still pays is the statements' own work (their plans cached, as
PostgreSQL 18 caches a SQL function's) and the commit. Its rate is what a path could
reach with all of its logic moved into the database and no Python at all: the upper
bound of "one stored procedure per path".

Each ``:variable`` of the replay's statements becomes an element of the function's one
``text[]`` argument, cast to the type PostgreSQL infers for that place (asked with
``PREPARE``, as the replay's own prepared statements are typed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from rongbank.api.bench_floor import Replay

_VARIABLE = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_BOUNDS = ("BEGIN", "COMMIT", "ROLLBACK")


@dataclass(frozen=True)
class Trip:
    """The replay as one function a transaction: its script and the functions' DDL."""

    script: str
    functions: list[str]


def transactions(statements: list[str]) -> list[list[str]]:
    """The replay's statements grouped by transaction (a statement outside BEGIN ..
    COMMIT is a transaction of its own)."""
    groups: list[list[str]] = []
    current: list[str] | None = None
    for statement in statements:
        word = statement.split(" ")[0].upper()
        if word == "BEGIN":
            current = []
        elif word in _BOUNDS:
            if current:
                groups.append(current)
            current = None
        elif current is not None:
            current.append(statement)
        else:
            groups.append([statement])
    return groups


def _typed(conn: psycopg.Connection[Any], statement: str) -> list[str]:
    """The type PostgreSQL infers for each variable's place in ``statement``, in order."""
    places = iter(range(1, 1_000))
    numbered = _VARIABLE.sub(lambda _: f"${next(places)}", statement)
    conn.execute(sql.SQL("PREPARE bench_trip_probe AS {}").format(sql.SQL(numbered)))
    try:
        row = conn.execute(
            "SELECT parameter_types::text[] FROM pg_prepared_statements "
            "WHERE name = 'bench_trip_probe'"
        ).fetchone()
    finally:
        conn.execute("DEALLOCATE bench_trip_probe")
    assert row is not None
    return list(row[0])


def _as_arguments(statement: str, types: list[str], used: list[str]) -> str:
    """``statement`` with each variable the element of ``v`` it is given in (in
    ``used``, which this extends), cast to the type of its place."""
    parts, last = [], 0
    for match, kind in zip(_VARIABLE.finditer(statement), types, strict=True):
        name = match.group(1)
        if name not in used:
            used.append(name)
        parts += [statement[last : match.start()], f"($1[{used.index(name) + 1}]::{kind})"]
        last = match.end()
    return "".join([*parts, statement[last:]])


def build(url: str, replay: Replay) -> Trip:
    """Each transaction of ``replay`` as a SQL function taking the transaction's
    variables; the script calls them in turn, after the payer's row."""
    functions = []
    calls = []
    with psycopg.connect(url, autocommit=True) as conn:
        for k, group in enumerate(transactions(replay.sql)):
            body = []
            used: list[str] = []
            for statement in group:
                body.append(_as_arguments(statement, _typed(conn, statement), used))
            function = f"bench_trip_{replay.path}_{k}"
            functions.append(
                f"CREATE OR REPLACE FUNCTION {function}(text[]) RETURNS void "
                f"LANGUAGE sql AS $trip$\n" + ";\n".join(body) + ";\n$trip$"
            )
            calls.append(
                f"SELECT {function}(ARRAY[{', '.join(f':{n}::text' for n in used)}]::text[]);"
            )
    head = replay.script.splitlines()[:4]
    return Trip(script="\n".join(head + calls) + "\n", functions=functions)


def install(url: str, trip: Trip) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for ddl in trip.functions:
            conn.execute(ddl)


def as_replay(replay: Replay, trip: Trip, *, span: int) -> Replay:
    """``replay`` running ``trip``'s script, its table as it is and its unique numbers
    past those the replay itself used (half of its ``span`` on)."""
    base = str(int(replay.defines["base"]) + span // 2)
    return replace(replay, script=trip.script, defines=replay.defines | {"base": base})
