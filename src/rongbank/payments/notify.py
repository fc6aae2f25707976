"""Notifying merchants of their payments: signed, retried until acknowledged.

A notification is queued in the payment's own transaction (``PaymentsService``), so
it exists exactly when the payment does. :func:`deliver_due` then sends what is due:

1. claims due notifications in a short transaction (``FOR UPDATE SKIP LOCKED``, and
   pushes their next attempt a lease ahead, so that two workers never send the same
   one at once and a crashed worker's claim runs out);
2. POSTs each body, with ``Rongbank-Signature: t=<unix time>,v1=<HMAC-SHA256 hex>``
   (see :func:`rongbank.payments.rules.sign`), outside any transaction;
3. records the attempt: a 2xx answer acknowledges it; anything else (an error, a
   timeout) schedules the next try after the back-off of ``rules.NOTIFY_BACKOFF``, and
   after the last one the notification is abandoned (the merchant can still query).

The merchant must treat notifications as "at least once": the body names the order
number and its status, so a duplicate changes nothing on their side.

``Platform.start`` runs :func:`deliver_due` every few seconds; tests call it directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.db import SessionFactory, unit_of_work
from rongbank.payments import rules
from rongbank.payments.service import PaymentsService
from rongbank.payments.urls import PublicPoster

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)


class Poster(Protocol):
    """Sends one notification; returns the HTTP status, raises ``OSError`` when there
    is no answer."""

    def __call__(self, url: str, body: str, headers: dict[str, str]) -> int: ...


@dataclass(frozen=True, slots=True)
class Delivered:
    acknowledged: int = 0
    failed: int = 0


def deliver_due(
    session_factory: SessionFactory,
    payments: PaymentsService,
    clock: Clock,
    *,
    limit: int = 100,
    post: Poster | None = None,
) -> Delivered:
    """Send what is due; ``post`` defaults to a :class:`PublicPoster` that sends only
    to public addresses (unless the payments service allows private ones)."""
    post = post or PublicPoster(
        allow_private=payments.allow_private_urls, resolver=payments.resolver
    )
    now = clock.now()
    with unit_of_work(session_factory) as session:
        rows = session.execute(
            text(
                "SELECT n.id, n.url, n.body, n.attempts, p.merchant_id "
                "FROM payment_notification n JOIN payment p ON p.id = n.payment_id "
                "WHERE n.status = 'pending' AND n.next_attempt_at <= :now "
                "ORDER BY n.next_attempt_at LIMIT :l FOR UPDATE OF n SKIP LOCKED"
            ),
            {"now": now, "l": limit},
        ).all()
        for row in rows:
            session.execute(
                text("UPDATE payment_notification SET next_attempt_at = :t WHERE id = :id"),
                {"t": now + LEASE, "id": row[0]},
            )
        keys = {
            int(row[4]): payments.notify_key(payments.merchant(session, int(row[4])))
            for row in rows
        }
    acknowledged = failed = 0
    for notification_id, url, body, attempts, merchant_id in rows:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Rongbank-Signature": rules.sign(keys[merchant_id], int(now.timestamp()), body),
            "Rongbank-Notification-Id": str(notification_id),
        }
        status: int | None = None
        error = ""
        try:
            status = post(url, body, headers)
        except OSError as exc:  # no answer (refused, timeout, TLS...) or a non-public address
            error = type(exc).__name__
        ok = status is not None and 200 <= status < 300
        with unit_of_work(session_factory) as session:
            _record(session, notification_id, int(attempts) + 1, ok, status, error, clock)
        if ok:
            acknowledged += 1
        else:
            failed += 1
            logger.info("notification %s not acknowledged (%s)", notification_id, status or error)
    return Delivered(acknowledged, failed)


def _record(
    session: Session,
    notification_id: int,
    attempts: int,
    ok: bool,
    status: int | None,
    error: str,
    clock: Clock,
) -> None:
    now = clock.now()
    session.execute(
        text(
            "INSERT INTO payment_notification_attempt (notification_id, at, http_status, "
            "acknowledged, error) VALUES (:n, :at, :s, :ok, :e)"
        ),
        {"n": notification_id, "at": now, "s": status, "ok": ok, "e": error},
    )
    wait = None if ok else rules.next_attempt_after(attempts)
    session.execute(
        text(
            "UPDATE payment_notification SET attempts = :a, status = :st, "
            "delivered_at = CASE WHEN :ok THEN CAST(:now AS timestamptz) END, "
            "next_attempt_at = :next WHERE id = :id"
        ),
        {
            "a": attempts,
            "st": "delivered" if ok else ("pending" if wait is not None else "abandoned"),
            "ok": ok,
            "now": now,
            "next": now + (wait or timedelta()),
            "id": notification_id,
        },
    )
