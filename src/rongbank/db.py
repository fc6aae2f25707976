"""Database access: engines, the unit of work, migrations.

Services never commit. The boundary (an HTTP request, a CLI command, a batch run)
opens a unit of work, hands its session to services, and commits once at the end;
if anything raises, everything the request wrote is rolled back.

What must happen only once the work is durable (telling connected clients of a
message, waking a job) a service hands to :func:`after_commit`: the unit of work
runs it after its commit and forgets it on rollback, so no boundary has to know
what its services queued, and nothing is announced that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from importlib.resources import files
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, TextClause, create_engine, event, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from rongbank import metrics

logger = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]

_DRIVER = "rongbank.driver_connection"
"""``session.info`` key of the session's transaction and the psycopg connection it
runs on (:func:`driver_connection`)."""

_AFTER_COMMIT = "rongbank.after_commit"
_DEFERRED = "rongbank.deferred_writes"
"""``session.info`` key of the hooks queued by :func:`after_commit`: pairs of the
savepoint open when each was queued (None: none) and the hook."""


def sqlalchemy_url(url: str) -> str:
    """Use the psycopg 3 driver whatever form of PostgreSQL URL was given."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("RONGBANK_DATABASE_URL must be a postgresql:// URL")


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    engine = create_engine(
        sqlalchemy_url(url),
        # A database error's text never carries the statement's values: it is logged,
        # and they may be personal data.
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it would cost a round trip on every request; a dead
        # connection fails its transaction, which the caller retries or reports.
        pool_recycle=3600,
        # psycopg prepares a statement on the server after it has run it this many
        # times; the ledger's hot statements then skip parsing and planning.
        connect_args={"prepare_threshold": 2, "options": "-c plan_cache_mode=force_generic_plan"},
    )
    _count_pool(engine)
    return engine


def _count_pool(engine: Engine) -> None:
    """Keep the pool gauges (``rongbank.metrics``) as connections come and go."""
    in_use, opened = metrics.DB_POOL_IN_USE, metrics.DB_POOL_OPEN
    event.listen(engine, "checkout", lambda *_: in_use.inc())
    event.listen(engine, "checkin", lambda *_: in_use.dec())
    event.listen(engine, "connect", lambda *_: opened.inc())
    event.listen(engine, "close", lambda *_: opened.dec())
    event.listen(engine, "close_detached", lambda *_: opened.dec())


def connect_direct(engine: Engine) -> psycopg.Connection[Any]:
    """A connection of its own to ``engine``'s database, outside its pool, in
    autocommit: for what holds one for as long as the process runs (a listener, a
    session-level lock)."""
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True)


def make_session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: SessionFactory) -> Iterator[Session]:
    """One database transaction: committed if the block finishes, rolled back if it
    raises. The only place outside tests where ``commit`` is called.

    Then, once the session is closed, the hooks queued with :func:`after_commit`
    run in the order they were queued; a rollback drops them. A hook that raises is
    logged and the others still run: the transaction is committed whatever they
    do, so a hook must not be what makes the work count (that goes into the
    transaction, e.g. :mod:`rongbank.outbox`)."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()  # the hooks go with the session
            raise
        hooks: list[tuple[SessionTransaction | None, Callable[[], object]]] = session.info.pop(
            _AFTER_COMMIT, []
        )
    for _, hook in hooks:
        try:
            hook()
        except Exception:
            logger.exception("after-commit hook %s failed; the work stays committed", _name(hook))


def after_commit(session: Session, hook: Callable[[], object]) -> None:
    """Run ``hook`` once the unit of work of ``session`` has committed; never if it
    rolls back, nor if the savepoint open now (``session.begin_nested()``) does.
    Costs nothing in the database: for announcing what is already durable."""
    session.info.setdefault(_AFTER_COMMIT, []).append((session.get_nested_transaction(), hook))


def defer(session: Session, sql: str, params: dict[str, Any]) -> None:
    """Queue a write of a :func:`statement` whose answer nobody waits for, to go in
    the round trip of the transaction's next :func:`pipeline` (ahead of what that
    pipeline queues), or on its own just before the transaction commits: a round
    trip saved, and the row locks it takes held from later in the transaction. Only
    for writes that nothing in the transaction reads back. A savepoint rolled back
    drops what was deferred inside it, as a rollback does the rest."""
    session.info.setdefault(_DEFERRED, []).append((session.get_nested_transaction(), sql, params))


def _send_deferred(session: Session) -> None:
    for _, sql, params in session.info.pop(_DEFERRED, ()):
        run(session, sql, params)


@event.listens_for(Session, "before_commit")
def _write_deferred(session: Session) -> None:
    if session.info.get(_DEFERRED):
        _send_deferred(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_hooks(session: Session, rolled_back: SessionTransaction) -> None:
    """A savepoint rolled back takes the hooks and deferred writes queued inside it
    (or inside savepoints within it) along; the unit of work drops the rest when it
    rolls back."""
    for key in (_AFTER_COMMIT, _DEFERRED):
        queued = session.info.get(key)
        if queued and rolled_back.nested:
            session.info[key] = [q for q in queued if not _within(q[0], rolled_back)]
        elif queued and not rolled_back.nested and key == _DEFERRED:
            del session.info[key]  # the whole transaction: nothing of it is written


def _within(savepoint: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is outer:
            return True
        savepoint = savepoint.parent
    return False


def _name(hook: Callable[[], object]) -> str:
    """What a hook is called in the log: its function, never its arguments (a chat
    event carries the text of a message)."""
    function = hook.func if isinstance(hook, partial) else hook
    return str(getattr(function, "__qualname__", type(function).__name__))


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """The psycopg connection under the session, in the session's transaction: for
    hot paths that queue several statements in one pipeline (one network round trip)
    or skip SQLAlchemy's per-statement work. Found once a transaction: asking the
    session again for each statement of a money path cost 8 us of CPU each."""
    transaction = session.get_transaction()
    known = session.info.get(_DRIVER)
    if known is not None and transaction is not None and known[0] is transaction:
        found: psycopg.Connection[Any] = known[1]
        return found
    conn = session.connection().connection.driver_connection
    assert isinstance(conn, psycopg.Connection)
    session.info[_DRIVER] = (session.get_transaction(), conn)
    return conn


@contextmanager
def autocommit(factory: SessionFactory) -> Iterator[Session]:
    """A session on a pooled connection in autocommit, for reads (or one write) that
    need no transaction around them (a login check: the session, a merchant user):
    each statement is its own transaction, without ``BEGIN`` and ``COMMIT`` round
    trips. Nothing here is rolled back: never for work that must be all or nothing.
    A factory bound to a connection (the tests' rolled-back one) gets a unit of
    work on it instead."""
    engine = factory.kw["bind"]
    if not isinstance(engine, Engine):
        with unit_of_work(factory) as session:
            yield session
        return
    with engine.connect() as connection:
        conn = connection.connection.driver_connection
        assert isinstance(conn, psycopg.Connection)
        conn.autocommit = True
        try:
            # SQLAlchemy's begin, commit and rollback cost nothing in autocommit.
            with factory(bind=connection) as session:
                yield session
        finally:
            if not conn.closed:
                conn.autocommit = False


def queue_commit(conn: psycopg.Connection[Any]) -> None:
    """Commit in the round trip of the statements queued before, in a pipeline: a
    boundary that knows nothing follows them ends its transaction there, and the
    session's own commit then finds nothing to do. (psycopg's ``commit()`` would
    sync the pipeline itself, and leaving the pipeline costs a second round trip.)"""
    conn.execute("COMMIT")


_DRIVER_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]


def driver_sql(statement: TextClause) -> str:
    """A statement written for the session (``:name`` parameters) as psycopg runs it
    (``%(name)s``, a literal ``%`` doubled), so that one statement serves both."""
    return str(statement.compile(dialect=_DRIVER_DIALECT))


def statement(sql: str) -> str:
    """``sql``, written with ``:name`` parameters, as :func:`run` sends it; made once,
    where the statement is declared."""
    return driver_sql(text(sql))


def run(
    session: Session, sql: str, params: dict[str, Any] | None = None
) -> psycopg.Cursor[tuple[Any, ...]]:
    """Run a :func:`statement` in the session's transaction on the driver connection,
    its rows plain tuples: a money path's statements skip SQLAlchemy's work for each
    (about 60 us of CPU against 15 us here, measured with ``tests/support/path_cost``).
    Inside :func:`pipeline` it is only queued, so that the statements queued
    together cost one network round trip; read the cursor after. What the database
    refuses is raised as the session would (SQLAlchemy's ``DBAPIError`` kinds)."""
    cursor: psycopg.Cursor[tuple[Any, ...]] = driver_connection(session).cursor()
    try:
        cursor.execute(sql, params)
    except psycopg.Error as error:
        raise _as_session_error(error, sql, params) from error
    return cursor


@contextmanager
def pipeline(session: Session) -> Iterator[None]:
    """Queue the :func:`run` statements inside to go in one round trip at its end,
    where what the database refused of them is raised (as :func:`run` raises it)."""
    try:
        with driver_connection(session).pipeline():
            if session.info.get(_DEFERRED):
                _send_deferred(session)
            yield
    except psycopg.Error as error:
        raise _as_session_error(error, None, None) from error


def _as_session_error(
    error: psycopg.Error, sql: str | None, params: dict[str, Any] | None
) -> BaseException:
    """The error SQLAlchemy raises for ``error`` (an ``IntegrityError`` for a unique
    violation...), so that callers catch one kind whichever way a statement went."""
    return DBAPIError.instance(sql, params, error, psycopg.Error, hide_parameters=True)


def advisory_key(namespace: str, key: str) -> str:
    """The two arguments of ``pg_advisory_xact_lock(int, int)`` for a lock on ``key``
    (SQL for a bigint: a column, a parameter) within ``namespace`` (SQL for text).

    The namespace is hashed (``hashtext``); the key is folded to 32 bits, its high
    half XOR-ed into its low one, so that keys below 2**32 keep distinct locks (and
    those below 2**31 the ones they always had: processes of the previous version
    still serialise with these) and larger ones share a lock only with keys that
    fold alike. A shared lock only makes two transactions wait for each other; a
    64-bit hash would need the one-key form, whose space the ledger's account locks
    use, and lose the namespace. Code that takes several of these locks in one
    transaction takes them in the order of these two values, so that it cannot
    deadlock whichever keys fold alike."""
    bigint = f"CAST({key} AS bigint)"
    return f"hashtext({namespace}), (({bigint} # ({bigint} >> 32))::bit(32))::int"


_ADVISORY_LOCK = statement(f"SELECT pg_advisory_xact_lock({advisory_key(':namespace', ':key')})")


def advisory_lock(session: Session, namespace: str, key: int) -> None:
    """Hold the lock on ``key`` (any bigint) in ``namespace`` until the transaction
    ends; see :func:`advisory_key`. In a pipeline (:func:`run`), the statements queued
    after it run once it is granted."""
    run(session, _ADVISORY_LOCK, {"namespace": namespace, "key": key})


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("rongbank") / "migrations"))
    # Alembic's ini interpolation treats % specially.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "heads") -> None:
    """Bring the schema up to ``revision`` (all migrations by default)."""
    command.upgrade(alembic_config(url), revision)
