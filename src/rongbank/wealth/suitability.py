"""The risk-tolerance assessment (适当性, 《商业银行理财业务监督管理办法》) of wealth
customers: the questionnaire scored and kept, at most so many a Beijing day, and the
check that the bank may sell a product to a customer now. Mixed into
:class:`rongbank.wealth.service.WealthService`, whose purchases check it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService
from rongbank.clock import Clock
from rongbank.db import advisory_lock
from rongbank.wealth import rules
from rongbank.wealth.errors import AssessmentNotFound

if TYPE_CHECKING:
    from rongbank.wealth.service import Product


@dataclass(frozen=True, slots=True)
class Assessment:
    id: int
    customer_id: int
    questionnaire: str
    answers: dict[str, str]
    score: int
    level: int
    assessed_at: datetime
    valid_until: datetime


_ASSESSMENT_COLUMNS = (
    "id, customer_id, questionnaire, answers, score, level, assessed_at, valid_until"
)
_ASSESSMENT = f"{_ASSESSMENT_COLUMNS} FROM wealth_assessment"


class Suitability:
    """The assessments of :class:`WealthService` (its clock, accounts and daily limit)."""

    clock: Clock
    accounts: AccountsService
    assessments_per_day: int

    def assess(
        self, session: Session, *, customer_id: int, answers: Mapping[str, str]
    ) -> Assessment:
        """Score the customer's answers and keep the result (earlier ones stay, as
        history); the newest decides what they may buy until it expires. At most
        ``assessments_per_day`` a Beijing day (:class:`AssessmentTooFrequent`)."""
        scored = rules.score_answers(answers)
        # One assessment of a customer at a time, so two at once cannot both pass
        # the count.
        advisory_lock(session, "wealth_assess", customer_id)
        self.check_can_assess(session, customer_id)
        now = self.clock.now()
        row = session.execute(
            text(
                "INSERT INTO wealth_assessment (customer_id, questionnaire, answers, score, "  # noqa: S608
                "level, assessed_at, valid_until) VALUES (:c, :q, CAST(:a AS jsonb), :s, :l, "
                f":at, :until) RETURNING {_ASSESSMENT_COLUMNS}"
            ),
            {
                "c": customer_id,
                "q": rules.QUESTIONNAIRE_VERSION,
                "a": json.dumps(dict(answers), sort_keys=True),
                "s": scored.score,
                "l": scored.level,
                "at": now,
                "until": rules.valid_until(now),
            },
        ).one()
        return Assessment(*row)

    def check_can_assess(self, session: Session, customer_id: int) -> None:
        """Refuse when the customer has taken today's (Beijing day) assessments
        already; public so that a page can say so before the questionnaire."""
        start, end = self.accounts.business_day_bounds()
        taken = session.execute(
            text(
                "SELECT count(*) FROM wealth_assessment WHERE customer_id = :c "
                "AND assessed_at >= :start AND assessed_at < :end"
            ),
            {"c": customer_id, "start": start, "end": end},
        ).scalar_one()
        rules.check_assessment_allowed(int(taken), limit=self.assessments_per_day, next_day=end)

    def assessments(self, session: Session, customer_id: int) -> list[Assessment]:
        """The customer's assessments, newest first."""
        rows = session.execute(
            text(f"SELECT {_ASSESSMENT} WHERE customer_id = :c ORDER BY assessed_at DESC, id DESC"),
            {"c": customer_id},
        ).all()
        return [Assessment(*row) for row in rows]

    def latest_assessment(self, session: Session, customer_id: int) -> Assessment:
        found = self._latest_assessment(session, customer_id)
        if found is None:
            raise AssessmentNotFound()
        return found

    def check_suitable(self, session: Session, *, customer_id: int, product: Product) -> None:
        """Refuse, with the reason, when the bank may not sell ``product`` to the
        customer now (no valid assessment, or a product above their level). Public
        so that an offer (a chat card) can be checked before it is made."""
        latest = self._latest_assessment(session, customer_id)
        rules.check_suitable(
            product.risk_level,
            customer_level=latest.level if latest else None,
            valid_until=latest.valid_until if latest else None,
            now=self.clock.now(),
        )

    def _latest_assessment(self, session: Session, customer_id: int) -> Assessment | None:
        row = session.execute(
            text(
                f"SELECT {_ASSESSMENT} WHERE customer_id = :c "
                "ORDER BY assessed_at DESC, id DESC LIMIT 1"
            ),
            {"c": customer_id},
        ).first()
        return Assessment(*row) if row else None
