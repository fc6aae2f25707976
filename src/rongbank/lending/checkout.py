"""逸贷 at checkout: an e-Pay order paid by instalments.

On the order's pay page the customer picks a term; the staged decision runs at once
with the 逸贷 product, the order's amount as the application's and a short form
(:meth:`YidaiCheckout.apply`). An offer below the order's amount is withdrawn: the
order is paid in full or not by instalments. A decline (or a referral, which cannot
wait at a till) says why and leaves the order payable by e-Pay.

Paying (:meth:`YidaiCheckout.pay`), in one transaction under the customer's step-up:
the order is locked first, the offer accepted with the loan disbursed straight onto
the merchant's payable (one ledger entry: loan principal debited, merchant credited),
then the order marked paid by e-Pay (``paid_otherwise``), its settlement, refunds and
notices e-Pay's as for any payment. Straight to the merchant rather than through the
customer's e-account: the borrowed money was never the customer's deposit, and a
class II account's 10,000-yuan daily outflow limit would otherwise refuse most 逸贷
orders (600 to 50,000 yuan); the e-account is still the loan's, repaid from, and
where refunds come back. At most one loan per order (``lending_checkout_paid``), and
the order is locked before lending, so an order paid meanwhile by e-Pay is never
lent for.

A merchant's refund of such an order (:meth:`YidaiCheckout.refunded`, called by e-Pay in
the refund's transaction) comes back into the e-account and is repaid early at once
from it: the principal falls by the refund (up to what is left of it), the schedule is
recomputed by the early-repayment rules (``rules.prepay``), so the fees of the periods
to come fall pro rata; fees of periods already elapsed stay. The borrower is told in
融e联 (:class:`~rongbank.lending.events.LoanReducedByRefund`): what the refund repaid,
what is left and the next instalment, or that the loan is repaid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.service import EAccount
from rongbank.auth.tools import PaymentRequest
from rongbank.lending import application_errors as errors
from rongbank.lending.applications import LOAN, Application, ApplicationForm, Ask, Offer
from rongbank.lending.centre import CreditCentre
from rongbank.lending.decision import CNY_SCALE
from rongbank.lending.errors import EarlyRepaymentInvalid
from rongbank.lending.events import LoanReducedByRefund
from rongbank.lending.repayment import periods_of
from rongbank.lending.rules import Period
from rongbank.lending.schedule import RepaymentMethod
from rongbank.money import format_amount
from rongbank.payments.after_payment import Refund
from rongbank.payments.errors import OrderNotPayable
from rongbank.payments.orders import Payment
from rongbank.payments.service import PaymentsService

PRODUCT = "yidai"
METHOD = RepaymentMethod.EQUAL_PRINCIPAL.value
"""逸贷's one method: the price repaid in equal parts, the monthly fee on the price."""


@dataclass(frozen=True, slots=True)
class CheckoutDecision:
    application: Application
    offer: Offer | None
    """Open, for the order's whole amount; None when declined or referred."""
    reasons: tuple[str, ...]


class YidaiCheckout:
    def __init__(self, credit: Callable[[], CreditCentre], payments: PaymentsService) -> None:
        self.credit = credit
        self.payments = payments

    def offered_for(self, amount: int) -> bool:
        """Whether an order of ``amount`` fen may be paid by 逸贷 at all."""
        product = self.credit().loans.products.get(PRODUCT)
        return product.min_amount <= amount <= product.max_amount

    def apply(
        self,
        session: Session,
        *,
        customer_id: int,
        token: str,
        term_months: int,
        form: ApplicationForm,
        client_id: str,
    ) -> tuple[CheckoutDecision, bool]:
        """Decide instalments for the order ``token`` (payable by this customer);
        a retry with ``client_id`` answers the stored decision (False: not new)."""
        payment = self.payments.order_for_customer(session, customer_id=customer_id, token=token)
        if payment.status != "created":
            raise self._not_payable(payment)
        credit = self.credit()
        key = f"checkout:{payment.id}:{client_id}"
        application, created = credit.applications.apply(
            session,
            customer_id=customer_id,
            ask=Ask(PRODUCT, payment.amount, term_months, METHOD),
            form=form,
            client_id=key,
        )
        if created:
            session.execute(
                text(
                    "INSERT INTO lending_checkout (application_id, payment_id, customer_id) "
                    "VALUES (:a, :p, :c)"
                ),
                {"a": application.id, "p": payment.id, "c": customer_id},
            )
        offer = credit.offers.offer_of(session, application.id)
        reasons = application.reasons
        if offer is not None and offer.amount < payment.amount:
            # The grade's limit is below the order: instalments pay all of it or none.
            session.execute(
                text("UPDATE lending_offer SET status = 'withdrawn' WHERE id = :id"),
                {"id": offer.id},
            )
            offer, reasons = None, ("limit_below_order",)
        elif offer is not None and offer.status == "withdrawn":
            offer, reasons = None, ("limit_below_order",)
        return CheckoutDecision(application, offer, reasons), created

    def decision(
        self, session: Session, *, customer_id: int, token: str, application_id: int
    ) -> tuple[Payment, CheckoutDecision]:
        """The order and a decision stored for it (another's or another order's is not
        found)."""
        payment = self.payments.order_for_customer(session, customer_id=customer_id, token=token)
        credit = self.credit()
        application = credit.applications.application(
            session, application_id, customer_id=customer_id
        )
        linked = session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM lending_checkout WHERE application_id = :a "
                "AND payment_id = :p)"
            ),
            {"a": application.id, "p": payment.id},
        ).scalar_one()
        if not linked:
            raise errors.ApplicationNotFound()
        offer = credit.offers.offer_of(session, application.id)
        if offer is not None and offer.status == "withdrawn":
            return payment, CheckoutDecision(application, None, ("limit_below_order",))
        return payment, CheckoutDecision(application, offer, application.reasons)

    def signing(
        self, session: Session, payment: Payment, offer: Offer, account_number: str
    ) -> PaymentRequest:
        """What the customer confirms: this loan, at this APR, paying this order."""
        merchant = self.payments.merchant(session, payment.merchant_id).name
        amount = format_amount(offer.amount, scale=CNY_SCALE)
        return PaymentRequest(
            LOAN,
            "bank:lending",
            account_number,
            offer.amount,
            "CNY",
            f"checkout:{payment.id}:{offer.id}",
            change=f"逸贷分期{offer.term_months}期借款{amount}元（年化利率"
            f"{offer.apr_bps / 100:.2f}%），支付{merchant}订单",
        )

    def offer_for(
        self, session: Session, *, customer_id: int, token: str, offer_id: int
    ) -> tuple[Payment, Offer]:
        """The order and the customer's offer made for it (refused otherwise)."""
        payment = self.payments.order_for_customer(session, customer_id=customer_id, token=token)
        offer = self.credit().offers.offer(session, offer_id, customer_id=customer_id)
        linked = session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM lending_checkout WHERE application_id = :a "
                "AND payment_id = :p AND customer_id = :c)"
            ),
            {"a": offer.application_id, "p": payment.id, "c": customer_id},
        ).scalar_one()
        if not linked or offer.amount != payment.amount:
            raise errors.CheckoutOfferNotForOrder()
        return payment, offer

    def pay(
        self,
        session: Session,
        *,
        customer_id: int,
        token: str,
        offer_id: int,
        account: EAccount,
    ) -> tuple[Payment, int]:
        """Lend the order's amount into ``account`` and pay the order from it, in the
        caller's transaction; returns the payment and the loan's id. A retry of a
        paid one answers it."""
        found, offer = self.offer_for(
            session, customer_id=customer_id, token=token, offer_id=offer_id
        )
        payment = self.payments.lock_order(session, found.id)
        if payment.status != "created":
            if offer.status == "accepted" and offer.loan_id is not None:
                return payment, offer.loan_id
            raise self._not_payable(payment)
        offer, _ = self.credit().accept(
            session,
            customer_id=customer_id,
            offer_id=offer.id,
            account=account,
            pay_to=self.payments.payable_account(session, payment),
        )
        assert offer.loan_id is not None
        entry_id = session.execute(
            text(
                "UPDATE lending_checkout SET loan_id = :l WHERE application_id = :a "
                "RETURNING (SELECT disbursement_entry_id FROM loans WHERE id = :l)"
            ),
            {"l": offer.loan_id, "a": offer.application_id},
        ).scalar_one()
        paid = self.payments.paid_otherwise(
            session, customer_id=customer_id, payment=payment, account=account, entry_id=entry_id
        )
        return paid, offer.loan_id

    def loan_of(self, session: Session, payment_id: int) -> int | None:
        """The loan that paid the order, if instalments paid it."""
        loan = session.execute(
            text(
                "SELECT loan_id FROM lending_checkout WHERE payment_id = :p AND loan_id IS NOT NULL"
            ),
            {"p": payment_id},
        ).scalar()
        return int(loan) if loan is not None else None

    def refunded(self, session: Session, payment: Payment, refund: Refund) -> None:
        """A refund of an order paid by instalments, now in the borrower's e-account,
        repays the loan's principal early by as much (what is left of it at most)."""
        row = session.execute(
            text(
                "SELECT application_id, loan_id FROM lending_checkout "
                "WHERE payment_id = :p AND loan_id IS NOT NULL FOR UPDATE"
            ),
            {"p": payment.id},
        ).first()
        if row is None:
            return
        application_id, loan_id = int(row[0]), int(row[1])
        loans = self.credit().loans
        loan = loans.loan(session, loan_id=loan_id)
        if loan.status != "active":
            return
        day = loans.business_day()
        left = sum(
            p.principal - p.principal_paid for p in periods_of(session, loan_id) if p.due_date > day
        )
        principal = min(refund.amount, left)
        if principal <= 0:
            return
        try:
            made, _ = loans.repayments.prepay(
                session,
                customer_id=loan.customer_id,
                loan_id=loan_id,
                idempotency_key=f"refund:{refund.id}",
                principal=principal,
            )
        except EarlyRepaymentInvalid:  # nothing ahead to repay (all due now)
            return
        session.execute(
            text("UPDATE lending_checkout SET refunded = refunded + :r WHERE application_id = :a"),
            {"r": made.principal, "a": application_id},
        )
        ahead = [p for p in periods_of(session, loan_id) if p.due_date > day]
        owing = [(p, _left(p)) for p in ahead if _left(p) > 0]
        outbox.record(
            session,
            LoanReducedByRefund(
                loan_id=loan_id,
                customer_id=loan.customer_id,
                refund_id=refund.id,
                merchant=self.payments.merchant(session, payment.merchant_id).name,
                repaid=made.principal,
                principal_left=sum(p.principal - p.principal_paid for p in ahead),
                instalments_left=len(owing),
                next_due=owing[0][0].due_date if owing else None,
                next_amount=owing[0][1] if owing else 0,
                occurred_at=loans.clock.now(),
            ),
        )

    @staticmethod
    def _not_payable(payment: Payment) -> OrderNotPayable:
        return OrderNotPayable(status=payment.status)


def _left(period: Period) -> int:
    """What an instalment still asks, as scheduled."""
    return (
        period.principal
        - period.principal_paid
        + period.interest
        - period.interest_paid
        + period.fee
        - period.fee_paid
    )
