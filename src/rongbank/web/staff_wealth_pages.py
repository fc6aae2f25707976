"""The staff console's wealth products: the whole catalogue (``roles.WEALTH_CATALOGUE``:
account managers read it to advise), putting a product on it and closing its sale
(``roles.WEALTH_PRODUCTS``), and the payouts due and not yet paid. The same service
calls and audit actions as ``/api/v1/staff/wealth/products``."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError
from rongbank.money import format_amount, parse_amount, parse_positive_amount
from rongbank.platform import Platform
from rongbank.wealth import rules
from rongbank.wealth.service import Product
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import PlatformDep, local_time, render, see_other, staff_page
from rongbank.web.staff_pages import Csrf, FormFieldInvalid, StaffMember, refusal

router = APIRouter(include_in_schema=False, prefix="/staff/wealth", route_class=OneHopRoute)

Catalogue = Annotated[StaffMember, Depends(staff_page(*roles.WEALTH_CATALOGUE))]
ProductKeeper = Annotated[StaffMember, Depends(staff_page(*roles.WEALTH_PRODUCTS))]
ProductCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{4,20}$")]
FIELDS = (
    "code",
    "name",
    "risk_level",
    "yield",
    "min_amount",
    "step_amount",
    "sale_start",
    "sale_end",
    "maturity_date",
    "cutoff",
)


def _money(minor: int) -> str:
    return format_amount(minor, scale=rules.CNY_SCALE)


def _state(product: Product, now: datetime) -> str:
    if now < product.sale_start:
        return "upcoming"
    return "on_sale" if now < product.sale_end else "closed"


def _product_view(product: Product, now: datetime) -> dict[str, Any]:
    return {
        "code": product.code,
        "name": product.name,
        "risk": rules.RISK_LEVELS[product.risk_level],
        "yield": rules.format_yield(product.yield_bps),
        "min_amount": _money(product.min_amount),
        "step_amount": _money(product.step_amount),
        "sale_start": local_time(product.sale_start),
        "sale_end": local_time(product.sale_end),
        "maturity_date": product.maturity_date.isoformat() if product.maturity_date else "",
        "state": _state(product, now),
    }


def _catalogue(
    request: Request,
    platform: Platform,
    staff: StaffMember,
    status_code: int = 200,
    **context: Any,
) -> Response:
    now = platform.clock.now()
    with platform.transaction() as session:
        products = platform.wealth.products(session)
        due = platform.wealth.payouts_due(session) if staff[1] in roles.WEALTH_PRODUCTS else 0
    return render(
        request,
        "staff_wealth.html",
        status_code,
        products=[_product_view(p, now) for p in products],
        can_keep=staff[1] in roles.WEALTH_PRODUCTS,
        due=due,
        risk_levels=rules.RISK_LEVELS,
        form=context.pop("form", {}),
        **context,
    )


@router.get("")
def catalogue(
    request: Request, platform: PlatformDep, staff: Catalogue, done: str = ""
) -> Response:
    """Every product, on sale or not; for the roles that keep it, the form to add one."""
    notice = {"created": "wealth_product_created", "closed": "wealth_product_closed"}.get(done)
    return _catalogue(request, platform, staff, notice=notice)


def _moment(text: str, field: str) -> datetime:
    """A time as a datetime-local field sends it, in Beijing time."""
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}", text.strip()):
            naive = datetime.fromisoformat(text.strip())
            return naive.replace(tzinfo=BUSINESS_TIME_ZONE)
    except ValueError:
        pass
    raise FormFieldInvalid(field=field)


def _day(text: str, field: str) -> date | None:
    if not text.strip():
        return None
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text.strip()):
            return date.fromisoformat(text.strip())
    except ValueError:
        pass
    raise FormFieldInvalid(field=field)


def _cutoff(text: str) -> time | None:
    if not text.strip():
        return None
    if re.fullmatch(r"[0-2][0-9]:[0-5][0-9]", text.strip()) and text.strip() < "24:00":
        return time.fromisoformat(text.strip())
    raise FormFieldInvalid(field="cutoff")


def _amount(text: str, field: str, *, positive: bool = True) -> int:
    try:
        parse = parse_positive_amount if positive else parse_amount
        return parse(text.strip(), scale=rules.CNY_SCALE, currency="CNY")
    except DomainError:
        raise FormFieldInvalid(field=field) from None


def _terms(form: dict[str, str]) -> rules.Terms:
    level = form["risk_level"].strip()
    if level not in ("1", "2", "3", "4", "5"):
        raise FormFieldInvalid(field="risk_level")
    return rules.Terms(
        risk_level=int(level),
        # A yield in per cent with two decimals is a number of basis points.
        yield_bps=_amount(form["yield"], "yield", positive=False),
        min_amount=_amount(form["min_amount"], "min_amount"),
        step_amount=_amount(form["step_amount"], "step_amount"),
        sale_start=_moment(form["sale_start"], "sale_start"),
        sale_end=_moment(form["sale_end"], "sale_end"),
        maturity_date=_day(form["maturity_date"], "maturity_date"),
        cutoff=_cutoff(form["cutoff"]),
    )


Field = Annotated[str, Form(max_length=100)]


@router.post("/products")
def create_product(
    request: Request,
    platform: PlatformDep,
    staff: ProductKeeper,
    code: Field = "",
    name: Field = "",
    risk_level: Field = "",
    yield_: Annotated[str, Form(alias="yield", max_length=100)] = "",
    min_amount: Field = "",
    step_amount: Field = "",
    sale_start: Field = "",
    sale_end: Field = "",
    maturity_date: Field = "",
    cutoff: Field = "",
    csrf: Csrf = "",
) -> Response:
    """Put a product on the catalogue (its custody ledger account is opened with it)."""
    check_csrf(request, csrf)
    values = (code, name, risk_level, yield_, min_amount, step_amount, sale_start, sale_end)
    form = dict(zip(FIELDS, (*values, maturity_date, cutoff), strict=True))
    try:
        if not re.fullmatch(r"[A-Za-z0-9]{4,20}", code.strip()):
            raise FormFieldInvalid(field="code")
        if not name.strip():
            raise FormFieldInvalid(field="name")
        terms = _terms(form)
        with platform.audited(
            actor_kind="staff",
            actor_id=staff[0].id,
            action="wealth.product.create",
            target=code.strip().upper(),
            details={"channel": "console"},
        ) as session:
            platform.wealth.create_product(
                session, staff_id=staff[0].id, code=code, name=name, terms=terms
            )
    except DomainError as error:
        return _catalogue(request, platform, staff, 422, form=form, error=refusal(request, error))
    return see_other("/staff/wealth?done=created")


@router.post("/products/{code}/close")
def close_sale(
    code: ProductCode,
    request: Request,
    platform: PlatformDep,
    staff: ProductKeeper,
    csrf: Csrf = "",
) -> Response:
    """End the product's sale now: nothing more is bought; holdings keep their value
    dates."""
    check_csrf(request, csrf)
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=staff[0].id,
            action="wealth.product.close",
            target=code.upper(),
            details={"channel": "console"},
        ) as session:
            platform.wealth.close_sale(session, code)
    except DomainError as error:
        return _catalogue(request, platform, staff, 422, error=refusal(request, error))
    return see_other("/staff/wealth?done=closed")
