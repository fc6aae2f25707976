"""Credit applications: the decision's inputs gathered, the decision stored stage by
stage, and what it leads to (an offer, a credit officer's review, a decline).

Applications of one customer are decided one at a time (an advisory lock on the
customer, held to the end of the transaction), so the personal cap holds under
concurrent applications: each counts the outstanding principal at this bank plus what
the bank has already offered and not yet lent (open offers, applications in review)
plus what it asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import EAccount
from rongbank.auth.stepup import RiskCheck
from rongbank.auth.tools import PaymentRequest
from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.db import advisory_lock
from rongbank.lending import application_errors as errors
from rongbank.lending.bureau import CreditBureau
from rongbank.lending.decision import (
    PASS,
    REFER,
    Decision,
    Pricing,
    Rules,
    Scorer,
    Stage,
    decide,
    replay,
    scorecard_features,
)
from rongbank.lending.products import LoanProduct, Products
from rongbank.pii import PersonalData, for_this_process, opened

LOCK = "lending_customer"

LOAN = "loan"
"""The purpose of a loan's disbursement as a payment request (step-up, risk check)."""

EMPLOYMENT = ("permanent", "self_employed", "part_time", "other")
HOUSING = ("owner", "rent", "parents", "employer", "other")
PURPOSES = ("consumption", "education", "travel", "home", "car", "medical", "other")


def pricing_of(product: LoanProduct, products: Products) -> Pricing:
    """What the decision needs of a product: its range, review threshold, rate grid
    and, for internet consumer credit, the personal cap."""
    return Pricing(
        min_amount=product.min_amount,
        max_amount=product.max_amount,
        review_above=product.review_above,
        rates={grade.value: rate for grade, rate in product.rates.items()},
        personal_cap=products.personal_cap if product.internet_consumer else None,
    )


class Exposure(Protocol):
    """What the customer owes the bank now (``rongbank.lending.loans``)."""

    def outstanding(self, session: Session, customer_id: int) -> int: ...
    def loans_past_due(self, session: Session, customer_id: int) -> int: ...


@dataclass(frozen=True, slots=True)
class ApplicationForm:
    """What an applicant tells the bank; money in fen."""

    purpose: str
    monthly_income: int
    monthly_expenses: int
    employment: str
    years_with_employer: int
    housing: str
    assets: int
    debts: int
    dependants: int = 0
    price: int | None = None
    """The price of what the loan buys, when it buys one thing (a car)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "monthly_income": self.monthly_income,
            "monthly_expenses": self.monthly_expenses,
            "employment": self.employment,
            "years_with_employer": self.years_with_employer,
            "housing": self.housing,
            "assets": self.assets,
            "debts": self.debts,
            "dependants": self.dependants,
            "price": self.price,
        }


@dataclass(frozen=True, slots=True)
class Ask:
    product: str
    amount: int
    term_months: int
    method: str


@dataclass(frozen=True, slots=True)
class Offer:
    id: int
    application_id: int
    customer_id: int
    product: str
    amount: int
    term_months: int
    method: str
    rate_bps: int
    upfront_fee_bps: int
    monthly_fee_bps: int
    apr_bps: int
    status: str
    created_at: datetime
    expires_at: datetime
    loan_id: int | None


@dataclass(frozen=True, slots=True)
class Application:
    id: int
    customer_id: int
    source: str
    product: str
    purpose: str
    amount: int
    term_months: int
    method: str
    status: str
    points: int | None
    grade: str | None
    rules_version: str
    model_version: str | None
    created_at: datetime
    reasons: tuple[str, ...]
    """Why it was declined or referred (the worst stage's reasons), and the
    scorecard's main factors for a decline on the score."""


_APPLICATION = (
    "SELECT a.id, a.customer_id, a.source, a.product, a.purpose, a.amount, a.term_months, "
    "a.method, a.status, a.points, a.grade, a.rules_version, a.model_version, a.created_at "
    "FROM lending_application a "
)


def customer_reasons(decision_stages: list[Stage]) -> tuple[str, ...]:
    """What the customer is told: the worst outcome's reasons, and for a decline on
    the score, the scorecard's main factors (``factor:<feature>``), three at most."""
    decision = Decision(tuple(decision_stages))
    reasons = list(decision.reasons)
    if "score_too_low" in reasons or "grey_zone" in reasons:
        reasons += [f"factor:{f}" for f in decision.score.get("factors", [])[:3]]
    return tuple(reasons)


class Applications:
    def __init__(
        self,
        clock: Clock,
        *,
        rules: Rules,
        products: Products,
        bureau: CreditBureau,
        risk: Callable[[], RiskCheck],
        scorer: Callable[[], Scorer],
        exposure: Exposure,
        make_offer: Callable[[Session, Application, Mapping[str, Any]], Offer],
        pii: PersonalData | None = None,
    ) -> None:
        self.clock = clock
        self.pii = pii or for_this_process()
        self.rules = rules
        self.products = products
        self.bureau = bureau
        self.risk = risk
        self.scorer = scorer
        self.exposure = exposure
        self.make_offer = make_offer

    def today(self) -> date:
        return self.clock.now().astimezone(BUSINESS_TIME_ZONE).date()

    # -- what the bank knows of the applicant ------------------------------------------

    def _applicant(self, session: Session, customer_id: int) -> tuple[Any, EAccount | None]:
        # Whether the identity is on the blacklist, read with it (one statement less).
        found = session.execute(
            text(
                "SELECT kind, resident_id, resident_id_enc, birth_date, created_at, EXISTS ("
                "SELECT 1 FROM lending_blacklist b WHERE b.resident_id_hash = c.resident_id_hash) "
                "FROM customer c WHERE c.id = :c"
            ),
            {"c": customer_id},
        ).one()
        resident_id = opened(self.pii, customer_id, "resident_id", found[1], found[2])
        person = (found[0], resident_id, *found[3:])
        row = session.execute(
            text(
                "SELECT id, number, customer_id, class, currency, ledger_account_id, status, "
                "status_reason FROM e_account WHERE customer_id = :c AND status = 'active' "
                "AND currency = 'CNY' ORDER BY class, id LIMIT 1"
            ),
            {"c": customer_id},
        ).first()
        return person, EAccount(*row) if row else None

    def pending(self, session: Session, customer_id: int, *, besides: int | None = None) -> int:
        """What the bank has offered and not yet lent: open offers not yet expired and
        applications in review (what they would lend)."""
        return int(
            session.execute(
                text(
                    "SELECT (SELECT coalesce(sum(o.amount), 0) FROM lending_offer o "
                    "WHERE o.customer_id = :c AND o.status = 'open' AND o.expires_at > :now "
                    "AND o.application_id IS DISTINCT FROM CAST(:besides AS bigint)) + "
                    "(SELECT coalesce(sum((s.outputs ->> 'amount')::bigint), 0) "
                    "FROM lending_application a JOIN lending_decision_stage s "
                    "ON s.application_id = a.id AND s.stage = 'pricing' "
                    "WHERE a.customer_id = :c AND a.status = 'review' "
                    "AND a.id IS DISTINCT FROM CAST(:besides AS bigint))"
                ),
                {"c": customer_id, "now": self.clock.now(), "besides": besides},
            ).scalar_one()
        )

    def facts(
        self, session: Session, customer_id: int, ask: Ask, product: LoanProduct
    ) -> tuple[dict[str, Any], str | None, EAccount | None]:
        """The eligibility stage's inputs, the identity number (for the bureau) and
        the account a loan would be paid into."""
        person, account = self._applicant(session, customer_id)
        kind, resident_id, birth_date, _, blacklisted = person
        age = None
        if birth_date is not None:
            today = self.today()
            age = (
                today.year
                - birth_date.year
                - ((today.month, today.day) < (birth_date.month, birth_date.day))
            )
        loans = self.exposure.outstanding(session, customer_id)
        pending = self.pending(session, customer_id)
        return (
            {
                "age": age,
                "term_months": ask.term_months,
                "borrower": kind,
                # A person whose identity number the bank holds, with an account of
                # class I or II (opened with the identity verified: PBoC 银发〔2016〕302号).
                "identity_verified": kind == product.borrower.value
                and resident_id is not None
                and account is not None
                and account.account_class <= 2,
                "account_active": account is not None,
                "blacklisted": resident_id is not None and bool(blacklisted),
                "amount": ask.amount,
                "outstanding_loans": loans,
                "pending_offers": pending,
                "outstanding": loans + pending,
            },
            resident_id,
            account,
        )

    # -- deciding --------------------------------------------------------------------

    def apply(
        self,
        session: Session,
        *,
        customer_id: int,
        ask: Ask,
        form: ApplicationForm,
        client_id: str,
    ) -> tuple[Application, bool]:
        """Decide an application and store it (with its offer or review); a retry
        with the same ``client_id`` answers the stored one (False: not new)."""
        advisory_lock(session, LOCK, customer_id)
        existing = self.by_client(session, customer_id, "application", client_id)
        if existing is not None:
            return existing, False
        product = self.products.get(ask.product)
        product.check_terms(
            principal_fen=ask.amount, term_months=ask.term_months, method=ask.method
        )
        facts, resident_id, account = self.facts(session, customer_id, ask, product)
        sources: dict[str, Any] = {f"form.{k}": v for k, v in form.as_json().items()}
        source = LiveSource(
            self,
            session,
            customer_id=customer_id,
            facts=facts,
            resident_id=resident_id,
            account=account,
            ask=ask,
            sources=sources,
            features=self.rules.features,
        )
        decision = decide(source, self.rules, pricing_of(product, self.products), self.scorer())
        status = {PASS: "offered", REFER: "review"}.get(decision.outcome, "declined")
        application = self.store(
            session,
            customer_id=customer_id,
            source="application",
            client_id=client_id,
            ask=ask,
            purpose=form.purpose,
            form=form.as_json(),
            decision=decision,
            status=status,
        )
        if status == "offered":
            self.make_offer(session, application, decision.offer)
        elif status == "review":
            self._refer(session, application, decision)
        return application, True

    def _refer(self, session: Session, application: Application, decision: Decision) -> None:
        amount = int(decision.offer["amount"])
        session.execute(
            text(
                "INSERT INTO lending_review (application_id, reasons, needs_second, created_at) "
                "VALUES (:a, :r, :second, :now)"
            ),
            {
                "a": application.id,
                "r": json.dumps(decision.reasons),
                "second": amount > self.rules.second_approver_above,
                "now": self.clock.now(),
            },
        )

    def store(
        self,
        session: Session,
        *,
        customer_id: int,
        source: str,
        client_id: str,
        ask: Ask,
        purpose: str,
        form: dict[str, Any],
        decision: Decision,
        status: str,
    ) -> Application:
        score = decision.score
        now = self.clock.now()
        application_id = session.execute(
            text(
                "INSERT INTO lending_application (customer_id, source, client_id, product, "
                "purpose, amount, term_months, method, form, status, points, grade, "
                "rules_version, model_version, created_at) VALUES (:c, :source, :client, "
                ":product, :purpose, :amount, :term, :method, :form, :status, :points, :grade, "
                ":rules, :model, :now) RETURNING id"
            ),
            {
                "c": customer_id,
                "source": source,
                "client": client_id,
                "product": ask.product,
                "purpose": purpose,
                "amount": ask.amount,
                "term": ask.term_months,
                "method": ask.method,
                "form": json.dumps(form),
                "status": status,
                "points": score.get("points"),
                "grade": score.get("grade"),
                "rules": self.rules.version,
                "model": score.get("model_version"),
                "now": now,
            },
        ).scalar_one()
        session.execute(
            text(
                "INSERT INTO lending_decision_stage (application_id, seq, stage, inputs, "
                "outcome, reasons, outputs) VALUES (:a, :seq, :stage, :inputs, :outcome, "
                ":reasons, :outputs)"
            ),
            [
                {
                    "a": application_id,
                    "seq": seq,
                    "stage": stage.name,
                    "inputs": json.dumps(stage.inputs),
                    "outcome": stage.outcome,
                    "reasons": json.dumps(stage.reasons),
                    "outputs": json.dumps(stage.outputs),
                }
                for seq, stage in enumerate(decision.stages)
            ],
        )
        # As it was stored, from what was just written (not read back: two statements
        # and the stages' JSON fewer on every decision).
        return Application(
            int(application_id),
            customer_id,
            source,
            ask.product,
            purpose,
            ask.amount,
            ask.term_months,
            ask.method,
            status,
            score.get("points"),
            score.get("grade"),
            self.rules.version,
            score.get("model_version"),
            now,
            customer_reasons(list(decision.stages)),
        )

    # -- reading ---------------------------------------------------------------------

    def by_client(
        self, session: Session, customer_id: int, source: str, client_id: str
    ) -> Application | None:
        row = session.execute(
            text(_APPLICATION + "WHERE a.customer_id = :c AND a.source = :s AND a.client_id = :k"),
            {"c": customer_id, "s": source, "k": client_id},
        ).first()
        return self._of(session, row) if row else None

    def application(
        self, session: Session, application_id: int, *, customer_id: int | None = None
    ) -> Application:
        """One application; with ``customer_id``, only one of theirs (else 404)."""
        row = session.execute(
            text(
                _APPLICATION
                + "WHERE a.id = :id AND (CAST(:c AS bigint) IS NULL OR a.customer_id = :c)"
            ),
            {"id": application_id, "c": customer_id},
        ).first()
        if row is None:
            raise errors.ApplicationNotFound()
        return self._of(session, row)

    def applications(self, session: Session, customer_id: int) -> list[Application]:
        rows = session.execute(
            text(
                _APPLICATION + "WHERE a.customer_id = :c AND a.source = 'application' "
                "ORDER BY a.created_at DESC, a.id DESC LIMIT 50"
            ),
            {"c": customer_id},
        ).all()
        return [self._of(session, row) for row in rows]

    def stages(self, session: Session, application_id: int) -> list[Stage]:
        rows = session.execute(
            text(
                "SELECT stage, inputs, outcome, reasons, outputs FROM lending_decision_stage "
                "WHERE application_id = :a ORDER BY seq"
            ),
            {"a": application_id},
        ).all()
        return [Stage(r[0], r[1], r[2], list(r[3]), r[4]) for r in rows]

    def replay(self, session: Session, application_id: int) -> Replayed:
        """Run a stored decision again, each stage on its recorded inputs, under the
        rules and the model version it was made with (refused under others)."""
        application = self.application(session, application_id)
        if application.rules_version != self.rules.version:
            raise errors.ReplayRefused(
                rules_version=application.rules_version, current_rules=self.rules.version
            )
        stored = Decision(tuple(self.stages(session, application_id)))
        again = replay(stored.stages, self.rules, self.scorer())
        now = again.score.get("model_version")
        if application.model_version is not None and now != application.model_version:
            raise errors.ReplayRefused(model_version=application.model_version, current_model=now)
        return Replayed(application, stored, again, compare(stored, again))

    def _of(self, session: Session, row: Any) -> Application:
        values: tuple[Any, ...] = (*row, customer_reasons(self.stages(session, int(row[0]))))
        return Application(*values)


@dataclass(frozen=True, slots=True)
class Replayed:
    application: Application
    stored: Decision
    again: Decision
    differences: list[str]
    """``stage.field`` for each stage whose outcome, reasons or outputs differ."""


def compare(stored: Decision, again: Decision) -> list[str]:
    differences = []
    for before, after in zip(stored.stages, again.stages, strict=True):
        for name in ("outcome", "reasons", "outputs"):
            if getattr(before, name) != getattr(after, name):
                differences.append(f"{before.name}.{name}")
    return differences


class LiveSource:
    """A decision's inputs read now: the facts given, the bureau asked, the risk
    check run, the features built from the form (or the bank's data)."""

    def __init__(
        self,
        applications: Applications,
        session: Session,
        *,
        customer_id: int,
        facts: dict[str, Any],
        resident_id: str | None,
        account: EAccount | None,
        ask: Ask,
        sources: dict[str, Any],
        features: Mapping[str, Any],
    ) -> None:
        self.a = applications
        self.session = session
        self.customer_id = customer_id
        self._facts = facts
        self.resident_id = resident_id
        self.account = account
        self.ask = ask
        self.sources = sources
        self.spec = features

    def eligibility(self) -> dict[str, Any]:
        return self._facts

    def bureau(self) -> dict[str, Any]:
        assert self.resident_id is not None  # eligibility declines a customer without one
        return self.a.bureau.report(self.resident_id).as_inputs()

    def fraud(self) -> dict[str, Any]:
        assert self.account is not None  # eligibility declines without an active account
        payment = PaymentRequest(
            LOAN, "bank:lending", self.account.number, self.ask.amount, "CNY", "decision"
        )
        return {"risk": self.a.risk().assess(self.session, self.customer_id, payment).value}

    def features(self, bureau: Mapping[str, Any]) -> dict[str, Any]:
        sources = (
            self.sources
            | {f"bureau.{k}": v for k, v in bureau.items()}
            | {
                "application.amount": self.ask.amount,
                "application.term_months": self.ask.term_months,
                "identity.age": self._facts["age"],
            }
        )
        return scorecard_features(self.spec, sources, yuan_per_unit=self.a.rules.yuan_per_unit)


def offer_expiry(now: datetime, rules: Rules) -> datetime:
    return now + timedelta(days=rules.offer_valid_days)
