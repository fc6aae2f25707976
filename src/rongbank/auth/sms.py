"""Sending text messages to customers' mobiles.

The bank talks to an SMS operator through :class:`SmsGateway`. Until a real operator
is configured, :class:`FakeSmsGateway` stands in for it: it delivers nothing, and
keeps each message in the ``fake_sms_outbox`` table, where tests and
``rongbank device sms`` read them. It writes in the caller's transaction, so a
challenge that rolls back sends no code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock


class SmsGateway(Protocol):
    def send(self, session: Session, *, mobile: str, body: str) -> None: ...


class FakeSmsGateway:
    """Stands in for the SMS operator: messages go to a table, not to phones."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def send(self, session: Session, *, mobile: str, body: str) -> None:
        session.execute(
            text("INSERT INTO fake_sms_outbox (mobile, body, sent_at) VALUES (:m, :b, :at)"),
            {"m": mobile, "b": body, "at": self.clock.now()},
        )

    @staticmethod
    def outbox(session: Session, mobile: str, *, limit: int = 10) -> list[tuple[datetime, str]]:
        """The newest messages sent to ``mobile``, newest first."""
        rows = session.execute(
            text(
                "SELECT sent_at, body FROM fake_sms_outbox WHERE mobile = :m "
                "ORDER BY id DESC LIMIT :limit"
            ),
            {"m": mobile, "limit": limit},
        ).all()
        return [(row[0], str(row[1])) for row in rows]
