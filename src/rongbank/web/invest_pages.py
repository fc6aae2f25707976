"""工银e投资 in the web bank: the quote board (live, by Server-Sent Events), a
product's candlestick chart, positions with their result (and a chart of it), the
pending orders (place and cancel), the history, and the order ticket: ask a quote, trade at it
before its countdown ends (an opening trade confirmed as a payment, with the house's
challenge; a closing one pays the customer and needs none). The same service calls,
keys and audit actions as ``/api/v1/me/invest``; charts drawn by /static/invest.js
from JSON in the page (the CSP runs no inline script)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.auth.tools import PaymentRequest
from rongbank.errors import DomainError
from rongbank.idempotency import keyed
from rongbank.inputs import IdParam
from rongbank.invest import schemas as s
from rongbank.invest.amounts import buys, margin_for, notional
from rongbank.invest.endpoints import board, order_payment, order_spec
from rongbank.invest.errors import OrderConflict, TradeConflict
from rongbank.invest.products import Product
from rongbank.money import parse_positive_amount
from rongbank.platform import Platform
from rongbank.web.account_pages import accounts_view
from rongbank.web.csrf import check_csrf
from rongbank.web.home_pages import ECHARTS
from rongbank.web.pages import Me, PlatformDep, lang_of, refusal_text, render, see_other
from rongbank.web.step_up import (
    ChallengeAnswer,
    ChallengeCarried,
    ChallengeField,
    Responses,
    ToolChoice,
    challenge_view,
    confirm_payment,
)

router = APIRouter(include_in_schema=False, prefix="/invest", route_class=OneHopRoute)

Code = Annotated[str, Query(pattern=r"^[A-Z_]{2,20}$")]
CANDLES = 48


def _candles(platform: Platform, product: Product) -> list[list[Any]]:
    """Half-hour candles of the reference, for the chart: [time, open, close, low, high]
    (ECharts' order), prices as decimal numbers."""
    width = timedelta(minutes=30)
    now = platform.clock.now()
    end = now - (now - platform.invest.catalogue.epoch) % width
    rows = []
    for n in range(CANDLES, 0, -1):
        start = end - width * n
        points = [
            platform.invest.prices.reference(product, start + width * k / 10, None)
            for k in range(11)
        ]
        rows.append(
            [
                start.strftime("%m-%d %H:%M"),
                points[0] / 100,
                points[-1] / 100,
                min(points) / 100,
                max(points) / 100,
            ]
        )
    return rows


def _names(platform: Platform, lang: str) -> dict[str, str]:
    return {
        code: p.name_zh if lang == "zh" else p.name_en
        for code, p in platform.invest.catalogue.products.items()
    }


@router.get("")
def invest_home(
    request: Request, platform: PlatformDep, me: Me, product: Code = "AU_CNY", done: str = ""
) -> Response:
    """The board, the chart of ``product``, positions, pending orders and history."""
    catalogue = platform.invest.catalogue
    chosen = catalogue.products.get(product) or catalogue.product("AU_CNY")
    market = platform.invest.market(platform.clock.now())
    with platform.transaction() as session:
        held = platform.invest.positions(session, me.id)
        orders = [o for o in platform.invest.orders(session, me.id) if o["status"] == "pending"]
        trades = platform.invest.trades(session, me.id, limit=20)
    positions = []
    for p in held:
        q = market.get(p.product)
        mark = None if q is None or q["halted"] else q["bid" if p.side == "long" else "ask"]
        positions.append(s.InvestPositionOut.of(p, catalogue.product(p.product), mark).model_dump())
    names = _names(platform, lang_of(request))
    chart = {
        "product": chosen.code,
        "name": names[chosen.code],
        "candles": _candles(platform, chosen),
        "pnl": [
            {"name": f"{names[p['product']]} {p['side']}", "value": float(p["pnl"] or 0)}
            for p in positions
        ],
    }
    return render(
        request,
        "invest.html",
        board=[line.model_dump() for line in board(platform)],
        names=names,
        chosen=chosen.code,
        positions=positions,
        orders=[
            s.InvestOrderOut.of(o, catalogue.product(o["product"])).model_dump() for o in orders
        ],
        trades=[
            s.InvestTradeOut.of(t, catalogue.product(t["product"])).model_dump() for t in trades
        ],
        chart=chart,
        echarts=ECHARTS,
        done=done,
    )


@router.get("/board/stream")
async def invest_board_stream(
    platform: PlatformDep, me: Me, updates: Annotated[int, Query(ge=1, le=600)] = 300
) -> StreamingResponse:
    """The board as Server-Sent Events, once a second (the page's EventSource)."""

    async def events() -> AsyncIterator[str]:
        for n in range(updates):
            lines = [line.model_dump() for line in board(platform)]
            yield f"event: board\nid: {n}\ndata: {json.dumps(lines)}\n\n"
            if n + 1 < updates:
                await asyncio.sleep(1)

    return StreamingResponse(events(), media_type="text/event-stream")


def _ticket(
    request: Request,
    platform: Platform,
    me: Principal,
    form: dict[str, str],
    status_code: int = 200,
    *,
    quote: dict[str, Any] | None = None,
    challenge: Any = None,
    error: DomainError | None = None,
) -> Response:
    with platform.transaction() as session:
        mobile = platform.accounts.customer(session, me.id).mobile
    return render(
        request,
        "invest_ticket.html",
        status_code,
        names=_names(platform, lang_of(request)),
        accounts=accounts_view(platform, me.id),
        form=form,
        quote=quote,
        challenge=None if challenge is None else challenge_view(challenge, mobile=mobile),
        error=None if error is None else refusal_text(request, error),
    )


@router.get("/ticket")
def invest_ticket(
    request: Request, platform: PlatformDep, me: Me, product: Code = "AU_CNY"
) -> Response:
    """The order ticket: what to trade; the next step asks the bank's quote."""
    form = {"product": product, "side": "long", "act": "open", "quantity": "", "account": ""}
    return _ticket(request, platform, me, form)


@router.post("/quote")
def invest_quote(
    request: Request,
    platform: PlatformDep,
    me: Me,
    product: Annotated[str, Form(max_length=20)] = "",
    side: Annotated[str, Form(max_length=5)] = "long",
    act: Annotated[str, Form(max_length=5)] = "open",
    quantity: Annotated[str, Form(max_length=40)] = "",
    account: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The bank's quote for the ticket, with its countdown (10 s) and the button to
    trade at it."""
    check_csrf(request, csrf)
    form = {"product": product, "side": side, "act": act, "quantity": quantity}
    form |= {"account": account, "client_id": uuid.uuid4().hex}
    try:
        chosen = platform.invest.catalogue.product(product)
        parse_positive_amount(quantity.strip(), scale=chosen.quantity_scale)
        with platform.transaction() as session:
            q = platform.invest.quote(session, customer_id=me.id, code=chosen.code)
    except DomainError as error:
        return _ticket(request, platform, me, form, error.status, error=error)
    return _ticket(request, platform, me, form, quote=_quote_view(q, chosen, side, act))


def _quote_view(q: Any, product: Product, side: str, action: str) -> dict[str, Any]:
    price = q.ask if buys(side, action) else q.bid  # type: ignore[arg-type]
    return {
        "id": q.id,
        "bid": product.price_text(q.bid),
        "ask": product.price_text(q.ask),
        "price": product.price_text(price),
        "expires_at": q.expires_at.isoformat(),
        "seconds": int((q.expires_at - q.issued_at).total_seconds()),
    }


@router.post("/trade")
def invest_trade(
    request: Request,
    platform: PlatformDep,
    me: Me,
    quote_id: Annotated[str, Form(min_length=1, max_length=64)],
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    product: Annotated[str, Form(max_length=20)] = "",
    side: Annotated[str, Form(max_length=5)] = "long",
    act: Annotated[str, Form(max_length=5)] = "open",
    quantity: Annotated[str, Form(max_length=40)] = "",
    account: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Trade at the quote: refused once it expired or the price moved (the ticket
    shows why, to ask a new quote)."""
    check_csrf(request, csrf)
    form = {"product": product, "side": side, "act": act, "quantity": quantity}
    form |= {"account": account, "client_id": client_id}
    trade_id = f"web:{client_id}"
    action = act if act in ("open", "close") else "open"
    side = side if side in ("long", "short") else "long"

    def refused(error: DomainError) -> Response:
        form["client_id"] = uuid.uuid4().hex
        return _ticket(request, platform, me, form, error.status, error=error)

    try:
        chosen = platform.invest.catalogue.product(product)
        qty = parse_positive_amount(quantity.strip(), scale=chosen.quantity_scale)
        with platform.transaction() as session:
            q = platform.invest.quote_of(session, me.id, quote_id)
    except DomainError as error:
        return refused(error)

    def work(session: Session) -> Response:
        platform.invest.trade(
            session,
            customer_id=me.id,
            quote_id=quote_id,
            side=side,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
            quantity=qty,
            account_number=account,
            client_id=trade_id,
        )
        return see_other(f"/invest?product={chosen.code}&done=traded")

    key = keyed(
        f"customer:{me.id}:invest_trade",
        trade_id,
        {"quote_id": quote_id, "side": side, "action": action, "quantity": qty},
        conflict=TradeConflict,
    )
    if action == "close":
        try:
            with platform.audited(
                actor_kind="customer",
                actor_id=me.id,
                action="invest.close",
                target=quote_id,
                idempotency=key,
            ) as session:
                return work(session)
        except DomainError as error:
            return refused(error)
    price = q.ask if buys(side, action) else q.bid  # type: ignore[arg-type]
    amount = notional(price, qty, chosen.quantity_scale, pays=True)
    if side == "short":
        amount = margin_for(amount, chosen.margin_bps)
    return confirm_payment(
        platform,
        me.id,
        PaymentRequest(
            purpose="invest_trade",
            payer=account,
            payee=f"invest:{chosen.code}",
            amount=amount,
            currency=chosen.quote_currency,
            client_id=trade_id,
        ),
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        work,
        already_done=lambda session: (
            platform.invest.trade_by_client_id(session, me.id, trade_id) is not None
        ),
        again=lambda shown, error: _ticket(
            request,
            platform,
            me,
            form,
            200 if error is None else 422,
            quote=_quote_view(q, chosen, side, action),
            challenge=shown,
            error=error,
        ),
        refused=refused,
        done_before=lambda: see_other(f"/invest?product={chosen.code}&done=traded"),
        idempotency=key,
    )


@router.post("/orders/{order_id}/cancel")
def invest_cancel(
    request: Request,
    order_id: IdParam,
    platform: PlatformDep,
    me: Me,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    with platform.audited(
        actor_kind="customer", actor_id=me.id, action="invest.cancel", target=str(order_id)
    ) as session:
        platform.invest.cancel_order(session, customer_id=me.id, order_id=order_id)
    return see_other("/invest?done=cancelled")


ORDER_KINDS = ("limit", "stop", "oco", "if_done", "circular", "one_to_many", "add_on")
PRICES = ("price", "limit", "stop", "entry", "exit")
ORDER_FIELDS = ("product", "kind", "side", "act", "quantity", *PRICES)
OTHER_FIELDS = ("exit_kind", "valid_hours", "account", "client_id")
Field40 = Annotated[str, Form(max_length=40)]


def _order_page(
    request: Request,
    platform: Platform,
    me: Principal,
    form: dict[str, str],
    status_code: int = 200,
    *,
    challenge: Any = None,
    error: DomainError | None = None,
) -> Response:
    with platform.transaction() as session:
        mobile = platform.accounts.customer(session, me.id).mobile
    return render(
        request,
        "invest_order.html",
        status_code,
        names=_names(platform, lang_of(request)),
        kinds=ORDER_KINDS,
        accounts=accounts_view(platform, me.id),
        form=form,
        challenge=None if challenge is None else challenge_view(challenge, mobile=mobile),
        error=None if error is None else refusal_text(request, error),
    )


@router.get("/order")
def invest_order_form(
    request: Request, platform: PlatformDep, me: Me, product: Code = "AU_CNY"
) -> Response:
    """The pending order form: every kind on one form, the prices its kind needs."""
    form = dict.fromkeys(ORDER_FIELDS + OTHER_FIELDS, "")
    form |= {"product": product, "kind": "limit", "side": "long", "act": "open"}
    form |= {"exit_kind": "limit", "valid_hours": "24", "client_id": uuid.uuid4().hex}
    return _order_page(request, platform, me, form)


@router.post("/order")
def invest_order_place(
    request: Request,
    platform: PlatformDep,
    me: Me,
    product: Annotated[str, Form(max_length=20)] = "",
    kind: Annotated[str, Form(max_length=12)] = "limit",
    side: Annotated[str, Form(max_length=5)] = "long",
    act: Annotated[str, Form(max_length=5)] = "open",
    quantity: Field40 = "",
    price: Field40 = "",
    limit: Field40 = "",
    stop: Field40 = "",
    entry: Field40 = "",
    exit: Field40 = "",
    exit_kind: Annotated[str, Form(max_length=5)] = "limit",
    valid_hours: Annotated[str, Form(max_length=3)] = "24",
    account: Field40 = "",
    client_id: Annotated[str, Form(max_length=64)] = "",
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Place a pending order: the API's spec, checks and refusals (``order_spec``,
    ``InvestService.place_order``); one that sets money aside is confirmed as that
    payment, with the house's challenge (``order_payment``)."""
    check_csrf(request, csrf)
    form = {"product": product, "kind": kind, "side": side, "act": act, "quantity": quantity}
    form |= {"price": price, "limit": limit, "stop": stop, "entry": entry, "exit": exit}
    form |= {"exit_kind": exit_kind, "valid_hours": valid_hours, "account": account}
    form["client_id"] = client_id or uuid.uuid4().hex
    act = act if act in ("open", "close") else "open"
    exit_kind = exit_kind if exit_kind in ("limit", "stop") else "limit"
    order_id = f"web:{form['client_id']}"

    def refused(error: DomainError) -> Response:
        form["client_id"] = uuid.uuid4().hex
        return _order_page(request, platform, me, form, error.status, error=error)

    def done() -> Response:
        return see_other(f"/invest?product={product}&done=ordered")

    try:
        chosen = platform.invest.catalogue.product(product)
        hours = int(valid_hours) if valid_hours.strip().isdigit() else 0
        spec = order_spec(
            chosen,
            kind=kind,
            side=side,
            action=act,
            quantity=quantity.strip(),
            prices={
                name: form[name].strip() for name in ("price", "limit", "stop", "entry", "exit")
            },
            exit_kind=exit_kind,
        )
        reserve = platform.invest.reserve_for(chosen.code, spec)
    except DomainError as error:
        return refused(error)
    key = keyed(
        f"customer:{me.id}:invest_order",
        order_id,
        {"product": chosen.code, "spec": spec, "valid_hours": hours, "account": account},
        conflict=OrderConflict,
    )

    def work(session: Session) -> Response:
        platform.invest.place_order(
            session,
            customer_id=me.id,
            product_code=chosen.code,
            spec=spec,
            account_number=account,
            valid_hours=hours,
            client_id=order_id,
        )
        return done()

    if not reserve:
        try:
            with platform.audited(
                actor_kind="customer",
                actor_id=me.id,
                action="invest.order",
                target=chosen.code,
                idempotency=key,
            ) as session:
                return work(session)
        except DomainError as error:
            return refused(error)
    return confirm_payment(
        platform,
        me.id,
        order_payment(chosen, reserve, account=account, client_id=order_id),
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        work,
        already_done=lambda session: (
            platform.invest.order_by_client_id(session, me.id, order_id) is not None
        ),
        again=lambda shown, error: _order_page(
            request,
            platform,
            me,
            form,
            200 if error is None else 422,
            challenge=shown,
            error=error,
        ),
        refused=refused,
        done_before=done,
        idempotency=key,
    )
