"""Ledger histories for the AML batch: customers registered as the bank registers
them, money moved between them and the bank's channels at instants the test sets."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import EAccount
from rongbank.clock import BUSINESS_TIME_ZONE, Clock, FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform
from rongbank.risk.aml.batch import AmlBatch, AmlRun
from rongbank.risk.aml.config import load_config
from tests.factories.identity import resident_id
from tests.factories.liquidity import Books

YUAN = 100
_ids = itertools.count(1)


class History(Books):
    """:class:`Books` with the channels AML classes (clearing, cash, cross-border,
    interest) and transfers that return their ledger entry."""

    def __init__(self, platform: Platform, session: Session, clock: Clock) -> None:
        super().__init__(platform, session)
        self.clock = clock

    def send(self, debit: int, credit: int, amount: int) -> int:
        """Move ``amount`` from ``debit`` to ``credit`` now; the entry's id."""
        return self.platform.ledger.transfer(
            self.session,
            Transfer(
                client_id=f"aml:{next(_ids)}",
                debit_account=debit,
                credit_account=credit,
                amount=amount,
                currency="CNY",
            ),
        ).entry_id_or_raise()

    def channel(self, name: str) -> int:
        codes = {
            "clearing": ("bank:clearing:CNY", AccountType.ASSET),
            "cash": ("bank:cash:CNY", AccountType.ASSET),
            "cross_border": ("bank:crossborder:CNY", AccountType.ASSET),
            "interest": ("bank:interest:CNY", AccountType.EXPENSE),
        }
        code, kind = codes[name]
        existing = self.session.execute(
            text("SELECT id FROM ledger_account WHERE code = :code"), {"code": code}
        ).scalar_one_or_none()
        return int(existing) if existing is not None else self.account(code, kind)

    def pay_in(self, account: EAccount, amount: int, via: str = "clearing") -> int:
        return self.send(self.channel(via), account.ledger_account_id, amount)

    def pay_out(self, account: EAccount, amount: int, via: str = "clearing") -> int:
        return self.send(account.ledger_account_id, self.channel(via), amount)

    def between(self, payer: EAccount, payee: EAccount, amount: int) -> int:
        return self.send(payer.ledger_account_id, payee.ledger_account_id, amount)

    def later(self, **delta: float) -> None:
        assert isinstance(self.clock, FrozenClock), "only a frozen clock moves when told"
        self.clock.advance(timedelta(**delta))

    def today(self) -> date:
        return self.clock.now().astimezone(BUSINESS_TIME_ZONE).date()

    def run(self, first: date | None = None, last: date | None = None) -> AmlRun:
        batch = AmlBatch(load_config(), self.clock)
        return batch.run(self.session, first or self.today(), last)

    def findings(self, pattern: str | None = None) -> list[dict[str, object]]:
        rows = self.session.execute(
            text(
                "SELECT id, pattern, day, customer_id, amount, entry_ids, details, "
                "explanation_zh, explanation_en FROM risk_aml_finding "
                "WHERE CAST(:p AS text) IS NULL OR pattern = :p ORDER BY id"
            ),
            {"p": pattern},
        )
        return [dict(r._mapping) for r in rows]

    def reports(self) -> list[dict[str, object]]:
        rows = self.session.execute(
            text(
                "SELECT id, day, customer_id, rule, direction, currency_class, total, "
                "threshold, movements, entry_ids, explanation_zh, explanation_en "
                "FROM risk_aml_report ORDER BY id"
            )
        )
        return [dict(r._mapping) for r in rows]


def foreign_account(history: History, account: EAccount, currency: str) -> int:
    """A deposit account in ``currency`` for ``account``'s customer (the bank opens
    only yuan e-accounts today: written as the accounts service would), and the
    clearing account of that currency; returns the deposit's ledger account."""
    ledger, _ = history.platform.ledger.create_account(
        history.session,
        code=f"dep:{currency}-{account.number}",
        currency=currency,
        type=AccountType.LIABILITY,
    )
    history.session.execute(
        text(
            "INSERT INTO e_account (number, customer_id, class, currency, ledger_account_id, "
            "status, opened_at) VALUES (:n, :c, 2, :cur, :l, 'active', :at)"
        ),
        {
            "n": f"{currency}-{account.number}",
            "c": account.customer_id,
            "cur": currency,
            "l": ledger.id,
            "at": history.clock.now(),
        },
    )
    return ledger.id


def clearing(history: History, currency: str) -> int:
    row, _ = history.platform.ledger.create_account(
        history.session, code=f"bank:clearing:{currency}", currency=currency, type=AccountType.ASSET
    )
    return row.id


def send_foreign(history: History, debit: int, credit: int, amount: int, currency: str) -> int:
    return history.platform.ledger.transfer(
        history.session,
        Transfer(
            client_id=f"aml:{next(_ids)}",
            debit_account=debit,
            credit_account=credit,
            amount=amount,
            currency=currency,
        ),
    ).entry_id_or_raise()


def seed_aml(platform: Platform) -> None:
    """What the AML page shows: a person's 600,000 yuan in and 590,000 out again at
    once (a large-value report each way, a rapid in-and-out finding), run for today."""
    with platform.transaction() as session:
        history = History(platform, session, platform.clock)
        _, person = platform.accounts.register_person(
            session, name="洗某某", mobile="13766660001", resident_id=resident_id(777)
        )
        history.pay_in(person, 600_000 * YUAN)
        if isinstance(platform.clock, FrozenClock):
            history.later(seconds=1)  # out after in, as on a real clock
        history.pay_out(person, 590_000 * YUAN)
        history.run()
