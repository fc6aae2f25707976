"""Test doubles for the credit decision (a scorecard stand-in until the model
pipeline's artefact is wired in, a platform that decides with it), and an
application form that the stand-in scores at grade B."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text

from rongbank.clock import FrozenClock
from rongbank.lending.applications import ApplicationForm
from rongbank.lending.bureau import BureauReport, FakeCreditBureau
from rongbank.lending.centre import CreditCentre
from rongbank.lending.decision import ScoreResult
from rongbank.platform import Platform
from tests.conftest import platform_on
from tests.support.api import ApiCustomer

BANDS = ((573, "A"), (551, "B"), (528, "C"), (505, "D"))
"""The shipped scorecard's grade floors."""


class FakeScorecard:
    """NOT the bank's scorecard: a linear stand-in with the real one's interface
    (``score(features) -> ScoreResult``), so decision tests can steer points. Points
    start at 540, gain with Income and Seniority, lose with Debt and a bureau record;
    ``points`` forces a figure."""

    model_version = "fake-scorecard-1"

    def __init__(self, points: int | None = None) -> None:
        self.points = points
        self.seen: list[Mapping[str, Any]] = []

    def score(self, features: Mapping[str, Any]) -> ScoreResult:
        self.seen.append(dict(features))
        contributions = {
            "Income": (features.get("Income") or 0) / 10,
            "Seniority": 2 * (features.get("Seniority") or 0),
            "Debt": -(features.get("Debt") or 0) / 20,
            "Records": -60 if features.get("Records") == "yes" else 0,
            "Assets": (features.get("Assets") or 0) / 1000,
        }
        points = (
            self.points if self.points is not None else round(540 + sum(contributions.values()))
        )
        grade = next((g for floor, g in BANDS if points >= floor), "E")
        worst = sorted(contributions, key=contributions.__getitem__)[:3]
        return ScoreResult(
            points=points,
            grade=grade,
            probability_bad=round(1 / (1 + 50 * 2 ** ((points - 600) / 20)), 6),
            reasons=worst,
            model_version=self.model_version,
        )


CLEAN = BureauReport(overdue_now=0, overdue_records=0, debt_elsewhere=0)


def decide_with(
    platform: Platform,
    scorer: FakeScorecard | None = None,
    reports: Mapping[str, BureauReport] | None = None,
) -> Platform:
    """``platform``, deciding with :class:`FakeScorecard` (until the model pipeline's
    scorecard ships) and a bureau that finds nothing but ``reports``."""
    platform.credit = CreditCentre(
        platform.clock,
        loans=platform.loans,
        risk=lambda: platform.stepup.risk,
        bureau=StaticBureau(reports if reports is not None else {}),
        scorer=scorer or FakeScorecard(),
        pii=platform.pii,
    )
    return platform


def credit_platform(
    connection: Connection,
    clock: FrozenClock,
    *,
    scorer: FakeScorecard | None = None,
    reports: Mapping[str, BureauReport] | None = None,
) -> Platform:
    """The test platform, deciding with :class:`FakeScorecard` and a bureau that
    finds nothing against anyone but ``reports``' identities."""
    return decide_with(platform_on(connection, clock), scorer, reports)


class StaticBureau(FakeCreditBureau):
    """Finds nothing against anyone but the identities in ``reports``."""

    def __init__(self, reports: Mapping[str, BureauReport]) -> None:
        super().__init__(reports)  # the caller's mapping: a test may add to it later

    def report(self, resident_id: str) -> BureauReport:
        return self.reports.get(resident_id, CLEAN)


FORM = {
    "product": "personal_credit",
    "amount": "50000.00",
    "term_months": 12,
    "method": "equal_instalment",
    "purpose": "consumption",
    "monthly_income": "8000.00",
    "monthly_expenses": "3000.00",
    "employment": "permanent",
    "years_with_employer": 5,
    "housing": "rent",
    "assets": "100000.00",
    "debts": "0.00",
}
"""Scores 568 with the fake scorecard: grade B, limit 120,000 yuan, 7.20% a year."""

SHORT_FORM = {
    k: FORM[k]
    for k in (
        "monthly_income",
        "monthly_expenses",
        "employment",
        "years_with_employer",
        "housing",
        "assets",
        "debts",
    )
}
"""What 逸贷 at checkout asks (the order says what and how much), of :data:`FORM`:
the one short form of the tests, over the API as in the web bank's form."""

STRONG_FORM = ApplicationForm(
    purpose="consumption",
    monthly_income=20_000_00,
    monthly_expenses=3_000_00,
    employment="permanent",
    years_with_employer=10,
    housing="owner",
    assets=500_000_00,
    debts=0,
)
"""An applicant the races' tests approve every time (the service's form, in fen)."""


def apply(customer: ApiCustomer, key: str = "a1", **changes: Any) -> Any:
    return customer.post("/me/lending/applications", {"client_id": key, **FORM, **changes})


def notices(platform: Platform, customer_id: int, kind: str) -> list[dict[str, Any]]:
    """The bodies of the customer's delivered notices of ``kind``, oldest first."""
    platform.deliver_push()
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT m.body FROM chat_push_delivery d JOIN chat_message m "
                "ON m.conversation_id = d.conversation_id AND m.seq = d.seq "
                "WHERE d.customer_id = :c AND d.kind = :k ORDER BY d.id"
            ),
            {"c": customer_id, "k": kind},
        ).all()
    return [json.loads(r[0]) for r in rows]
