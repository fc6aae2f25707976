"""Alembic environment: the URL comes from the caller (``rongbank.db.migrate``).

Each revision applied is recorded in ``schema_history`` (from migration 0054 on, once
the table exists) with its module's ``serves_older_code``: whether code one release
older still works against it (an *expand* step: a new table, a nullable column, an
index) or not (a *contract* step: it drops or renames what older code uses, or
writes what older code cannot read). Older code cannot read newer migration files, so
its ``/readyz`` decides from these rows whether it may keep serving during a rolling
upgrade. A downgraded revision's row is deleted with it.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import create_engine, pool, text

url = context.config.get_main_option("sqlalchemy.url")
assert url, "rongbank.db.migrate sets sqlalchemy.url"


def record(ctx: MigrationContext, step: MigrationInfo, heads: Any, run_args: Any) -> None:
    """Keep ``schema_history`` in step with the revisions applied (a stamp runs no
    migration, so it records nothing)."""
    connection = ctx.connection
    assert connection is not None
    if step.is_stamp or connection.scalar(text("SELECT to_regclass('schema_history')")) is None:
        return
    if step.is_upgrade:
        script = context.script.get_revision(step.up_revision_ids[0])
        serves = getattr(script.module, "serves_older_code", False) is True if script else False
        connection.execute(
            text(
                "INSERT INTO schema_history (revision, serves_older_code) VALUES (:r, :s) "
                # A revision stamped away and applied again: its latest application.
                "ON CONFLICT (revision) DO UPDATE SET applied_at = clock_timestamp(), "
                "serves_older_code = excluded.serves_older_code"
            ),
            {"r": step.up_revision_id, "s": serves},
        )
    else:
        connection.execute(
            text("DELETE FROM schema_history WHERE revision = :r"), {"r": step.up_revision_id}
        )


engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, transactional_ddl=True, on_version_apply=record)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
