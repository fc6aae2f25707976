"""The money paths' outbox for event notices (money received, payment made...).

A money path calls :func:`record_event` in its own transaction: one row in
``chat_push_delivery``, which exists exactly when the movement commits, and which
the push job (:meth:`rongbank.chat.push.PushService.deliver`) turns into a notice
afterwards. So a notice never slows a payment by more than one insert, never
delays it on chat's locks, and can never make it fail: the insert runs in a
savepoint, and should it fail, the payment goes on without its notice (logged).
This module imports nothing of chat's services, so that any domain may call it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


def record_event(
    session: Session,
    *,
    customer_id: int,
    kind: str,
    key: str,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    """Queue an event notice for ``customer_id``, once per ``key`` (a retry of the
    same movement records nothing new). ``payload`` holds the facts the notice
    shows: ``amount`` in minor units, ``currency``, names, account tails."""
    try:
        with session.begin_nested():
            session.execute(
                text(
                    "INSERT INTO chat_push_delivery (customer_id, kind, event_key, payload, "
                    "created_at) VALUES (:c, :k, :key, CAST(:p AS jsonb), :at) "
                    "ON CONFLICT (event_key) DO NOTHING"
                ),
                {
                    "c": customer_id,
                    "k": kind,
                    "key": key,
                    "p": json.dumps(payload, ensure_ascii=False),
                    "at": at,
                },
            )
    except SQLAlchemyError:
        # The movement matters, its notice does not: never fail a payment for it.
        logger.exception("event notice %s not recorded", kind)
