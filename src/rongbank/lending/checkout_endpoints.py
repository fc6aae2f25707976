"""逸贷 at checkout over HTTP: an e-Pay order (``/me/orders/{token}``) paid by
instalments. ``POST .../instalments`` decides at once (an offer for the order's whole
amount with its APR and schedule, or why not); ``POST .../instalments/pay`` signs the
loan with the step-up of a money movement, lends and pays the merchant in full in one
transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy.orm import Session

from rongbank.api.deps import CustomerPrincipal, PlatformDep, keyed_request
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.inputs import Input as Strict
from rongbank.lending import decision_schemas as s
from rongbank.lending.application_errors import ApplicationConflict
from rongbank.lending.applications import ApplicationForm
from rongbank.lending.checkout import CheckoutDecision
from rongbank.payments.orders import Payment
from rongbank.platform import Platform

customer = APIRouter(tags=["lending"], prefix="/me/orders", route_class=OneHopRoute)


class InstalmentsIn(Strict):
    client_id: s.ClientId = Field(description="Your key for this request: a retry answers it.")
    term_months: Annotated[StrictInt, Field(ge=1, le=360, examples=[12])]
    monthly_income: s.Amount = Field(description="After tax, yuan a month.")
    monthly_expenses: s.Amount = Field(description="Rent, living and other loans, yuan a month.")
    employment: s.Employment
    years_with_employer: Annotated[StrictInt, Field(ge=0, le=60)]
    housing: s.Housing
    assets: s.Amount = Field(description="Savings, property and other assets, yuan.")
    debts: s.Amount = Field(description="What you owe other lenders now, yuan.")
    dependants: Annotated[StrictInt, Field(ge=0, le=20)] = 0

    def form(self) -> ApplicationForm:
        return ApplicationForm(
            purpose="consumption",
            monthly_income=s.yuan(self.monthly_income),
            monthly_expenses=s.yuan(self.monthly_expenses),
            employment=self.employment,
            years_with_employer=self.years_with_employer,
            housing=self.housing,
            assets=s.yuan(self.assets),
            debts=s.yuan(self.debts),
            dependants=self.dependants,
        )


class InstalmentsOut(BaseModel):
    application_id: int
    status: str = Field(
        description="``offered`` (accept it with .../instalments/pay), ``declined`` or "
        "``review`` (not at checkout: pay by e-Pay instead)."
    )
    reasons: list[str]
    offer: s.OfferOut | None

    @classmethod
    def of(cls, platform: Platform, decision: CheckoutDecision) -> InstalmentsOut:
        offer = decision.offer
        offers = platform.credit.offers
        return cls(
            application_id=decision.application.id,
            status="offered" if offer else decision.application.status,
            reasons=list(decision.reasons),
            offer=s.OfferOut.of(offer, offers.quote_of(offer)) if offer else None,
        )


class PayInstalmentsIn(s.AcceptIn):
    offer_id: StrictInt


class InstalmentsPaidOut(BaseModel):
    order_no: str
    status: str
    amount: str
    loan_id: int


Hooks = tuple[Callable[[Session], bool], Callable[[Session], None]]
"""What a channel that carries an order (a 融e联 merchant-order card) does in the
paying transaction: before lending, lock and check its own state (False: already
done by this customer, a retry); after, record that the order was paid."""


def decide_instalments(
    platform: Platform,
    customer_id: int,
    token: str,
    body: InstalmentsIn,
    response: Response,
    *,
    channel: str = "order",
) -> InstalmentsOut:
    """The decision for the order ``token``, for every channel that offers 逸贷 (the
    order's pay page, a chat card, a payment code waiting for the customer)."""
    form = body.form()
    with platform.audited(
        actor_kind="customer",
        actor_id=customer_id,
        action="lending.checkout.apply",
        target=f"order {token[:8]}",
        details={"term_months": body.term_months, "client_id": body.client_id, "via": channel},
        idempotency=keyed_request(
            f"customer:{customer_id}:yidai_apply",
            body.client_id,
            body,
            conflict=ApplicationConflict,
            token=token,
        ),
    ) as session:
        decision, created = platform.yidai.apply(
            session,
            customer_id=customer_id,
            token=token,
            term_months=body.term_months,
            form=form,
            client_id=body.client_id,
        )
        out = InstalmentsOut.of(platform, decision)
    response.status_code = 201 if created else 200
    return out


def pay_instalments(
    platform: Platform,
    customer_id: int,
    token: str,
    body: PayInstalmentsIn,
    *,
    hooks: Hooks | None = None,
) -> InstalmentsPaidOut:
    """Sign the offer with the step-up of a money movement, lend and pay the order in
    one transaction (with the channel's ``hooks``); a repeat answers the payment."""
    yidai = platform.yidai
    with platform.transaction() as session:
        payment, offer = yidai.offer_for(
            session, customer_id=customer_id, token=token, offer_id=body.offer_id
        )
        account = platform.credit.payout_account(session, customer_id, body.account)
        request = yidai.signing(session, payment, offer, account.number)
        tools = platform.stepup.strong_tools(session, customer_id) or (ToolKind.SMS,)

    def pay(session: Session) -> tuple[Payment, int]:
        to_close = hooks is None or hooks[0](session)
        paid, loan_id = yidai.pay(
            session, customer_id=customer_id, token=token, offer_id=offer.id, account=account
        )
        if hooks is not None and to_close:
            hooks[1](session)
        return paid, loan_id

    if offer.status == "accepted" and offer.loan_id is not None:
        with platform.transaction() as session:
            paid, loan_id = pay(session)
    else:
        with platform.confirmed(
            request,
            customer_id=customer_id,
            challenge_id=body.challenge_id,
            response=body.response,
            action="lending.checkout.pay",
            target=f"order {payment.order_no}",
            tools=tools,
        ) as session:
            paid, loan_id = pay(session)
    return InstalmentsPaidOut(
        order_no=paid.order_no, status=paid.status, amount=s.money(paid.amount), loan_id=loan_id
    )


@customer.post("/{token}/instalments", status_code=201)
def ask_for_instalments(
    token: str,
    body: InstalmentsIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
    response: Response,
) -> InstalmentsOut:
    """逸贷: ask to pay this order in 3, 6, 12 or 24 monthly instalments, decided at
    once. 201 decided now, 200 a retry (``client_id``)."""
    return decide_instalments(platform, me.id, token, body, response)


@customer.post("/{token}/instalments/pay")
def pay_by_instalments(
    token: str, body: PayInstalmentsIn, platform: PlatformDep, me: CustomerPrincipal
) -> InstalmentsPaidOut:
    """Sign the offer and pay the order with it: confirmed with a code sent to your
    mobile (or your token or U盾), the loan is paid into your e-account and the order
    paid from it at once. A repeat answers the payment made."""
    return pay_instalments(platform, me.id, token, body)
