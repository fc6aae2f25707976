"""Wealth products over HTTP: staff keep the catalogue and see a customer's
assessments (``/staff/wealth``); customers take the risk-tolerance assessment, see
what is on sale, buy (step-up, as every payment; refused without a valid assessment
or above their level), redeem open-ended holdings and list their holdings
(``/me/wealth``). Maturity, and redemptions due on a later business day, are paid by
a job (``rongbank wealth mature``, and the server's ``wealth-payouts`` thread)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, keyed_request, require_staff
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.service import Principal
from rongbank.auth.tools import PaymentRequest
from rongbank.inputs import IdParam
from rongbank.money import parse_positive_amount
from rongbank.wealth import rules
from rongbank.wealth import schemas as s
from rongbank.wealth.errors import PurchaseConflict, RedemptionConflict
from rongbank.wealth.service import Product

customer = APIRouter(tags=["wealth"], prefix="/me/wealth", route_class=OneHopRoute)
staff = APIRouter(tags=["staff"], prefix="/staff/wealth", route_class=OneHopRoute)

ProductKeeper = Annotated[Principal, Depends(require_staff(*roles.WEALTH_PRODUCTS))]
Catalogue = Annotated[Principal, Depends(require_staff(*roles.WEALTH_CATALOGUE))]

ProductCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{4,20}$")]


def _amount(text: str) -> int:
    return parse_positive_amount(text, scale=rules.CNY_SCALE, currency="CNY")


@staff.post("/products", status_code=201)
def create_product(body: s.ProductIn, platform: PlatformDep, me: ProductKeeper) -> s.ProductOut:
    """Put a product on the catalogue (its custody ledger account is opened with it)."""
    terms = rules.Terms(
        risk_level=body.risk_level,
        yield_bps=body.yield_bps,
        min_amount=_amount(body.min_amount),
        step_amount=_amount(body.step_amount),
        sale_start=body.sale_start,
        sale_end=body.sale_end,
        maturity_date=body.maturity_date,
        cutoff=body.cutoff,
    )
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="wealth.product.create", target=body.code
    ) as session:
        product = platform.wealth.create_product(
            session, staff_id=me.id, code=body.code, name=body.name, terms=terms
        )
    return s.ProductOut.of(product, platform.wealth)


@staff.post("/products/{code}/close")
def close_sale(code: ProductCode, platform: PlatformDep, me: ProductKeeper) -> s.ProductOut:
    """End the product's sale now (audited): nothing more is bought; holdings keep
    their value dates. A product already closed answers as it is."""
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="wealth.product.close", target=code
    ) as session:
        product = platform.wealth.close_sale(session, code)
    return s.ProductOut.of(product, platform.wealth)


@staff.get("/products")
def all_products(platform: PlatformDep, _: Catalogue) -> list[s.ProductOut]:
    with platform.transaction() as session:
        return [s.ProductOut.of(p, platform.wealth) for p in platform.wealth.products(session)]


@customer.get("/products")
def products_on_sale(platform: PlatformDep, _: CustomerPrincipal) -> list[s.ProductOut]:
    with platform.transaction() as session:
        on_sale = platform.wealth.products(session, on_sale=True)
    return [s.ProductOut.of(p, platform.wealth) for p in on_sale]


@customer.post("/purchases", status_code=201)
def buy(
    body: s.PurchaseIn, platform: PlatformDep, me: CustomerPrincipal, response: Response
) -> s.HoldingOut:
    """Buy a product from one of your accounts; 201 bought now, 200 a retry of the
    same purchase (``client_id``). The holding earns from its ``value_date``: today's
    date before the product's cut-off on a business day, else the next business day."""
    amount = _amount(body.amount)

    product: Product | None = None

    def payment(session: Session) -> PaymentRequest:
        # The product, read once, in the purchase's own transaction (one less).
        nonlocal product
        product = platform.wealth.product(session, body.product_code)
        return platform.wealth.payment_request(
            product, amount=amount, account_number=body.account, client_id=body.client_id
        )

    with platform.authorised(
        payment,
        customer_id=me.id,
        challenge_id=body.challenge_id,
        response=body.response,
        prefer=ToolKind(body.tool) if body.tool else None,
        already_done=lambda session: platform.wealth.purchase_made(
            session, customer_id=me.id, client_id=body.client_id
        ),
        idempotency=keyed_request(
            f"customer:{me.id}:wealth_buy",
            body.client_id,
            body,
            conflict=PurchaseConflict,
            amount=amount,
        ),
    ) as session:
        holding, created = platform.wealth.buy(
            session,
            customer_id=me.id,
            code=body.product_code,
            product=product,
            account_number=body.account,
            amount=amount,
            client_id=body.client_id,
        )
    response.status_code = 201 if created else 200
    return s.HoldingOut.of(holding)


@customer.get("/holdings")
def my_holdings(platform: PlatformDep, me: CustomerPrincipal) -> list[s.HoldingOut]:
    with platform.transaction() as session:
        return [s.HoldingOut.of(h) for h in platform.wealth.holdings(session, me.id)]


@customer.get("/holdings/{holding_id}")
def my_holding(
    holding_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.HoldingDetailOut:
    """One of your holdings with what it has paid out (redemptions, maturity)."""
    with platform.transaction() as session:
        holding = platform.wealth.holding(session, customer_id=me.id, holding_id=holding_id)
        payouts = platform.wealth.payouts(session, customer_id=me.id, holding_id=holding_id)
    return s.HoldingDetailOut(
        **s.HoldingOut.of(holding).model_dump(), payouts=[s.PayoutOut.of(p) for p in payouts]
    )


@customer.post("/holdings/{holding_id}/redemptions", status_code=201)
def redeem(
    holding_id: IdParam,
    body: s.RedemptionIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
    response: Response,
) -> s.RedemptionOut:
    """Redeem part (``amount``) or all of an open-ended holding: the principal and
    the yield it earned up to the redemption's ``value_date`` go back to the account
    it was paid from. Before the product's cut-off on a business day that is today,
    and the payout is ``paid`` at once; later, or on a weekend or holiday, it is
    ``pending`` until the next business day, when the bank pays it. 201 redeemed now,
    200 a retry of the same redemption (``client_id``). Money only comes back to
    your own account, so no step-up is asked."""
    amount = _amount(body.amount) if body.amount is not None else None
    with platform.audited(
        actor_kind="customer",
        actor_id=me.id,
        action="wealth.redeem",
        target=f"holding {holding_id}",
        details={"amount": amount, "client_id": body.client_id},
        idempotency=keyed_request(
            f"customer:{me.id}:wealth_redeem",
            body.client_id,
            body,
            conflict=RedemptionConflict,
            amount=amount,
            holding_id=holding_id,
        ),
    ) as session:
        payout, created = platform.wealth.redeem(
            session,
            customer_id=me.id,
            holding_id=holding_id,
            amount=amount,
            client_id=body.client_id,
        )
        holding = platform.wealth.holding(session, customer_id=me.id, holding_id=holding_id)
    response.status_code = 201 if created else 200
    return s.RedemptionOut(payout=s.PayoutOut.of(payout), holding=s.HoldingOut.of(holding))


# -- risk-tolerance assessment -------------------------------------------------------------


@customer.get("/questionnaire")
def questionnaire(_: CustomerPrincipal) -> s.QuestionnaireOut:
    """The risk-tolerance questionnaire: answer every question to be assessed."""
    return s.QuestionnaireOut.current()


@customer.post("/assessments", status_code=201)
def assess(body: s.AssessmentIn, platform: PlatformDep, me: CustomerPrincipal) -> s.AssessmentOut:
    """Submit your answers; the result (C1 to C5) decides which products you may buy
    until it expires (12 months). Earlier assessments are kept. At most two a Beijing
    day (the ``wealth_assessments_per_day`` setting): more is refused 429
    ``wealth_assessment_too_frequent`` with ``retry_at``."""
    with platform.audited(actor_kind="customer", actor_id=me.id, action="wealth.assess") as session:
        assessment = platform.wealth.assess(session, customer_id=me.id, answers=body.answers)
    return s.AssessmentOut.of(assessment, platform.clock.now())


@customer.get("/assessments")
def my_assessments(platform: PlatformDep, me: CustomerPrincipal) -> list[s.AssessmentOut]:
    """Your assessments, newest first."""
    now = platform.clock.now()
    with platform.transaction() as session:
        return [s.AssessmentOut.of(a, now) for a in platform.wealth.assessments(session, me.id)]


@customer.get("/assessments/latest")
def my_latest_assessment(platform: PlatformDep, me: CustomerPrincipal) -> s.AssessmentOut:
    with platform.transaction() as session:
        assessment = platform.wealth.latest_assessment(session, me.id)
    return s.AssessmentOut.of(assessment, platform.clock.now())


@staff.get("/customers/{customer_id}/assessments")
def customer_assessments(
    customer_id: IdParam, platform: PlatformDep, me: Catalogue
) -> list[s.AssessmentOut]:
    """A customer's assessments, newest first: what their account manager may offer
    them. For staff who may see the customer (an account manager: one they serve; the
    console's rule, ``Desk.check_customer``)."""
    now = platform.clock.now()
    with platform.transaction() as session:
        platform.accounts.customer(session, customer_id)  # 404 for no such customer
        platform.chat.desk.check_customer(session, staff_id=me.id, customer_id=customer_id)
        return [
            s.AssessmentOut.of(a, now) for a in platform.wealth.assessments(session, customer_id)
        ]
