"""A served platform of its own (group commit on, real commits) for the operations
tests, with a metrics token."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.settings import Settings

METRICS_TOKEN = "scrape-me-2026"


@pytest.fixture
def served(
    fresh_db: str, tmp_path: Path, clock: FrozenClock
) -> Iterator[tuple[TestClient, Platform]]:
    keys = ("payments_key", "tool_key", "card_hash_key", "operator_token")
    settings = Settings(
        database_url=fresh_db,
        data_dir=tmp_path,
        metrics_token=SecretStr(METRICS_TOKEN),
        **{k: SecretStr(secrets.token_urlsafe(32)) for k in keys},  # type: ignore[arg-type]
    )
    platform = Platform.connect(fresh_db, settings, clock=clock)
    try:
        with TestClient(create_app(platform, background=False)) as client:
            yield client, platform
    finally:
        platform.close()
