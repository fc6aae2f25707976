"""The fixtures of the LedgerService tests: a ledger over the test's transaction
and protected deposits funded from the bank's asset."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from rongbank.clock import FrozenClock
from rongbank.ledger.service import LedgerService
from tests.ledger.factories import START, create_bank_asset, create_deposit, fund


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def service(clock: FrozenClock) -> LedgerService:
    return LedgerService(clock)


@pytest.fixture
def bank(session: Session) -> int:
    return create_bank_asset(session)


@pytest.fixture
def new_deposit(session: Session, service: LedgerService, bank: int) -> Callable[..., int]:
    """Open a protected deposit and fund it with ``START`` (or ``funds``)."""

    def make(*, funds: int = START, overdraft_limit: int = 0) -> int:
        account_id = create_deposit(session, overdraft_limit=overdraft_limit)
        if funds:
            fund(service, session, source=bank, destination=account_id, amount=funds)
        return account_id

    return make


@pytest.fixture
def alice(new_deposit: Callable[..., int]) -> int:
    return new_deposit()


@pytest.fixture
def bob(new_deposit: Callable[..., int]) -> int:
    return new_deposit()
