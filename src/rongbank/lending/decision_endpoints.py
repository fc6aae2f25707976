"""Credit applications over HTTP: a customer applies (``/me/lending/applications``),
gets a decision at once (an offer with its APR and schedule, a decline with the main
reasons, or a referral to a credit officer), and accepts an offer with the step-up of
a money movement (the loan is paid into their e-account). Credit officers work the
review queue (``/staff/lending/reviews``): approve, a second officer above the limit,
or decline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, keyed_request, require_staff
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal
from rongbank.inputs import IdParam
from rongbank.lending import decision_schemas as s
from rongbank.lending.application_errors import ApplicationConflict
from rongbank.lending.applications import Application, Ask
from rongbank.platform import Platform

customer = APIRouter(tags=["lending"], prefix="/me/lending", route_class=OneHopRoute)
staff = APIRouter(tags=["staff"], prefix="/staff/lending", route_class=OneHopRoute)

CreditOfficer = Annotated[Principal, Depends(require_staff(*roles.CREDIT_REVIEW))]


def application_out(
    platform: Platform, session: Session, application: Application
) -> s.ApplicationOut:
    offers = platform.credit.offers
    offer = offers.offer_of(session, application.id)
    return s.ApplicationOut.of(
        application, s.OfferOut.of(offer, offers.quote_of(offer)) if offer else None
    )


@customer.post("/applications", status_code=201)
def apply_for_credit(
    body: s.ApplicationIn, platform: PlatformDep, me: CustomerPrincipal, response: Response
) -> s.ApplicationOut:
    """Apply for credit and get the decision at once: ``offered`` (the offer, with its
    APR and schedule, to accept), ``review`` (a credit officer decides; see it again
    here), or ``declined`` with the main reasons. 201 decided now, 200 a retry of the
    same application (``client_id``)."""
    ask = Ask(body.product, s.positive_yuan(body.amount), body.term_months, body.method)
    form = body.form()
    with platform.audited(
        actor_kind="customer",
        actor_id=me.id,
        action="lending.apply",
        target=body.product,
        details={"amount": ask.amount, "client_id": body.client_id},
        idempotency=keyed_request(
            f"customer:{me.id}:lending_apply",
            body.client_id,
            body,
            conflict=ApplicationConflict,
            amount=ask.amount,
        ),
    ) as session:
        application, created = platform.credit.applications.apply(
            session, customer_id=me.id, ask=ask, form=form, client_id=body.client_id
        )
        out = application_out(platform, session, application)
    response.status_code = 201 if created else 200
    return out


@customer.get("/applications")
def my_applications(platform: PlatformDep, me: CustomerPrincipal) -> list[s.ApplicationOut]:
    with platform.transaction() as session:
        return [
            application_out(platform, session, a)
            for a in platform.credit.applications.applications(session, me.id)
        ]


@customer.get("/applications/{application_id}")
def my_application(
    application_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.ApplicationOut:
    with platform.transaction() as session:
        application = platform.credit.applications.application(
            session, application_id, customer_id=me.id
        )
        return application_out(platform, session, application)


@customer.get("/offers")
def my_offers(platform: PlatformDep, me: CustomerPrincipal) -> list[s.OfferOut]:
    """Your offers you may still accept (pre-approved ones included), newest first."""
    offers = platform.credit.offers
    with platform.transaction() as session:
        return [s.OfferOut.of(o, offers.quote_of(o)) for o in offers.open_offers(session, me.id)]


@customer.get("/offers/{offer_id}")
def my_offer(offer_id: IdParam, platform: PlatformDep, me: CustomerPrincipal) -> s.OfferOut:
    offers = platform.credit.offers
    with platform.transaction() as session:
        offer = offers.offer(session, offer_id, customer_id=me.id)
    return s.OfferOut.of(offer, offers.quote_of(offer))


@customer.post("/offers/{offer_id}/accept", status_code=201)
def accept_offer(
    offer_id: IdParam,
    body: s.AcceptIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
    response: Response,
) -> s.OfferOut:
    """Accept an offer, signing the loan: confirmed with a code the bank sends to your
    mobile, or with your token or U盾 if you hold one (``challenge_required`` first,
    then the same request with ``challenge_id`` and ``response``); the loan is paid
    into your e-account at once. 201 lent now, 200 an offer you already accepted."""
    offers = platform.credit.offers
    with platform.transaction() as session:
        offer = offers.offer(session, offer_id, customer_id=me.id)
        account = platform.credit.payout_account(session, me.id, body.account)
        tools = platform.stepup.strong_tools(session, me.id) or (ToolKind.SMS,)
    if offer.status == "accepted":
        response.status_code = 200
        return s.OfferOut.of(offer, offers.quote_of(offer))
    with platform.confirmed(
        offers.signing(offer, account.number),
        customer_id=me.id,
        challenge_id=body.challenge_id,
        response=body.response,
        action="lending.accept",
        target=f"offer {offer_id}",
        tools=tools,
    ) as session:
        offer, _ = platform.credit.accept(
            session, customer_id=me.id, offer_id=offer_id, account=account
        )
    return s.OfferOut.of(offer, offers.quote_of(offer))


# -- the credit officers' review queue -----------------------------------------------------


@staff.get("/reviews")
def credit_review_queue(platform: PlatformDep, _: CreditOfficer) -> list[s.ReviewOut]:
    """Applications waiting for a credit officer, oldest first (those waiting for a
    second approver included)."""
    with platform.transaction() as session:
        return [s.ReviewOut.of(r) for r in platform.credit.reviews.queue(session)]


@staff.get("/reviews/{application_id}")
def credit_review(
    application_id: IdParam, platform: PlatformDep, _: CreditOfficer
) -> s.ReviewDetailOut:
    """One referred application: what the applicant told the bank, every stage of the
    decision with its reasons, the score."""
    with platform.transaction() as session:
        return s.ReviewDetailOut.of_detail(platform.credit.reviews.detail(session, application_id))


@staff.post("/reviews/{application_id}/approve")
def approve_credit_review(
    application_id: IdParam, body: s.ReviewIn, platform: PlatformDep, me: CreditOfficer
) -> s.ReviewDecisionOut:
    """Approve: the customer gets the offer the decision priced. Above the second
    approver's limit the first approval leaves it ``approved_once``, and another
    officer's makes the offer (the same officer twice is refused)."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="lending.review.approve",
        target=f"application {application_id}",
    ) as session:
        review, offer = platform.credit.reviews.approve(
            session, staff_id=me.id, application_id=application_id, note=body.note
        )
    return s.ReviewDecisionOut(review=s.ReviewOut.of(review), offer_id=offer.id if offer else None)


@staff.post("/reviews/{application_id}/decline")
def decline_credit_review(
    application_id: IdParam, body: s.ReviewIn, platform: PlatformDep, me: CreditOfficer
) -> s.ReviewDecisionOut:
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="lending.review.decline",
        target=f"application {application_id}",
    ) as session:
        review = platform.credit.reviews.decline(
            session, staff_id=me.id, application_id=application_id, note=body.note
        )
    return s.ReviewDecisionOut(review=s.ReviewOut.of(review), offer_id=None)
