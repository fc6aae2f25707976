"""Payments the fraud engine decides (and records) as it decides them, and the
verdicts closed cases give them: the history a rule's backtest and the desk's
performance figures read."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import text

from rongbank.accounts.service import EAccount
from rongbank.auth.tools import PaymentRequest
from rongbank.platform import Platform
from tests.factories.identity import resident_id
from tests.support.risk import raise_alert

_keys = itertools.count(1)


_people = itertools.count(1)


def payer(platform: Platform, name: str) -> EAccount:
    """A customer with an e-account; born on a day no other test's customers are, so
    that several may share one server."""
    n = next(_people)
    with platform.transaction() as session:
        _, account = platform.accounts.register_person(
            session,
            name=name,
            mobile=f"1370000{n:04d}",
            resident_id=resident_id(n, birth=date(1985, 6, 1)),
        )
    return account


def paid(platform: Platform, who: EAccount, amount: int) -> int:
    """A transfer of ``amount`` fen to a card at another bank, as the engine decides
    it before the money moves; the recorded decision's id."""
    key = f"risk-rules-{next(_keys)}"
    with platform.transaction() as session:
        request = PaymentRequest("transfer", who.number, "6222020000000000001", amount, "CNY", key)
        platform.risk_engine.assess(session, who.customer_id, request)
        return int(
            session.execute(
                text("SELECT id FROM risk_decision WHERE client_id = :k"), {"k": key}
            ).scalar_one()
        )


def judged(
    platform: Platform, decision_id: int, customer_id: int, outcome: str, by: tuple[int, int]
) -> None:
    """The engine's alert on the decision, filed into its customer's case, and the
    case closed with ``outcome`` by one analyst (confirmed by the other where four
    eyes are needed)."""
    raise_alert(platform, customer_id, ref=str(decision_id), hold_ref=None, action="block")
    cases = platform.risk_desk.cases
    with platform.transaction() as session:
        case_id = session.execute(
            text("SELECT case_id FROM risk_alert WHERE source_ref = :r"), {"r": str(decision_id)}
        ).scalar_one()
        cases.take(session, case_id=case_id, staff_id=by[0])
        decided = cases.decide(session, case_id=case_id, staff_id=by[0], outcome=outcome, note="x")
        if not decided.final:
            cases.confirm(session, case_id=case_id, staff_id=by[1], note="同意")
