"""Alerts into cases, as a reader of the outbox (``risk.cases``).

The sources announce alerts and never call into cases: the inline engine and the
AML batch with :class:`~rongbank.risk.events.RiskAlertRaised`, watch-list screening
with :class:`~rongbank.risk.watchlist.events.ScreeningHit`. Each is stored once (by
source and source id), joins its customer's case (``rongbank.risk.cases.service``),
and a payment held for review asks the customer "was this you?"
(``rongbank.risk.cases.questions``), all in the transaction that takes the event off
the queue: an alert is filed exactly once, even with several processes reading.

The alert keeps the features its source scored (the engine's, by the names its rules
use: ``RiskAlertRaised.features``), which the case page shows and the bank's labels
are exported with (``rongbank risk labels export``): a model trained on them reads
what the engine will give it. A source with none (AML, screening) gets a snapshot of
what the cases side can see when it arrives (:data:`FEATURES_SQL`: the customer's
movements in the day before, their account age, the hour, earlier alerts and fraud).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.risk.cases.questions import Questions
from rongbank.risk.events import RiskAlertRaised
from rongbank.risk.watchlist.events import ScreeningHit

READER = outbox.Reader("risk.cases", (RiskAlertRaised, ScreeningHit))
"""The cases' queue in the outbox (a row of ``outbox_reader``)."""

FEATURES_SQL = """
SELECT jsonb_build_object(
  'hour', extract(hour FROM CAST(:at AS timestamptz) AT TIME ZONE 'Asia/Shanghai')::int,
  'account_age_days', (SELECT extract(epoch FROM CAST(:at AS timestamptz) - created_at) / 86400
                       FROM customer WHERE id = :c)::int,
  'movements_24h', coalesce(m.n, 0),
  'out_24h', coalesce(m.out, 0),
  'in_24h', coalesce(m.into, 0),
  'alerts_30d', (SELECT count(*) FROM risk_alert WHERE customer_id = :c
                 AND raised_at > CAST(:at AS timestamptz) - interval '30 days'),
  'fraud_cases_before', (SELECT count(*) FROM risk_case WHERE customer_id = :c
                         AND outcome = 'fraud'))
FROM (SELECT count(*) AS n,
             sum(p.amount) FILTER (WHERE p.amount > 0) AS out,
             -sum(p.amount) FILTER (WHERE p.amount < 0) AS into
      FROM ledger_posting p JOIN e_account e ON e.ledger_account_id = p.account_id
      WHERE e.customer_id = :c AND p.created_at > CAST(:at AS timestamptz) - interval '1 day'
        AND p.created_at <= CAST(:at AS timestamptz)) m
"""
"""A customer's e-account is a liability of the bank: a debit (amount > 0) is money
going out of it."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """An alert as the cases side files it, whatever its source."""

    source: str
    source_ref: str
    customer_id: int
    action: str
    score: float | None
    reasons: list[str]
    amount: int | None
    hold_ref: str | None
    at: datetime
    features: dict[str, Any] | None = None
    """The source's own features; None: the cases side takes its snapshot."""


@dataclass(frozen=True, slots=True)
class Filed:
    events: int
    alerts: int
    questions: int


def incoming(event: outbox.Event) -> Incoming | None:
    if isinstance(event, RiskAlertRaised):
        return Incoming(
            event.source,
            event.source_ref,
            event.customer_id,
            event.action,
            event.score,
            [r.strip() for r in event.reasons.split(",") if r.strip()],
            event.amount,
            event.hold_ref,
            event.occurred_at,
            _features(event.features),
        )
    if isinstance(event, ScreeningHit):
        # Screening scores names 0-100; alerts score 0-1 like the engine.
        return Incoming(
            "screening",
            str(event.hit_id),
            event.customer_id,
            "report",
            event.score / 100,
            [f"watchlist_{event.list_name}", f"{event.subject}_name"],
            None,
            None,
            event.occurred_at,
        )
    return None


def _features(raw: str) -> dict[str, Any] | None:
    """The event's features, when they are a JSON object (else the snapshot is taken:
    an alert is never lost for a malformed extra)."""
    if not raw:
        return None
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


_OPEN_CASE = text(
    "INSERT INTO risk_case (customer_id, opened_at) VALUES (:c, :at) "
    "ON CONFLICT (customer_id) WHERE status IN ('open', 'assigned') DO NOTHING"
)
_CASE_OF = text(
    "SELECT id FROM risk_case WHERE customer_id = :c AND status IN ('open', 'assigned') FOR UPDATE"
)
_ALERT = text(
    "INSERT INTO risk_alert (source, source_ref, customer_id, action, score, reasons, amount, "
    "hold_ref, features, case_id, raised_at) VALUES (:source, :ref, :c, :action, :score, "
    ":reasons, :amount, :hold, CAST(:features AS jsonb), :case, :at) "
    "ON CONFLICT (source, source_ref) DO NOTHING RETURNING id"
)


def file_alert(session: Session, alert: Incoming, questions: Questions) -> bool:
    """Store the alert in its customer's case; True when it is new."""
    if session.execute(
        text("SELECT 1 FROM risk_alert WHERE source = :s AND source_ref = :r"),
        {"s": alert.source, "r": alert.source_ref},
    ).first():
        return False
    session.execute(_OPEN_CASE, {"c": alert.customer_id, "at": alert.at})
    case_id = session.execute(_CASE_OF, {"c": alert.customer_id}).scalar_one()
    features = alert.features
    if features is None:
        features = session.execute(
            text(FEATURES_SQL), {"c": alert.customer_id, "at": alert.at}
        ).scalar_one()
    row = session.execute(
        _ALERT,
        {
            "source": alert.source,
            "ref": alert.source_ref,
            "c": alert.customer_id,
            "action": alert.action,
            "score": alert.score,
            "reasons": alert.reasons,
            "amount": alert.amount,
            "hold": alert.hold_ref,
            "features": json.dumps(features),
            "case": case_id,
            "at": alert.at,
        },
    ).first()
    if row is None:
        return False
    if alert.action == "review" and alert.hold_ref:
        questions.ask(
            session, alert_id=int(row[0]), customer_id=alert.customer_id, amount=alert.amount
        )
    return True


def file_alerts(session: Session, questions: Questions, *, limit: int = 200) -> Filed:
    """File up to ``limit`` events of the reader's queue, in ``session``'s transaction."""
    taken = outbox.take(session, READER, limit=limit)
    alerts = asked = 0
    for each in taken:
        alert = incoming(each.event)
        if alert is not None and file_alert(session, alert, questions):
            alerts += 1
            asked += alert.action == "review" and bool(alert.hold_ref)
    outbox.acknowledge(session, READER, taken)
    return Filed(len(taken), alerts, asked)
