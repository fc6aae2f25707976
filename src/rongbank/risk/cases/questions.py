""" "Was this you?": a payment held for review asks its customer in 融e联.

When an alert says the money is held (action ``review`` with a ``hold_ref``), the
customer gets a security notice in their notice box (the kind they cannot switch
off) that opens the question (``/risk/questions/{id}`` in the web bank,
``/api/v1/me/risk/questions`` over the API). The question is answered once, only
by the customer concerned:

- **yes** (confirmed like a security change, :meth:`Questions.release_change`: whoever
  holds the session may be the fraudster, and yes releases money): the alert is closed
  as ``genuine`` and ``RiskCaseDecided(outcome="genuine", decided_by=None)`` tells
  the engine to release the hold; a case left with nothing open (and not denied) closes as genuine;
- **no**: the customer's active authentication tools are blocked at once (whoever
  made the payment has them, or their password), the hold is voided
  (``RiskCaseDecided(outcome="fraud")``), and the case goes to the top of the queue
  for an analyst, who confirms the fraud (and freezes the accounts) or not.

An analyst deciding the case first closes the question (``risk_question_answered``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.auth.tools import PaymentRequest, ToolService
from rongbank.chat.notices import SECURITY
from rongbank.chat.push import PushService
from rongbank.clock import Clock
from rongbank.money import format_amount
from rongbank.risk.cases.errors import QuestionAnswered, QuestionNotFound
from rongbank.risk.cases.service import ALERT_COLUMNS, alert_of, settle_alert

CNY_SCALE = 2


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    alert_id: int
    customer_id: int
    status: str
    """``asked``, ``yes``, ``no``, or ``closed`` (the bank decided first)."""
    amount: int | None
    asked_at: datetime
    answered_at: datetime | None


_COLUMNS = "q.id, q.alert_id, q.customer_id, q.status, a.amount, q.asked_at, q.answered_at"


class Questions:
    def __init__(self, clock: Clock, *, push: PushService, tools: ToolService) -> None:
        self.clock = clock
        self.push = push
        self.tools = tools

    def ask(self, session: Session, *, alert_id: int, customer_id: int, amount: int | None) -> int:
        """Send the question to the customer's notice box; its id."""
        now = self.clock.now()
        question_id = int(
            session.execute(
                text(
                    "INSERT INTO risk_question (alert_id, customer_id, asked_at) "
                    "VALUES (:a, :c, :at) RETURNING id"
                ),
                {"a": alert_id, "c": customer_id, "at": now},
            ).scalar_one()
        )
        shown = "" if amount is None else format_amount(amount, scale=CNY_SCALE)
        body = {
            "kind": SECURITY,
            "title": "这笔付款是您本人操作的吗？",
            "text": f"一笔 ¥{shown} 的付款已暂缓，请确认是否为您本人操作。",
            "en": {
                "title": "Was this you?",
                "text": f"A payment of ¥{shown} is on hold: tell us whether you made it.",
            },
            "broadcast_id": None,
            "data": {"event": "risk_question", "risk_question": question_id, "amount": shown},
        }
        box = self.push.notice_box(session, customer_id)
        message = self.push.chat.append(
            session,
            box,
            sender=None,
            client_id=f"risk-question:{question_id}",
            kind="notice",
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        )
        session.execute(
            text("UPDATE risk_question SET conversation_id = :c, seq = :s WHERE id = :id"),
            {"c": box.id, "s": message.seq, "id": question_id},
        )
        return question_id

    def of_customer(self, session: Session, customer_id: int, *, limit: int = 20) -> list[Question]:
        rows = session.execute(
            text(
                f"SELECT {_COLUMNS} FROM risk_question q JOIN risk_alert a ON a.id = q.alert_id "  # noqa: S608
                "WHERE q.customer_id = :c ORDER BY q.id DESC LIMIT :l"
            ),
            {"c": customer_id, "l": limit},
        ).all()
        return [Question(*r) for r in rows]

    def question(
        self, session: Session, question_id: int, *, customer_id: int, lock: bool = False
    ) -> Question:
        row = session.execute(
            text(
                f"SELECT {_COLUMNS} FROM risk_question q JOIN risk_alert a ON a.id = q.alert_id "  # noqa: S608
                "WHERE q.id = :id AND q.customer_id = :c" + (" FOR UPDATE OF q" if lock else "")
            ),
            {"id": question_id, "c": customer_id},
        ).first()
        if row is None:
            raise QuestionNotFound(question_id=question_id)
        return Question(*row)

    def release_change(
        self, session: Session, *, question_id: int, customer_id: int
    ) -> PaymentRequest:
        """What a "yes" is confirmed as (``Platform.confirmed``): releasing this held
        payment, in the words of the SMS, bound to this question. Refused here, before a
        code is sent, when the question is not the customer's or is answered already."""
        question = self.question(session, question_id, customer_id=customer_id)
        if question.status != "asked":
            raise QuestionAnswered(status=question.status)
        shown = "" if question.amount is None else format_amount(question.amount, scale=CNY_SCALE)
        return PaymentRequest.security_change(
            customer_id, f"确认暂缓的 ¥{shown} 付款为本人操作并放行", f"risk-question:{question_id}"
        )

    def answer(
        self, session: Session, *, question_id: int, customer_id: int, mine: bool
    ) -> Question:
        """The customer's answer: ``mine`` (yes, it was me) or not."""
        question = self.question(session, question_id, customer_id=customer_id, lock=True)
        if question.status != "asked":
            raise QuestionAnswered(status=question.status)
        now = self.clock.now()
        row = session.execute(
            text(f"SELECT {ALERT_COLUMNS} FROM risk_alert a WHERE a.id = :id FOR UPDATE"),  # noqa: S608
            {"id": question.alert_id},
        ).one()
        alert = alert_of(row)
        if alert.status != "open":
            raise QuestionAnswered(status=alert.status)
        outcome = "genuine" if mine else "fraud"
        settle_alert(
            session,
            alert,
            outcome=outcome,
            decision_ref=f"answer:{question_id}",
            decided_by=None,
            at=now,
            status="answered",
        )
        if mine:
            # A case left with nothing to look at closes as the customer said.
            session.execute(
                text(
                    "UPDATE risk_case c SET status = 'closed', outcome = 'genuine', "
                    "closed_at = :at WHERE c.id = :id AND c.status IN ('open', 'assigned') "
                    "AND NOT c.customer_denied AND NOT EXISTS (SELECT 1 FROM risk_alert a "
                    "WHERE a.case_id = c.id AND a.status = 'open')"
                ),
                {"id": alert.case_id, "at": now},
            )
        else:
            self.tools.block_all(session, customer_id)
            session.execute(
                text("UPDATE risk_case SET customer_denied = true WHERE id = :id"),
                {"id": alert.case_id},
            )
        row = session.execute(
            text(
                "UPDATE risk_question SET status = :s, answered_at = :at WHERE id = :id "
                "RETURNING id"
            ),
            {"s": "yes" if mine else "no", "at": now, "id": question_id},
        ).one()
        return self.question(session, int(row[0]), customer_id=customer_id)
