"""The credit officers' review queue: applications the decision referred (the
scorecard's grey zone, an amount above the product's review threshold, an elevated
fraud score). An officer approves (the offer is made at the decision's amount and
price) or declines; above ``second_approver_above`` an approval needs a second
officer, another than the first (maker-checker)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.lending import application_errors as errors
from rongbank.lending.applications import Application, Applications, Offer
from rongbank.lending.decision import Decision, Stage
from rongbank.lending.offers import Offers


@dataclass(frozen=True, slots=True)
class Review:
    application_id: int
    customer_id: int
    customer_name: str
    amount: int
    """What approving it lends (the decision's pricing)."""
    reasons: tuple[str, ...]
    needs_second: bool
    status: str
    first_by: int | None
    second_by: int | None
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewDetail:
    review: Review
    application: Application
    form: dict[str, Any]
    stages: list[Stage]

    @property
    def score(self) -> dict[str, Any]:
        return Decision(tuple(self.stages)).score


_REVIEW = (
    "SELECT r.application_id, a.customer_id, c.name, "
    "(SELECT (s.outputs ->> 'amount')::bigint FROM lending_decision_stage s "
    " WHERE s.application_id = a.id AND s.stage = 'pricing'), "
    "r.reasons, r.needs_second, r.status, r.first_by, r.second_by, r.note, r.created_at "
    "FROM lending_review r JOIN lending_application a ON a.id = r.application_id "
    "JOIN customer c ON c.id = a.customer_id "
)


def _review(row: Any) -> Review:
    values = list(row)
    values[4] = tuple(values[4])
    return Review(*values)


class Reviews:
    def __init__(self, clock: Clock, applications: Applications, offers: Offers) -> None:
        self.clock = clock
        self.applications = applications
        self.offers = offers

    def queue(self, session: Session, *, limit: int = 100) -> list[Review]:
        """What waits for an officer, oldest first: open reviews, and approvals that
        wait for a second officer."""
        rows = session.execute(
            text(
                _REVIEW + "WHERE r.status IN ('open', 'approved_once') "
                "ORDER BY r.created_at, r.application_id LIMIT :n"
            ),
            {"n": limit},
        ).all()
        return [_review(row) for row in rows]

    def waiting(self, session: Session) -> int:
        """How many wait for an officer (the console's home page)."""
        return int(
            session.execute(
                text(
                    "SELECT count(*) FROM lending_review WHERE status IN ('open', 'approved_once')"
                )
            ).scalar_one()
        )

    def review(self, session: Session, application_id: int, *, lock: bool = False) -> Review:
        row = session.execute(
            text(_REVIEW + "WHERE r.application_id = :a" + (" FOR UPDATE OF r" if lock else "")),
            {"a": application_id},
        ).first()
        if row is None:
            raise errors.ReviewNotFound()
        return _review(row)

    def detail(self, session: Session, application_id: int) -> ReviewDetail:
        review = self.review(session, application_id)
        form = session.execute(
            text("SELECT form FROM lending_application WHERE id = :a"), {"a": application_id}
        ).scalar_one()
        return ReviewDetail(
            review,
            self.applications.application(session, application_id),
            dict(form),
            self.applications.stages(session, application_id),
        )

    def approve(
        self, session: Session, *, staff_id: int, application_id: int, note: str = ""
    ) -> tuple[Review, Offer | None]:
        """Approve; the offer once the approval is complete (a second officer's, when
        it needs one), else None."""
        review = self.review(session, application_id, lock=True)
        now = self.clock.now()
        if review.status not in ("open", "approved_once"):
            raise errors.ReviewClosed(status=review.status)
        if review.status == "approved_once" and review.first_by == staff_id:
            raise errors.SecondApproverRequired()
        if review.status == "open" and review.needs_second:
            self._set(session, application_id, "approved_once", first=(staff_id, now), note=note)
            return self.review(session, application_id), None
        if review.status == "open":
            self._set(session, application_id, "approved", first=(staff_id, now), note=note)
        else:
            self._set(session, application_id, "approved", second=(staff_id, now), note=note)
        application = self.applications.application(session, application_id)
        priced = Decision(tuple(self.applications.stages(session, application_id))).offer
        self._application_status(session, application_id, "offered")
        offer = self.offers.make(session, application, priced)
        return self.review(session, application_id), offer

    def decline(
        self, session: Session, *, staff_id: int, application_id: int, note: str = ""
    ) -> Review:
        review = self.review(session, application_id, lock=True)
        if review.status not in ("open", "approved_once"):
            raise errors.ReviewClosed(status=review.status)
        now = self.clock.now()
        if review.status == "open":
            self._set(session, application_id, "declined", first=(staff_id, now), note=note)
        else:
            self._set(session, application_id, "declined", second=(staff_id, now), note=note)
        self._application_status(session, application_id, "declined")
        return self.review(session, application_id)

    @staticmethod
    def _application_status(session: Session, application_id: int, status: str) -> None:
        session.execute(
            text("UPDATE lending_application SET status = :s WHERE id = :a"),
            {"s": status, "a": application_id},
        )

    @staticmethod
    def _set(
        session: Session,
        application_id: int,
        status: str,
        *,
        note: str,
        first: tuple[int, datetime] | None = None,
        second: tuple[int, datetime] | None = None,
    ) -> None:
        session.execute(
            text(
                "UPDATE lending_review SET status = :s, note = CASE WHEN :note = '' THEN note "
                "ELSE :note END, first_by = coalesce(:fb, first_by), "
                "first_at = coalesce(:fa, first_at), second_by = coalesce(:sb, second_by), "
                "second_at = coalesce(:sa, second_at) WHERE application_id = :a"
            ),
            {
                "s": status,
                "note": note,
                "fb": first[0] if first else None,
                "fa": first[1] if first else None,
                "sb": second[0] if second else None,
                "sa": second[1] if second else None,
                "a": application_id,
            },
        )
