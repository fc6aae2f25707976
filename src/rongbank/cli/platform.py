"""What every command runs on: the settings for a data dir, the database (embedded
unless ``RONGBANK_DATABASE_URL`` is set), the persistent secrets, and the
:class:`~rongbank.platform.Platform` over them. Public, so that each domain's
commands (``payments/cli.py``, ``wealth/cli.py``) open the platform as the
``rongbank`` command does, without importing the command itself."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from rongbank.db import migrate as run_migrations
from rongbank.embedded import EmbeddedPostgres
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings

DataDir = Annotated[
    Path | None,
    typer.Option(help="Where the embedded PostgreSQL keeps its data (default: user data dir)."),
]


def settings_for(data_dir: Path | None) -> Settings:
    settings = get_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir.expanduser().resolve()})
    return settings


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The database URL: ``RONGBANK_DATABASE_URL`` if set, else the embedded server
    (started here, stopped when the block ends), migrated to the latest schema."""
    if settings.database_url:
        run_migrations(settings.database_url)
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir, archive_dir=wal_archive(settings))
    url = server.start()
    try:
        run_migrations(url)
        yield url
    finally:
        server.stop()


def wal_archive(settings: Settings) -> Path | None:
    """Where the embedded server archives its WAL (``rongbank.ops.backup``); None: it
    does not (an external server archives as its operators set it up)."""
    if settings.database_url or not settings.wal_archive:
        return None
    return settings.data_dir / "wal-archive"


def _secret(
    settings: Settings, given: SecretStr | None, name: str
) -> tuple[SecretStr, Path | None]:
    """A secret from the settings, or generated once into the data dir (mode 0600)."""
    if given is not None:
        return given, None
    path = settings.data_dir / name
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return SecretStr(path.read_text().strip()), path


def with_secrets(settings: Settings) -> tuple[Settings, Path | None]:
    """Settings with the operator token, the card-hash key and the tool key filled
    in; also the token's file, to tell the operator where it is."""
    token, token_path = _secret(settings, settings.operator_token, "operator-token")
    card_key, _ = _secret(settings, settings.card_hash_key, "card-hash-key")
    tool_key, _ = _secret(settings, settings.tool_key, "tool-key")
    payments_key, _ = _secret(settings, settings.payments_key, "payments-key")
    pii_key, _ = _secret(settings, settings.pii_key, "pii-key")
    pii_hash_key, _ = _secret(settings, settings.pii_hash_key, "pii-hash-key")
    return settings.model_copy(
        update={
            "operator_token": token,
            "card_hash_key": card_key,
            "tool_key": tool_key,
            "payments_key": payments_key,
            "pii_key": pii_key,
            "pii_hash_key": pii_hash_key,
        }
    ), token_path


@contextmanager
def open_platform(data_dir: Path | None) -> Iterator[Platform]:
    """The platform of a one-off command: no group commit, no background jobs."""
    settings, _ = with_secrets(settings_for(data_dir))
    with database(settings) as url:
        platform = Platform.connect(url, settings, group_commit=False)
        try:
            with platform.transaction() as session:  # e-Pay's settlement leaves it
                platform.mall_orders.find_clearing(session)
            yield platform
        finally:
            platform.close()


def audit_head_line(platform: Platform) -> str:
    """The line each end-of-day report ends with: the audit chain's head once what is
    not sealed yet is sealed. Kept with the report, it finds the removal of the newest
    audit rows, which leaves the rest of the chain intact (``rongbank audit verify
    --head``)."""
    with platform.transaction() as session:
        platform.audit.seal(session)
    with platform.transaction() as session:
        head = platform.audit.head(session)
    if head is None:
        return "Audit chain head: nothing sealed yet."
    return f"Audit chain head: {head} (check later: rongbank audit verify --head {head})"
