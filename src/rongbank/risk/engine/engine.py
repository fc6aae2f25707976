"""The inline fraud engine: every customer money path asks it before it commits.

``Platform.authorised`` calls :meth:`RiskEngine.assess` (the ``RiskCheck`` seam of
``auth.stepup``) in the payment's transaction, before the body moves the money. The
engine reads the payment's features (one statement), weighs the rules in force and
answers with the step-up's :class:`~rongbank.auth.limits.Risk`:

- **allow**: ``Risk.LOW``, the ordinary limits decide;
- **challenge**: ``Risk.ELEVATED``, a tool that binds payee and amount (strength 2+);
- **review**: the money held as a pending ledger transfer (``rongbank.review_hold``)
  and an alert for an analyst, on the paths that can hold (a customer's transfer, an
  e-Pay payment: :data:`HOLDABLE`); elsewhere a challenge at the strongest level;
- **block**: :class:`PaymentBlocked` (403 ``payment_refused_risk``): the transaction
  rolls back whole, and the refusal's own transaction records the decision.

Each decision is a ``risk_decision`` row with its score, reason codes, the rules met
and the features seen (for backtests), written with the features' counters in one
more statement, deferred into the payment's next round trip (``features``). Shadow
rules are recorded and raise a ``shadow`` alert, never acted on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import orjson
from sqlalchemy.orm import Session

from rongbank import outbox, review_hold
from rongbank.auth.limits import Risk, RiskRefused
from rongbank.auth.tools import PaymentRequest
from rongbank.clock import Clock
from rongbank.db import run, statement
from rongbank.risk.engine import features as f
from rongbank.risk.engine import store
from rongbank.risk.engine.device import current_device
from rongbank.risk.engine.rules import Rule, Verdict, evaluate
from rongbank.risk.events import RiskAlertRaised

HOLDABLE = frozenset({"transfer", "merchant_payment"})
"""Purposes whose body makes its ledger transfer pending when asked: a customer's
transfer (``AccountsService.transfer``: the API, the web bank, a chat card) and an
e-Pay payment (``PaymentsService.pay_order``: static QR, order, payment code, the
mall, a chat card). Others turn a review into a challenge at the strongest level:
what they buy (a wealth holding, a trade, a loan repaid) has no held state."""


class Scorer(Protocol):
    """A fraud model over the engine's own features (``rongbank.risk.model``'s
    ``FraudModel``, trained by ``rongbank risk model train`` on them)."""

    def score(self, features: dict[str, float | str | None]) -> float: ...


class PaymentBlocked(RiskRefused):
    """Refused by the engine. The customer is told it was the fraud checks, not
    which rule: that would teach a fraudster the threshold."""

    def __init__(self, record: Callable[[Session], None], reference: int | None = None) -> None:
        super().__init__(reference=reference)
        self.record = record

    def keep(self, session: Session) -> None:
        self.record(session)


_HOLD = statement(
    "WITH h AS (INSERT INTO risk_hold (hold_ref, entry_id, decision_id, customer_id, amount, "
    "expires_at, keep_pending) VALUES (:ref, :entry, :d, :c, :amount, :expires, :keep)) "
    "UPDATE risk_decision SET hold_ref = :ref WHERE id = :d"
)


class RiskEngine:
    def __init__(
        self,
        clock: Clock,
        *,
        hold_timeout: timedelta = timedelta(hours=24),
        rules_ttl: float = 10.0,
        model: Scorer | None = None,
    ) -> None:
        self.clock = clock
        self.model = model
        """Blended with the rules: its score is the feature ``model_score`` (0 to 1)
        for rules to act on, and the decision's score is at least 100 times it."""
        self.hold_timeout = hold_timeout
        self.rules_ttl = rules_ttl
        self._rules: list[Rule] | None = None
        self._loaded_at = 0.0
        self.spent: list[float] | None = None
        """When a list (``rongbank bench risk``), the CPU seconds of each decision."""

    # -- the rules in force, cached for ``rules_ttl`` seconds per process ------------

    def rules(self, session: Session) -> list[Rule]:
        now = time.monotonic()
        if self._rules is None or now - self._loaded_at > self.rules_ttl:
            self._rules = store.active(session)
            self._loaded_at = now
        return self._rules

    def forget_rules(self) -> None:
        """Read the rules again at the next payment (after a change in this process)."""
        self._rules = None

    # -- the seam ---------------------------------------------------------------------

    def assess(self, session: Session, customer_id: int, payment: PaymentRequest) -> Risk:
        started = time.thread_time()
        now = self.clock.now()
        device = current_device.get()
        seen, decision_id = f.read(session, customer_id, payment, device, now)
        if self.model is not None:
            seen["model_score"] = round(self.model.score(_numbers(seen)), 6)
        verdict = evaluate(self.rules(session), seen)
        if self.model is not None:
            verdict = replace(verdict, score=max(verdict.score, 100 * seen["model_score"]))
        action, reasons = verdict.action, verdict.reasons
        if action == "review" and payment.purpose not in HOLDABLE:
            action, reasons = "challenge", (*reasons, "review_as_challenge")
        decided = f.Recorded(action, verdict.score, reasons, verdict.hits)

        def record(s: Session, *, counted: bool = True, deferred: bool = False) -> None:
            f.write(
                s,
                decision_id,
                customer_id,
                payment,
                device,
                seen,
                decided,
                now,
                counted=counted,
                deferred=deferred,
            )

        if action == "block":

            def record_block(s: Session) -> None:
                record(s, counted=False)
                self._alert(s, decision_id, customer_id, payment, verdict, "block", now, seen)

            self._timed(started)
            raise PaymentBlocked(record_block)
        # A review's hold names its decision row (a key): written now. Otherwise
        # nothing reads it back in this payment, so it goes with its next round trip.
        record(session, deferred=action != "review")
        if verdict.shadow:
            self._alert(session, decision_id, customer_id, payment, verdict, "shadow", now, seen)
        if action == "review":

            def held(
                session: Session, ref: str, entry_id: int, *, keep_pending: bool = False
            ) -> None:
                self._held(
                    session,
                    decision_id,
                    customer_id,
                    payment,
                    verdict,
                    ref,
                    entry_id,
                    now,
                    seen,
                    keep_pending,
                )

            review_hold.ask(session, review_hold.ReviewHold(held))
        self._timed(started)
        return Risk.ELEVATED if action == "challenge" or verdict.challenge else Risk.LOW

    def _timed(self, started: float) -> None:
        if self.spent is not None:
            self.spent.append(time.thread_time() - started)

    def _held(
        self,
        session: Session,
        decision_id: int,
        customer_id: int,
        payment: PaymentRequest,
        verdict: Verdict,
        ref: str,
        entry_id: int,
        now: datetime,
        seen: f.FeatureValues,
        keep_pending: bool,
    ) -> None:
        run(
            session,
            _HOLD,
            {
                "ref": ref,
                "entry": entry_id,
                "d": decision_id,
                "c": customer_id,
                "amount": payment.amount,
                "expires": now + self.hold_timeout,
                "keep": keep_pending,
            },
        )
        self._alert(session, decision_id, customer_id, payment, verdict, "review", now, seen, ref)

    @staticmethod
    def _alert(
        session: Session,
        decision_id: int,
        customer_id: int,
        payment: PaymentRequest,
        verdict: Verdict,
        action: str,
        now: datetime,
        seen: f.FeatureValues,
        hold_ref: str | None = None,
    ) -> None:
        shadow = action == "shadow"
        outbox.record(
            session,
            RiskAlertRaised(
                occurred_at=now,
                source="engine",
                # A decision may raise a shadow alert and a review: one key each.
                source_ref=f"{decision_id}:shadow" if shadow else str(decision_id),
                customer_id=customer_id,
                action=action,
                score=verdict.score / 100,  # the contract's 0-1; decisions keep points
                reasons=",".join(verdict.shadow if shadow else verdict.reasons),
                amount=payment.amount,
                hold_ref=hold_ref,
                # What the rules saw, for the case page and the bank's labels.
                features=orjson.dumps(seen).decode(),
            ),
        )


def _numbers(features: dict[str, object]) -> dict[str, float | str | None]:
    """The features as a model reads them: flags as 0/1."""
    return {
        k: float(v) if isinstance(v, bool | int | float) else (v if isinstance(v, str) else None)
        for k, v in features.items()
    }


def load_model(folder: Path | None) -> Scorer | None:
    """The model in ``folder`` (LightGBM imported only when there is one)."""
    if folder is None:
        return None
    from rongbank.risk.model.artefact import FraudModel

    return FraudModel.load(folder)
