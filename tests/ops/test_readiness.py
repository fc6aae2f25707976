"""``/readyz`` in a rolling upgrade: the new release's migrations are applied first,
then the processes replaced one by one. An old process stays ready while every
revision applied after its own head serves older code (an *expand* step), and goes
out of the balancer at a *contract* step or when its code is newer than the schema.

The newer releases are migration files written here, applied on top of this code's
head through the real migration environment (which records ``schema_history``)."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from rongbank.api import observe
from rongbank.api.observe import migration_heads, readiness_problems
from rongbank.db import SessionFactory, alembic_config, make_engine, make_session_factory

VERSIONS = Path(str(files("rongbank") / "migrations" / "versions"))
(HEAD,) = migration_heads()


@pytest.fixture
def factory(fresh_db: str) -> Iterator[SessionFactory]:
    engine = make_engine(fresh_db, pool_size=1)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def newer_release(tmp_path: Path, url: str, *serves_older_code: bool) -> Config:
    """An Alembic config that also sees migrations after this code's head, one per
    flag (each adds a table), as the next release would ship them."""
    down = HEAD
    for n, serves in enumerate(serves_older_code, start=1):
        revision = f"9{n:03d}_next"
        (tmp_path / f"{revision}.py").write_text(
            "from alembic import op\n"
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
            "branch_labels = None\ndepends_on = None\n"
            f"serves_older_code = {serves!r}\n"
            f"def upgrade():\n    op.execute('CREATE TABLE next_{n} (id int)')\n"
            f"def downgrade():\n    op.execute('DROP TABLE next_{n}')\n"
        )
        down = revision
    config = alembic_config(url)
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", f"{VERSIONS}{os.pathsep}{tmp_path}")
    return config


def history(factory: SessionFactory) -> dict[str, bool]:
    with factory() as session:
        rows = session.execute(text("SELECT revision, serves_older_code FROM schema_history"))
        return {row.revision: row.serves_older_code for row in rows}


def test_the_schema_at_this_codes_head_is_ready(factory: SessionFactory) -> None:
    assert readiness_problems(factory) == []
    assert history(factory) == {"0054_schema_history": True}


def test_a_newer_expand_only_schema_keeps_older_code_ready(
    factory: SessionFactory, fresh_db: str, tmp_path: Path
) -> None:
    command.upgrade(newer_release(tmp_path, fresh_db, True, True), "heads")
    assert history(factory) == {"0054_schema_history": True, "9001_next": True, "9002_next": True}
    assert readiness_problems(factory) == []


def test_a_contract_step_takes_older_code_out(
    factory: SessionFactory, fresh_db: str, tmp_path: Path
) -> None:
    command.upgrade(newer_release(tmp_path, fresh_db, True, False, True), "heads")
    assert readiness_problems(factory) == ["migrations_not_current"]


def test_code_newer_than_the_schema_is_not_ready(factory: SessionFactory, fresh_db: str) -> None:
    """A schema from before ``schema_history``, as this code sees one older install."""
    command.downgrade(alembic_config(fresh_db), "-1")
    assert readiness_problems(factory) == ["migrations_not_current"]


def test_the_next_releases_code_waits_for_its_migrations(
    factory: SessionFactory, fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next release's code (its head 9001_next, an expand step) before and after
    its migrations: out until its own head is applied, even though this schema
    records its history."""
    config = newer_release(tmp_path, fresh_db, True)
    monkeypatch.setattr(observe, "migration_heads", lambda: {"9001_next"})
    known = [*observe.known_revisions(), "9001_next"]
    monkeypatch.setattr(observe, "known_revisions", lambda: known)
    assert readiness_problems(factory) == ["migrations_not_current"]
    command.upgrade(config, "heads")
    assert readiness_problems(factory) == []


def test_a_downgrade_removes_its_history_rows(
    factory: SessionFactory, fresh_db: str, tmp_path: Path
) -> None:
    config = newer_release(tmp_path, fresh_db, True, False)
    command.upgrade(config, "heads")
    command.downgrade(config, HEAD)
    assert history(factory) == {"0054_schema_history": True}
    assert readiness_problems(factory) == []


def test_every_migration_decides_whether_it_serves_older_code() -> None:
    """A module-level ``serves_older_code = True`` or ``False`` in each file: without
    it the environment records False (the safe answer), but the author must decide."""
    undecided = []
    for path in sorted(VERSIONS.glob("*.py")):
        decided = [
            node
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["serves_older_code"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, bool)
        ]
        if len(decided) != 1:
            undecided.append(path.name)
    assert len(list(VERSIONS.glob("*.py"))) > 50
    assert undecided == []
