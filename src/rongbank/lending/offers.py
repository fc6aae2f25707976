"""Offers: what the bank lends an approved application, priced and shown with its APR
and schedule before the customer signs (PBoC announcement 2021 No. 3), and accepted
with the step-up of a money movement (the boundary's ``Platform.authorised``), which
disburses the loan into the customer's e-account."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.service import EAccount
from rongbank.auth.tools import PaymentRequest
from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.db import advisory_lock
from rongbank.lending import application_errors as errors
from rongbank.lending.applications import LOAN, LOCK, Application, Offer, offer_expiry
from rongbank.lending.decision import CNY_SCALE, Rules
from rongbank.lending.events import CreditOffered
from rongbank.lending.loans import LoanService
from rongbank.lending.products import Quote
from rongbank.money import format_amount

_OFFER = (
    "SELECT id, application_id, customer_id, product, amount, term_months, method, rate_bps, "
    "upfront_fee_bps, monthly_fee_bps, apr_bps, status, created_at, expires_at, loan_id "
    "FROM lending_offer "
)


QUOTES_KEPT = 512
"""Offers whose quote this process keeps (see :meth:`Offers.quote_of`)."""


class Offers:
    def __init__(self, clock: Clock, *, rules: Rules, loans: LoanService) -> None:
        self.clock = clock
        self.rules = rules
        self.loans = loans
        self._quotes: dict[tuple[int, date], Quote] = {}
        """The quote :meth:`make` priced an offer at, by offer and day: the decision's
        answer shows it at once, and a schedule with its APR (an IRR) is a third of
        the API's CPU for a decision. Read only for the same offer on the same day
        (the quote starts today), so it is what :meth:`quote_of` would compute."""

    def today(self) -> date:
        return self.clock.now().astimezone(BUSINESS_TIME_ZONE).date()

    def make(self, session: Session, application: Application, priced: Mapping[str, Any]) -> Offer:
        """The offer for an approved application, at the amount and rate its pricing
        stage found; refused (``AprCeilingExceeded``) if its APR were above the
        ceiling, which the product file's own check makes impossible."""
        product = self.loans.products.get(application.product)
        amount, rate = int(priced["amount"]), int(priced["rate_bps"])
        priced_quote = self.loans.quote(
            product_code=application.product,
            principal_fen=amount,
            term_months=application.term_months,
            method=application.method,
            annual_rate_bps=rate,
        )
        now = self.clock.now()
        row = session.execute(
            text(
                "INSERT INTO lending_offer (application_id, customer_id, product, amount, "
                "term_months, method, rate_bps, upfront_fee_bps, monthly_fee_bps, apr_bps, "
                "status, created_at, expires_at) VALUES (:a, :c, :p, :amount, :term, :method, "
                ":rate, :up, :monthly, :apr, 'open', :now, :exp) RETURNING id"
            ),
            {
                "a": application.id,
                "c": application.customer_id,
                "p": application.product,
                "amount": amount,
                "term": application.term_months,
                "method": application.method,
                "rate": rate,
                "up": product.fees.upfront_bps,
                "monthly": product.fees.monthly_bps,
                "apr": priced_quote.apr_bps,
                "now": now,
                "exp": offer_expiry(now, self.rules),
            },
        ).scalar_one()
        offer = self.offer(session, int(row))
        if len(self._quotes) >= QUOTES_KEPT:
            self._quotes.clear()  # a miss only computes it again
        self._quotes[(offer.id, priced_quote.start)] = priced_quote
        # The customer is told through 融e联 (chat.notices), as their preferences allow.
        outbox.record(
            session,
            CreditOffered(
                offer_id=offer.id,
                customer_id=offer.customer_id,
                product=product.name_zh,
                amount=offer.amount,
                term_months=offer.term_months,
                apr_bps=offer.apr_bps,
                expires_at=offer.expires_at,
                preapproved=application.source == "preapproval",
                occurred_at=now,
            ),
        )
        return offer

    def quote_of(self, offer: Offer) -> Quote:
        """The offer's schedule as it would run if accepted today."""
        made = self._quotes.get((offer.id, self.loans.business_day()))
        if made is not None:
            return made
        return self.loans.quote(
            product_code=offer.product,
            principal_fen=offer.amount,
            term_months=offer.term_months,
            method=offer.method,
            annual_rate_bps=offer.rate_bps,
        )

    @staticmethod
    def signing(offer: Offer, account_number: str) -> PaymentRequest:
        """What the customer confirms with their tool: this loan, at this APR, into
        this account (the challenge is bound to exactly that)."""
        amount = format_amount(offer.amount, scale=CNY_SCALE)
        return PaymentRequest(
            LOAN,
            "bank:lending",
            account_number,
            offer.amount,
            "CNY",
            f"offer:{offer.id}",
            change=f"借款{amount}元（年化利率{offer.apr_bps / 100:.2f}%），"
            f"存入尾号{account_number[-4:]}的账户",
        )

    def accepted(self, session: Session, *, customer_id: int, offer_id: int) -> bool:
        return bool(
            session.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM lending_offer WHERE id = :id "
                    "AND customer_id = :c AND status = 'accepted')"
                ),
                {"id": offer_id, "c": customer_id},
            ).scalar_one()
        )

    def accept(
        self,
        session: Session,
        *,
        customer_id: int,
        offer_id: int,
        account: EAccount,
        pay_to: int | None = None,
    ) -> tuple[Offer, bool]:
        """Accept an open offer: the loan disbursed into ``account`` (the cap checked
        again by ``LoanService.disburse`` on what the customer owes then), or onto the
        ledger account ``pay_to`` (逸贷: the merchant's). A retry of an accepted offer
        answers it (False: not new)."""
        advisory_lock(session, LOCK, customer_id)
        offer = self.offer(session, offer_id, customer_id=customer_id, lock=True)
        if offer.status == "accepted":
            return offer, False
        if offer.status != "open" or offer.expires_at <= self.clock.now():
            raise errors.OfferNotOpen(status=offer.status)
        grade = session.execute(
            text("SELECT grade FROM lending_application WHERE id = :a"),
            {"a": offer.application_id},
        ).scalar_one()
        loan_id = self.loans.disburse(
            session,
            customer_id=customer_id,
            account_id=account.id,
            product_code=offer.product,
            principal_fen=offer.amount,
            term_months=offer.term_months,
            method=offer.method,
            annual_rate_bps=offer.rate_bps,
            grade=grade,
            application_id=str(offer.application_id),
            idempotency_key=f"offer:{offer.id}",
            pay_to=pay_to,
        )
        session.execute(
            text(
                "UPDATE lending_offer SET status = 'accepted', accepted_at = :now, loan_id = :l "
                "WHERE id = :id"
            ),
            {"now": self.clock.now(), "l": loan_id, "id": offer.id},
        )
        session.execute(
            text("UPDATE lending_application SET status = 'accepted' WHERE id = :a"),
            {"a": offer.application_id},
        )
        return self.offer(session, offer.id), True

    def offer_of(self, session: Session, application_id: int) -> Offer | None:
        row = session.execute(
            text(_OFFER + "WHERE application_id = :a"), {"a": application_id}
        ).first()
        return Offer(*row) if row else None

    def open_offers(self, session: Session, customer_id: int) -> list[Offer]:
        """The customer's offers they may still accept, newest first."""
        rows = session.execute(
            text(
                _OFFER + "WHERE customer_id = :c AND status = 'open' AND expires_at > :now "
                "ORDER BY created_at DESC, id DESC"
            ),
            {"c": customer_id, "now": self.clock.now()},
        ).all()
        return [Offer(*row) for row in rows]

    def offer(
        self, session: Session, offer_id: int, *, customer_id: int | None = None, lock: bool = False
    ) -> Offer:
        row = session.execute(
            text(
                _OFFER
                + "WHERE id = :id AND (CAST(:c AS bigint) IS NULL OR customer_id = :c)"
                + (" FOR UPDATE" if lock else "")
            ),
            {"id": offer_id, "c": customer_id},
        ).first()
        if row is None:
            raise errors.OfferNotFound()
        return Offer(*row)
