"""What the risk cases' API takes and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from rongbank.inputs import Id, Input, NonBlank
from rongbank.money import format_amount
from rongbank.risk.cases.questions import Question
from rongbank.risk.cases.service import Alert, Case, CaseDetail, Note, QueueItem

CNY_SCALE = 2

NoteText = Annotated[NonBlank, Field(max_length=2000)]
Outcome = Literal["fraud", "genuine", "suspicious", "no_action"]


def yuan(fen: int | None) -> str | None:
    return None if fen is None else format_amount(fen, scale=CNY_SCALE)


class RiskNoteIn(Input):
    body: NoteText


class RiskDecideIn(Input):
    outcome: Outcome
    note: NoteText


class RiskConfirmIn(Input):
    note: NoteText


class RiskAssignIn(Input):
    staff_id: Id | None
    """The risk analyst to give the case to; null puts it back in the queue."""


class RiskAnswerIn(Input):
    answer: Literal["yes", "no"]
    """``yes``: I made this payment; ``no``: I did not."""
    challenge_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """A ``yes`` is confirmed like a security change: the challenge the first try
    opened, with the code sent to the registered mobile."""
    response: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class RiskCaseOut(BaseModel):
    id: int
    customer_id: int
    status: str
    assigned_to: int | None
    customer_denied: bool
    proposed_outcome: str | None
    proposed_by: int | None
    outcome: str | None
    decided_by: int | None
    frozen: dict[str, Any]
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, case: Case) -> RiskCaseOut:
        return cls(**{f: getattr(case, f) for f in cls.model_fields})


class RiskAlertOut(BaseModel):
    id: int
    source: str
    source_ref: str
    customer_id: int
    action: str
    score: float | None
    reasons: list[str]
    amount: str | None
    hold_ref: str | None
    features: dict[str, Any]
    case_id: int
    status: str
    outcome: str | None
    raised_at: datetime

    @classmethod
    def of(cls, alert: Alert) -> RiskAlertOut:
        fields = {f: getattr(alert, f) for f in cls.model_fields}
        return cls(**{**fields, "amount": yuan(alert.amount)})


class RiskQueueItemOut(BaseModel):
    case: RiskCaseOut
    customer_name: str
    alerts: int
    open_alerts: int
    top_score: float | None
    held: str
    last_alert_at: datetime | None

    @classmethod
    def of(cls, item: QueueItem) -> RiskQueueItemOut:
        return cls(
            case=RiskCaseOut.of(item.case),
            customer_name=item.customer_name,
            alerts=item.alerts,
            open_alerts=item.open_alerts,
            top_score=item.top_score,
            held=format_amount(item.held, scale=CNY_SCALE),
            last_alert_at=item.last_alert_at,
        )


class RiskNoteOut(BaseModel):
    id: int
    staff_id: int | None
    staff_name: str | None
    body: str
    at: datetime

    @classmethod
    def of(cls, note: Note) -> RiskNoteOut:
        return cls(**{f: getattr(note, f) for f in cls.model_fields})


class RiskMovementOut(BaseModel):
    at: datetime
    account: str
    amount: str
    description: str
    memo: str
    """The bank's own name of it (a key of ``BANK_MEMOS``); "" when described."""
    status: str


class RiskCaseDetailOut(BaseModel):
    case: RiskCaseOut
    customer_name: str
    alerts: list[RiskAlertOut]
    notes: list[RiskNoteOut]
    movements: list[RiskMovementOut]
    """The customer's latest movements, newest first."""

    @classmethod
    def of(cls, detail: CaseDetail, movements: list[RiskMovementOut]) -> RiskCaseDetailOut:
        return cls(
            case=RiskCaseOut.of(detail.case),
            customer_name=detail.customer_name,
            alerts=[RiskAlertOut.of(a) for a in detail.alerts],
            notes=[RiskNoteOut.of(n) for n in detail.notes],
            movements=movements,
        )


class RiskDecidedOut(BaseModel):
    case: RiskCaseOut
    final: bool
    """False: the decision waits for a second analyst's confirmation."""
    frozen: dict[str, list[str]]


class RiskQuestionOut(BaseModel):
    id: int
    status: str
    amount: str | None
    asked_at: datetime
    answered_at: datetime | None

    @classmethod
    def of(cls, q: Question) -> RiskQuestionOut:
        return cls(
            id=q.id,
            status=q.status,
            amount=yuan(q.amount),
            asked_at=q.asked_at,
            answered_at=q.answered_at,
        )
