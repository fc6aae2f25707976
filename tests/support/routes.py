"""The application as its routes and its OpenAPI document, built without a bank
behind it: for the tests that read what is served, not what it answers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from fastapi import FastAPI

from rongbank.api.app import create_app
from rongbank.platform import Platform
from rongbank.settings import Settings


def routes_only() -> FastAPI:
    """The app over a platform that is never started; its settings ask for nothing
    optional (no traces), so building the app reads nothing else of it."""
    return create_app(cast(Platform, SimpleNamespace(settings=Settings(), engine=None)))
