from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.lending.bureau import BureauReport
from rongbank.platform import Platform
from tests.factories.loans import Borrowers
from tests.factories.people import People
from tests.support.api import ApiCustomer
from tests.support.lending import FakeScorecard, credit_platform


@pytest.fixture
def borrowers(platform: Platform) -> Borrowers:
    return Borrowers(platform)


# -- credit decisions (applications, offers, reviews) ------------------------------


@pytest.fixture
def scorer() -> FakeScorecard:
    return FakeScorecard()


@pytest.fixture
def reports() -> dict[str, BureauReport]:
    return {}


@pytest.fixture
def platform(
    connection: Connection,
    clock: FrozenClock,
    scorer: FakeScorecard,
    reports: dict[str, BureauReport],
) -> Platform:
    return credit_platform(connection, clock, scorer=scorer, reports=reports)


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


@pytest.fixture
def customer(client: TestClient, platform: Platform, people: People) -> ApiCustomer:
    return ApiCustomer(client, platform, people.register())
