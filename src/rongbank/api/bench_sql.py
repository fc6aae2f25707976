"""What the database sees from this process: psycopg wrapped where statements,
``BEGIN``\\ s and waits for the server pass.

Counted in the client (so that what bypasses SQLAlchemy, the ledger's and the login
check's driver-level statements, is counted too):

- statements: what the application sent, ``BEGIN``/``COMMIT``/``ROLLBACK`` apart;
- transactions: the ``BEGIN``\\ s psycopg sent;
- round trips: the times the client waited for the server's answer (a statement
  outside a pipeline, a pipeline's sync, a fetch that flushes one).

With ``keep_steps``, each statement is also kept as the server receives it (``$n``
placeholders, every parameter as text, its type), and each ``BEGIN`` and ``COMMIT``
in its place: what :mod:`rongbank.api.bench_floor` replays with pgbench.
``tests/support/path_cost.py`` and ``tests/test_path_costs.py`` count with it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import psycopg
from psycopg import _connection_base, _cursor_base, _pipeline_base, sql
from psycopg._queries import PostgresQuery
from psycopg.adapt import Transformer

BEGIN = "BEGIN"
COMMIT = "COMMIT"


@dataclass(frozen=True, slots=True)
class Step:
    """A statement as the server gets it: ``query`` with ``$1``..``$n``, each
    parameter's text (None: NULL) and type oid (0: left to the server), or a
    transaction's ``BEGIN``/``COMMIT`` (no parameters)."""

    query: str
    params: tuple[str | None, ...] = ()
    types: tuple[int, ...] = ()


@dataclass
class Tally:
    statements: int = 0
    transactions: int = 0
    round_trips: int = 0
    texts: list[str] = field(default_factory=list)
    """The statements, in order (with ``keep_texts``)."""
    keep_texts: bool = False
    steps: list[Step] = field(default_factory=list)
    """The statements as sent and the transactions' bounds, in order (with ``keep_steps``)."""
    keep_steps: bool = False

    def __sub__(self, other: Tally) -> Tally:
        return Tally(
            self.statements - other.statements,
            self.transactions - other.transactions,
            self.round_trips - other.round_trips,
        )


_COMMANDS = {b"BEGIN", b"COMMIT", b"ROLLBACK"}
_PLACEHOLDER = re.compile(r"%(\(\w+\))?[sb]")
_active: Tally | None = None
_lock = threading.Lock()
_sending = threading.local()
"""Where this thread's statement being sent was kept: psycopg begins a transaction
inside ``execute``, after the statement was noted, so its ``BEGIN`` goes before it."""


def _text(query: Any) -> str:
    if isinstance(query, bytes):
        return query.decode()
    return str(query) if isinstance(query, str) else repr(query)


def _as_sent(cursor: Any, query: Any, params: Any) -> Step:
    """``query`` and ``params`` converted as psycopg converts them, every parameter
    dumped as text (the binary ones too: pgbench sends text)."""
    if isinstance(query, sql.Composable):
        query = query.as_string(cursor.connection)
    source = _text(query)
    if params is None:
        return Step(source.strip())
    converted = PostgresQuery(Transformer(cursor.connection))
    converted.convert(_PLACEHOLDER.sub(lambda m: f"%{m.group(1) or ''}t", source), params)
    values = tuple(None if p is None else bytes(p).decode() for p in converted.params or ())
    return Step(converted.query.decode().strip(), values, tuple(converted.types))


def _note_statement(cursor: Any, query: Any, params: Any, *, counted: bool = True) -> None:
    tally = _active
    if tally is None:
        return
    sql_text = _text(query).strip()
    if sql_text.upper().encode() in _COMMANDS:
        # queue_commit's COMMIT: the end of a transaction, not a statement
        if tally.keep_steps:
            with _lock:
                tally.steps.append(Step(sql_text.upper()))
        return
    step = _as_sent(cursor, query, params) if tally.keep_steps else None
    with _lock:
        tally.statements += counted
        if tally.keep_texts and counted:
            tally.texts.append(sql_text)
        if step is not None:
            _sending.at = len(tally.steps)
            tally.steps.append(step)


def _note_command(command: Any) -> None:
    tally = _active
    if tally is None:
        return
    word = _text(command).strip().upper()
    with _lock:
        if word.startswith(BEGIN):
            tally.transactions += 1
        if tally.keep_steps and word.split(" ")[0] in (BEGIN, COMMIT, "ROLLBACK"):
            at = getattr(_sending, "at", None)
            tally.steps.insert(len(tally.steps) if at is None else at, Step(word))


def _note_round_trip() -> None:
    tally = _active
    if tally is not None:
        with _lock:
            tally.round_trips += 1


@contextmanager
def _patched() -> Iterator[None]:
    """Wrap psycopg where statements, BEGINs and waits for the server pass."""
    originals: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, wrapper: Any) -> None:
        originals.append((owner, name, getattr(owner, name)))
        setattr(owner, name, wrapper)

    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    @wraps(execute)
    def counted_execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        _note_statement(self, query, params)
        try:
            return execute(self, query, params, **kwargs)
        finally:
            _sending.at = None

    @wraps(executemany)
    def counted_executemany(self: Any, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        # One statement counted; each row kept as a step (a pipeline sends each).
        rows = list(params_seq)
        first = None
        for i, params in enumerate(rows if _active is not None and _active.keep_steps else [None]):
            _note_statement(self, query, params, counted=i == 0)
            first = getattr(_sending, "at", None) if i == 0 else first
        _sending.at = first
        try:
            return executemany(self, query, rows, **kwargs)
        finally:
            _sending.at = None

    exec_command = _connection_base.BaseConnection._exec_command

    def counted_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        _note_command(command)
        return exec_command(self, command, *args, **kwargs)

    def counted_wait(original: Callable[..., Any]) -> Callable[..., Any]:
        def wait(*args: Any, **kwargs: Any) -> Any:
            _note_round_trip()
            return (yield from original(*args, **kwargs))

        return wait

    fetch_gen = _pipeline_base.BasePipeline._fetch_gen

    def counted_fetch(self: Any, *, flush: bool) -> Any:
        if self.result_queue:  # results to wait for: the server's answer
            _note_round_trip()
        return (yield from fetch_gen(self, flush=flush))

    patch(psycopg.Cursor, "execute", counted_execute)
    patch(psycopg.Cursor, "executemany", counted_executemany)
    patch(_connection_base.BaseConnection, "_exec_command", counted_command)
    # Outside a pipeline a statement is sent and its result awaited by ``execute``.
    patch(_cursor_base, "execute", counted_wait(getattr(_cursor_base, "execute")))  # noqa: B009
    generators = getattr(_connection_base, "generators")  # noqa: B009
    patch(generators, "execute", counted_wait(generators.execute))
    patch(_pipeline_base.BasePipeline, "_fetch_gen", counted_fetch)
    try:
        yield
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


@contextmanager
def counting(*, keep_texts: bool = False, keep_steps: bool = False) -> Iterator[Tally]:
    """Count what the database sees from this process inside the block."""
    global _active
    tally = Tally(keep_texts=keep_texts, keep_steps=keep_steps)
    with _patched():
        _active = tally
        try:
            yield tally
        finally:
            _active = None
