"""A bank's balance sheet built on the ledger as the bank builds it: customers
registered by the accounts service, their money arriving through the clearing
account (as top-ups do), the bank's own capital and securities booked beside."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.identity import (
    credit_code_check_character,
    organisation_code_check_character,
)
from rongbank.accounts.service import EAccount
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform
from rongbank.risk.liquidity.config import load_factors
from rongbank.risk.liquidity.service import LiquidityService
from rongbank.risk.liquidity.simulation import Params, Rails
from tests.factories.identity import resident_id

YUAN = 100
CLEARING = "bank:clearing:CNY"
_numbers = itertools.count(1)
"""Client ids, mobiles and identity numbers unique across every Books of a test run."""


def _credit_code(n: int) -> str:
    """A unified social credit code (GB 32100-2015) with its check character, one per n."""
    organisation = f"M{n:07d}"
    body = f"91350100{organisation}{organisation_code_check_character(organisation)}"
    return body + credit_code_check_character(body)


class Books:
    def __init__(self, platform: Platform, session: Session) -> None:
        self.platform = platform
        self.session = session

    def account(self, code: str, kind: AccountType) -> int:
        row, _ = self.platform.ledger.create_account(
            self.session, code=code, currency="CNY", type=kind
        )
        return row.id

    def move(self, debit: int, credit: int, amount: int) -> None:
        self.platform.ledger.transfer(
            self.session,
            Transfer(
                client_id=f"books:{next(_numbers)}",
                debit_account=debit,
                credit_account=credit,
                amount=amount,
                currency="CNY",
            ),
        )

    def clearing(self) -> int:
        return self.account(CLEARING, AccountType.ASSET)

    def capital(self, amount: int, *, into: str = CLEARING) -> None:
        """The owners' money, held in ``into`` (an asset account of the bank)."""
        equity = self.account("bank:capital", AccountType.EQUITY)
        self.move(self.account(into, AccountType.ASSET), equity, amount)

    def person(self, balance: int = 0) -> EAccount:
        n = next(_numbers)
        _, account = self.platform.accounts.register_person(
            self.session, name="王小明", mobile=f"1370000{n:04d}", resident_id=resident_id(n % 1000)
        )
        self.deposit(account, balance)
        return account

    def enterprise(self, balance: int = 0) -> EAccount:
        n = next(_numbers)
        _, account = self.platform.accounts.register_enterprise(
            self.session,
            name=f"福州某某科技有限公司{n}",
            mobile=f"1360000{n:04d}",
            credit_code=_credit_code(n),
            legal_rep_name="林某",
            legal_rep_id=resident_id(n % 1000),
        )
        self.deposit(account, balance)
        return account

    def deposit(self, account: EAccount, amount: int) -> None:
        """A top-up: the money arrives in the bank's clearing account."""
        if amount:
            self.move(self.clearing(), account.ledger_account_id, amount)

    def withdraw(self, account: EAccount, amount: int) -> None:
        """A withdrawal to a card at another bank: out through clearing."""
        self.move(account.ledger_account_id, self.clearing(), amount)


def seed_liquidity(platform: Platform) -> None:
    """What the risk page shows: today's figures, an outflow alert (as the monitor
    writes it) and a short bank run over the bank's depositors."""
    service = LiquidityService(load_factors(), platform.clock)
    rails = Rails(class_daily={}, tool_daily={}, no_tool_daily=5_000 * YUAN)
    with platform.transaction() as session:
        service.report(session)
        service.simulate(session, Params(intensity=200, days=3, seed=1), rails)
        start = platform.clock.now() - timedelta(minutes=5)
        session.execute(
            text(
                "INSERT INTO risk_liquidity_alert (window_start, window_end, outflow, inflow, "
                "deposits, hqla, threshold, raised_at) VALUES (:s, :e, 1234567, 0, 5000000, "
                "6000000, 'deposits', :e)"
            ),
            {"s": start, "e": start + timedelta(minutes=5)},
        )
