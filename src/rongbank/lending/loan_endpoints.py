"""The customer's loans over HTTP (``/me/loans``): list, one with its schedule and what
is due, repay what is due, repay early (in full or in part). Money leaves the
customer's e-account, so repayments go through the step-up every payment does
(``Platform.authorised``), once per ``client_id``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from rongbank.api.deps import CustomerPrincipal, PlatformDep, keyed_request
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.tools import PaymentRequest
from rongbank.inputs import IdParam
from rongbank.lending import loan_schemas as s
from rongbank.lending.errors import RepaymentConflict
from rongbank.lending.loans import Loan
from rongbank.money import parse_positive_amount
from rongbank.platform import Platform

customer = APIRouter(tags=["lending"], prefix="/me/loans", route_class=OneHopRoute)


def _amount(text: str | None) -> int | None:
    return None if text is None else parse_positive_amount(text, scale=2, currency="CNY")


def repayment_request(loan: Loan, *, amount: int, client_id: str, early: bool) -> PaymentRequest:
    """What the customer authorises (and a challenge is bound to)."""
    return PaymentRequest(
        purpose="loan_early_repayment" if early else "loan_repayment",
        payer=loan.account_number,
        payee=f"loan:{loan.id}",
        amount=amount,
        currency="CNY",
        client_id=client_id,
    )


@customer.get("")
def my_loans(platform: PlatformDep, me: CustomerPrincipal) -> list[s.LoanOut]:
    with platform.transaction() as session:
        return [s.LoanOut.of(loan) for loan in platform.loans.loans_of(session, me.id)]


@customer.get("/{loan_id}")
def my_loan(loan_id: IdParam, platform: PlatformDep, me: CustomerPrincipal) -> s.LoanDetailOut:
    """One of your loans with its schedule (each instalment's principal, interest, fee,
    penalty and what was paid), what is due today, and its repayments."""
    with platform.transaction() as session:
        loan = platform.loans.loan(session, loan_id=loan_id, customer_id=me.id)
        return s.LoanDetailOut(
            loan=s.LoanOut.of(loan),
            due_now=s.SplitOut.of(platform.loans.repayments.due_now(session, loan.id)),
            schedule=[s.InstalmentOut.of(i) for i in platform.loans.schedule(session, loan.id)],
            repayments=[
                s.RepaymentOut.of(r) for r in platform.loans.repayments.repayments(session, loan.id)
            ],
        )


@customer.get("/{loan_id}/early-repayment")
def early_repayment_cost(
    loan_id: IdParam,
    platform: PlatformDep,
    me: CustomerPrincipal,
    principal: Annotated[str | None, Query(max_length=40)] = None,
) -> s.SplitOut:
    """What repaying ``principal`` early (omitted: all of it) takes today: the
    principal, the interest and fees of the current period to today, and anything
    overdue."""
    with platform.transaction() as session:
        return s.SplitOut.of(
            platform.loans.repayments.early_cost(
                session, customer_id=me.id, loan_id=loan_id, principal=_amount(principal)
            )
        )


@customer.post("/{loan_id}/repayments", status_code=201)
def repay(
    loan_id: IdParam,
    body: s.RepayIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
    response: Response,
) -> s.RepaymentOut:
    """Pay what is due (or part of it) from the loan's e-account: penalty, fees,
    interest, then principal, the oldest instalment first. 201 paid now, 200 a retry
    of the same repayment (``client_id``)."""
    amount = _amount(body.amount)

    def payment(session: Session) -> PaymentRequest:
        loan = platform.loans.loan(session, loan_id=loan_id, customer_id=me.id)
        due = amount or platform.loans.repayments.due_now(session, loan.id).total
        return repayment_request(loan, amount=due, client_id=body.client_id, early=False)

    with _authorised(
        platform, me.id, loan_id, body, payment, scope="loan_repay", amount=amount
    ) as session:
        made, now = platform.loans.repayments.repay(
            session,
            customer_id=me.id,
            loan_id=loan_id,
            idempotency_key=body.client_id,
            amount=amount,
        )
    response.status_code = 201 if now else 200
    return s.RepaymentOut.of(made)


@customer.post("/{loan_id}/early-repayments", status_code=201)
def repay_early(
    loan_id: IdParam,
    body: s.EarlyRepayIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
    response: Response,
) -> s.RepaymentOut:
    """Repay early, in full (no ``principal``: the loan is closed) or in part (the
    schedule after it is recomputed on the principal left, over the same due dates:
    lower payments, same term). Interest runs only to today. 201 now, 200 a retry."""
    principal = _amount(body.principal)

    def payment(session: Session) -> PaymentRequest:
        loan = platform.loans.loan(session, loan_id=loan_id, customer_id=me.id)
        cost = platform.loans.repayments.early_cost(
            session, customer_id=me.id, loan_id=loan.id, principal=principal
        )
        return repayment_request(loan, amount=cost.total, client_id=body.client_id, early=True)

    with _authorised(
        platform, me.id, loan_id, body, payment, scope="loan_prepay", principal=principal
    ) as session:
        made, now = platform.loans.repayments.prepay(
            session,
            customer_id=me.id,
            loan_id=loan_id,
            idempotency_key=body.client_id,
            principal=principal,
        )
    response.status_code = 201 if now else 200
    return s.RepaymentOut.of(made)


def _authorised(
    platform: Platform,
    customer_id: int,
    loan_id: int,
    body: s.RepayIn | s.EarlyRepayIn,
    payment: Callable[[Session], PaymentRequest],
    *,
    scope: str,
    **parsed: int | None,
) -> AbstractContextManager[Session]:
    """The transaction of a repayment the customer authorised with ``body``'s challenge,
    once per ``client_id`` (a retry answers the repayment already made)."""
    return platform.authorised(
        payment,
        customer_id=customer_id,
        challenge_id=body.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        already_done=lambda session: (
            platform.loans.repayments.repayment(session, loan_id=loan_id, client_id=body.client_id)
            is not None
        ),
        idempotency=keyed_request(
            f"customer:{customer_id}:{scope}:{loan_id}",
            body.client_id,
            body,
            conflict=RepaymentConflict,
            **parsed,
        ),
    )
