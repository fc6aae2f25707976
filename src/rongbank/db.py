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
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Pool, TextClause, create_engine, event, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from rongbank import metrics

logger = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]

_DRIVER = "rongbank.driver_connection"
"""``session.info`` key of the session's transaction and the psycopg connection it
runs on (:func:`driver_connection`)."""

_LATER: weakref.WeakKeyDictionary[psycopg.Connection[Any], list[tuple[str, Any]]] = (
    weakref.WeakKeyDictionary()
)
"""The writes queued by :func:`run_later` on each connection and not yet sent."""

_AFTER_COMMIT = "rongbank.after_commit"
"""``session.info`` key of the hooks queued by :func:`after_commit`: pairs of the
savepoint open when each was queued (None: none) and the hook."""


def sqlalchemy_url(url: str) -> str:
    """Use the psycopg 3 driver whatever form of PostgreSQL URL was given. A libpq
    multi-host URL (``postgresql://u@h1:5432,h2:5432/db?target_session_attrs=
    read-write``: whichever member is the primary) is written in SQLAlchemy's form
    of it, one ``host=`` query parameter each, which it hands to libpq as before."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + _hosts_as_query(url[len(prefix) :])
    raise ValueError("RONGBANK_DATABASE_URL must be a postgresql:// URL")


def _hosts_as_query(rest: str) -> str:
    """``user@h1:p1,h2:p2/db?x=y`` as ``user@/db?host=h1:p1&host=h2:p2&x=y``."""
    authority, _, path = rest.partition("/")
    user, at, hosts = authority.rpartition("@")
    if "," not in hosts:
        return rest
    database, question, query = path.partition("?")
    pairs = "&".join(f"host={quote(h, safe='')}" for h in hosts.split(","))
    return f"{user}{at}/{database}?{pairs}" + (f"&{query}" if question and query else "")


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
    # The dialect's arguments, not the URL: libpq reads one ``host=`` of a URL, and a
    # multi-host one has several (``sqlalchemy_url``).
    _, params = engine.dialect.create_connect_args(engine.url)
    return psycopg.connect(**params, autocommit=True)


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
            _send_later(session, commit=isinstance(factory.kw.get("bind"), Engine))
            session.commit()
        except BaseException:
            # A lost connection fails the rollback too, and SQLAlchemy then empties
            # the whole pool (every connection to a lost primary is dead): the next
            # request connects afresh, to the new primary. No pre-ping for that: it
            # would cost every request a round trip.
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


_LOST_STATES = frozenset({"25006", "57P01", "57P02", "57P03"})
"""Beside class 08 (connection exceptions): a read-only transaction (the server is
a replica now), the server shutting down or crashed, not accepting connections."""


def connection_lost(error: BaseException) -> bool:
    """Whether ``error`` says that the database went away under the request (its
    primary was lost, or what it connected to is a replica now), rather than refused
    what the request asked. Its outcome is unknown: it may have committed just
    before the answer was lost. A client sends the same request again with the same
    idempotency key, which makes the retry safe (``rongbank.idempotency``)."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        if error.orig is None:
            return False
        return connection_lost(error.orig)
    if not isinstance(error, psycopg.Error):
        return False
    state = error.sqlstate
    if state is None:  # raised by libpq itself: the connection closed, or none could open
        return isinstance(error, psycopg.OperationalError)
    return state.startswith("08") or state in _LOST_STATES


def after_commit(session: Session, hook: Callable[[], object]) -> None:
    """Run ``hook`` once the unit of work of ``session`` has committed; never if it
    rolls back, nor if the savepoint open now (``session.begin_nested()``) does.
    Costs nothing in the database: for announcing what is already durable."""
    session.info.setdefault(_AFTER_COMMIT, []).append((session.get_nested_transaction(), hook))


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_hooks(session: Session, rolled_back: SessionTransaction) -> None:
    """A savepoint rolled back takes the hooks queued inside it (or inside savepoints
    within it) along; the unit of work drops the rest when it rolls back."""
    hooks = session.info.get(_AFTER_COMMIT)
    if hooks and rolled_back.nested:
        session.info[_AFTER_COMMIT] = [
            (savepoint, hook) for savepoint, hook in hooks if not _within(savepoint, rolled_back)
        ]


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
    session again for each statement of a money path cost 8 us of CPU each. The
    writes queued by :func:`run_later` are sent first (what is run on it sees them)."""
    conn = _driver(session)
    if conn in _LATER:
        _send_queued(conn)
    return conn


def _driver(session: Session) -> psycopg.Connection[Any]:
    # Keyed by the innermost transaction: a savepoint (``begin_nested``) is made on the
    # database only when the session is asked for its connection inside it, so one
    # found before would run what comes next outside the savepoint.
    transaction = session.get_nested_transaction() or session.get_transaction()
    known = session.info.get(_DRIVER)
    # None: :func:`autocommit`'s connection, before anything began a transaction.
    if known is not None and known[0] is transaction:
        found: psycopg.Connection[Any] = known[1]
        return found
    conn = session.connection().connection.driver_connection
    assert isinstance(conn, psycopg.Connection)
    session.info[_DRIVER] = (session.get_nested_transaction() or session.get_transaction(), conn)
    return conn


# -- writes that wait for the next round trip --------------------------------------------
#
# A write whose answer nobody reads (a usage count, an outbox event, an audit row) need
# not cost a round trip of its own: :func:`run_later` queues it on the connection, and
# it goes before whatever is sent next in the transaction, in the same round trip (the
# next :func:`run` or :func:`pipeline`, the unit of work's COMMIT), or in a round trip of
# its own before anything else reaches the connection (a SQLAlchemy statement, a
# savepoint, a commit: the events below; the driver connection: ``driver_connection``,
# ``queue_commit``).
# So the database sees the statements in the order they were written, and a rollback
# (of the transaction, or to a savepoint made after the write was queued, whose
# ``SAVEPOINT`` sent it) takes them as it would have. What the database refuses of one
# is raised by the statement it went with.


def run_later(session: Session, sql: str, params: dict[str, Any] | None = None) -> None:
    """:func:`run` a write whose result is not read, with the transaction's next round
    trip (at once outside a transaction: in autocommit)."""
    conn = _driver(session)
    if conn.autocommit or conn.pgconn.pipeline_status:  # nothing to wait for
        run(session, sql, params)
        return
    _LATER.setdefault(conn, []).append((sql, params))


def _send_queued(conn: psycopg.Connection[Any], *, commit: bool = False) -> None:
    """Send the queued writes (and a ``COMMIT``) in one round trip."""
    try:
        with conn.pipeline():
            _queue_later(conn)
            if commit:
                conn.execute("COMMIT")
    except psycopg.Error as error:
        raise _as_session_error(error, None, None) from error


def _queue_later(conn: psycopg.Connection[Any]) -> None:
    """Inside a pipeline: queue the writes queued by :func:`run_later`."""
    later = _LATER.pop(conn, None)
    if later:
        cursor = conn.cursor()
        for sql, params in later:
            cursor.execute(sql, params)


def _send_later(session: Session, *, commit: bool) -> None:
    """At the unit of work's end: the queued writes, and with ``commit`` the COMMIT in
    their round trip (the session's own commit then finds nothing to do)."""
    known = session.info.get(_DRIVER)
    if known is None or known[1] not in _LATER:
        return
    session.flush()  # the ORM's pending work first, inside the transaction
    _send_queued(known[1], commit=commit)


@event.listens_for(Engine, "before_cursor_execute")
def _send_before_statement(
    conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool
) -> None:
    if cursor.connection in _LATER:
        _send_queued(cursor.connection)


@event.listens_for(Engine, "commit")
def _send_before_commit(conn: Any) -> None:
    driver = conn.connection.driver_connection
    if driver in _LATER:
        _send_queued(driver)


@event.listens_for(Engine, "savepoint")
@event.listens_for(Engine, "release_savepoint")
def _send_at_savepoint(conn: Any, name: Any, context: Any = None) -> None:
    driver = conn.connection.driver_connection
    if driver in _LATER:
        _send_queued(driver)


@event.listens_for(Engine, "rollback_savepoint")
def _forget_at_savepoint(conn: Any, name: Any, context: Any) -> None:
    """What is queued now was queued inside the savepoint (its ``SAVEPOINT``, and the
    release of any inside it, sent what came before)."""
    _forget(conn)


@event.listens_for(Engine, "rollback")
def _forget_on_rollback(conn: Any) -> None:
    _forget(conn)


def _forget(conn: Any) -> None:
    if not _LATER:
        return
    try:
        driver = conn.connection.driver_connection
    except Exception:  # an invalidated connection: closed, its queue goes with it
        return
    _LATER.pop(driver, None)


@event.listens_for(Pool, "reset")
def _forget_on_reset(dbapi_connection: Any, record: Any, state: Any = None) -> None:
    _LATER.pop(dbapi_connection, None)


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
            # SQLAlchemy's begin, commit and rollback cost nothing in autocommit; its
            # session transaction is not begun at all for :func:`run`'s statements,
            # which go straight to the driver (about 20 us of CPU a login check).
            with factory(bind=connection) as session:
                session.info[_DRIVER] = (None, conn)
                try:
                    yield session
                except BaseException:
                    # Begun now, its close rolls back as before: on a lost connection
                    # that is what has SQLAlchemy empty the pool (``unit_of_work``).
                    session.connection()
                    raise
        finally:
            if not conn.closed:
                conn.autocommit = False


def queue_commit(conn: psycopg.Connection[Any]) -> None:
    """Commit in the round trip of the statements queued before, in a pipeline: a
    boundary that knows nothing follows them ends its transaction there, and the
    session's own commit then finds nothing to do. (psycopg's ``commit()`` would
    sync the pipeline itself, and leaving the pipeline costs a second round trip.)
    The writes queued by :func:`run_later` go first."""
    _queue_later(conn)
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
    conn = _driver(session)
    cursor: psycopg.Cursor[tuple[Any, ...]] = conn.cursor()
    try:
        if conn not in _LATER:
            cursor.execute(sql, params)
        elif conn.pgconn.pipeline_status:  # in a pipeline: they go in its round trip
            _queue_later(conn)
            cursor.execute(sql, params)
        else:  # the queued writes go in this statement's round trip
            with conn.pipeline():
                _queue_later(conn)
                cursor.execute(sql, params)
    except psycopg.Error as error:
        raise _as_session_error(error, sql, params) from error
    return cursor


# -- array parameters -----------------------------------------------------------------
#
# psycopg dumps a Python list in Python, element by element, after looking for the
# type of its elements: about 6 us of the API's CPU a list parameter, against nothing
# measurable for a str (tests/support/path_cost). A hot statement takes its arrays as
# PostgreSQL array literals instead, cast where they are used (``CAST(:x AS text[])``).


def text_array(values: Iterable[str | None]) -> str:
    """``values`` as a ``text[]`` literal: each element quoted, its backslashes and
    double quotes escaped, so that any text (spaces, commas, braces, ``NULL``) is
    itself; None is NULL."""
    return "{" + ",".join("NULL" if v is None else '"' + _escaped(v) + '"' for v in values) + "}"


def bytea_array(values: Iterable[bytes]) -> str:
    """``values`` as a ``bytea[]`` literal (each element in bytea's hex form)."""
    return "{" + ",".join('"\\\\x' + v.hex() + '"' for v in values) + "}"


def _escaped(value: str) -> str:
    if "\\" in value or '"' in value:
        return value.replace("\\", "\\\\").replace('"', '\\"')
    return value


@contextmanager
def pipeline(session: Session) -> Iterator[None]:
    """Queue the :func:`run` statements inside to go in one round trip at its end,
    where what the database refused of them is raised (as :func:`run` raises it)."""
    conn = _driver(session)
    try:
        with conn.pipeline():
            _queue_later(conn)
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
