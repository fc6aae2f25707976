"""工银e投资 over HTTP (``/me/invest``): the products and the live quote board (SSE),
candles, quotes, trades at a quote (an opening trade moves the customer's money, so it
is authorised as a payment: step-up, limits, risk), positions with their result,
pending orders and the history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from rongbank.api.deps import CustomerPrincipal, PlatformDep, keyed_request
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.limits import ToolKind
from rongbank.auth.tools import PaymentRequest
from rongbank.inputs import IdParam
from rongbank.invest import schemas as s
from rongbank.invest.amounts import buys, margin_for, notional
from rongbank.invest.errors import OrderConflict, TradeConflict
from rongbank.invest.products import PRICE_SCALE, Product
from rongbank.money import parse_amount, parse_positive_amount
from rongbank.platform import Platform

customer = APIRouter(tags=["invest"], prefix="/me/invest", route_class=OneHopRoute)

Code = Annotated[str, Path(pattern=r"^[A-Z_]{2,20}$")]


def _quantity(product: Product, text: str) -> int:
    return parse_positive_amount(text, scale=product.quantity_scale, currency=product.holding)


def _price(text: str | None) -> int | None:
    return None if text is None else parse_amount(text, scale=PRICE_SCALE)


def board(platform: Platform) -> list[s.InvestBoardLine]:
    now = platform.clock.now()
    market = platform.invest.market(now)
    lines = []
    for code, product in sorted(platform.invest.catalogue.products.items()):
        q = market.get(code)
        if q is None:
            lines.append(s.InvestBoardLine(product=code, bid=None, ask=None, status="closed"))
            continue
        halted = bool(q["halted"])
        lines.append(
            s.InvestBoardLine(
                product=code,
                bid=None if halted else product.price_text(q["bid"]),
                ask=None if halted else product.price_text(q["ask"]),
                status="halted" if halted else "open",
                contract=q["contract"],
            )
        )
    return lines


@customer.get("/products")
def invest_products(platform: PlatformDep, _: CustomerPrincipal) -> list[s.InvestProductOut]:
    return [s.InvestProductOut.of(p) for _, p in sorted(platform.invest.catalogue.products.items())]


@customer.get("/board")
def invest_quote_board(platform: PlatformDep, _: CustomerPrincipal) -> list[s.InvestBoardLine]:
    """Every product's bid and ask now (indicative: trade at a quote you ask for). The
    same board as Server-Sent Events, one a second: ``GET /me/invest/board/stream``."""
    return board(platform)


# Kept out of the OpenAPI document: a stream is no request/response operation to fuzz
# (each example would wait a second per update); the page's EventSource uses it.
@customer.get("/board/stream", response_class=StreamingResponse, include_in_schema=False)
async def invest_quote_board_stream(
    platform: PlatformDep,
    _: CustomerPrincipal,
    updates: Annotated[int, Query(ge=1, le=600)] = 300,
) -> StreamingResponse:
    """The quote board as Server-Sent Events, one ``board`` event a second, ``updates``
    of them (the browser's EventSource reconnects after the last)."""

    async def events() -> AsyncIterator[str]:
        for n in range(updates):
            lines = [line.model_dump() for line in board(platform)]
            yield f"event: board\nid: {n}\ndata: {json.dumps(lines)}\n\n"
            if n + 1 < updates:
                await asyncio.sleep(1)

    return StreamingResponse(events(), media_type="text/event-stream")


@customer.get("/products/{code}/candles")
def invest_candles(
    code: Code,
    platform: PlatformDep,
    _: CustomerPrincipal,
    minutes: Annotated[int, Query(ge=1, le=1440)] = 5,
    count: Annotated[int, Query(ge=1, le=200)] = 60,
) -> list[s.InvestCandle]:
    """Candles of the reference price, the last ``count`` of ``minutes`` each (sampled
    every tenth of a candle), oldest first."""
    product = platform.invest.catalogue.product(code)
    width = timedelta(minutes=minutes)
    now = platform.clock.now()
    end = now - (now - platform.invest.catalogue.epoch) % width
    out = []
    for n in range(count, 0, -1):
        start = end - width * n
        points = [
            platform.invest.prices.reference(product, start + width * k / 10, None)
            for k in range(11)
        ]
        out.append(
            s.InvestCandle(
                start=start,
                open=product.price_text(points[0]),
                high=product.price_text(max(points)),
                low=product.price_text(min(points)),
                close=product.price_text(points[-1]),
            )
        )
    return out


@customer.post("/quotes", status_code=201)
def invest_quote(
    body: s.InvestQuoteIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.InvestQuoteOut:
    """A quote to trade at within 10 seconds."""
    with platform.transaction() as session:
        q = platform.invest.quote(session, customer_id=me.id, code=body.product)
    return s.InvestQuoteOut.of(q, platform.invest.catalogue.product(q.product))


@customer.post("/trades", status_code=201)
def invest_trade(
    body: s.InvestTradeIn, platform: PlatformDep, me: CustomerPrincipal, response: Response
) -> s.InvestTradeOut:
    """Trade at a quote: 201 made now, 200 a retry (``client_id``). Refused 409
    ``invest_quote_expired`` once the quote is 10 seconds old, ``invest_price_moved``
    when the price moved beyond the product's tolerance since. Opening is authorised as
    a payment (a challenge may be asked); closing pays you and is not."""
    found: dict[str, Any] = {}

    def payment(session: Session) -> PaymentRequest:
        q = platform.invest.quote_of(session, me.id, body.quote_id)
        product = platform.invest.catalogue.product(q.product)
        quantity = _quantity(product, body.quantity)
        found.update(product=product, quantity=quantity)
        price = q.ask if buys(body.side, body.action) else q.bid
        amount = notional(price, quantity, product.quantity_scale, pays=True)
        if body.side == "short":
            amount = margin_for(amount, product.margin_bps)
        return PaymentRequest(
            purpose="invest_trade",
            payer=body.account,
            payee=f"invest:{product.code}",
            amount=amount,
            currency=product.quote_currency,
            client_id=body.client_id,
        )

    def made(session: Session) -> bool:
        return platform.invest.trade_by_client_id(session, me.id, body.client_id) is not None

    key = keyed_request(
        f"customer:{me.id}:invest_trade", body.client_id, body, conflict=TradeConflict
    )

    def run(session: Session) -> tuple[dict[str, Any], bool]:
        if not found:
            payment(session)
        return platform.invest.trade(
            session,
            customer_id=me.id,
            quote_id=body.quote_id,
            side=body.side,
            action=body.action,
            quantity=found["quantity"],
            account_number=body.account,
            client_id=body.client_id,
        )

    if body.action == "open":
        with platform.authorised(
            payment,
            customer_id=me.id,
            challenge_id=body.challenge_id,
            response=body.response,
            prefer=ToolKind(body.tool) if body.tool else None,
            already_done=made,
            idempotency=key,
        ) as session:
            done, created = run(session)
    else:
        with platform.audited(
            actor_kind="customer",
            actor_id=me.id,
            action="invest.close",
            target=body.quote_id,
            idempotency=key,
        ) as session:
            done, created = run(session)
    response.status_code = 201 if created else 200
    return s.InvestTradeOut.of(done, found["product"])


@customer.get("/trades")
def invest_history(platform: PlatformDep, me: CustomerPrincipal) -> list[s.InvestTradeOut]:
    """Your trades, newest first: at a quote, by a pending order, or forced (``why``)."""
    catalogue = platform.invest.catalogue
    with platform.transaction() as session:
        rows = platform.invest.trades(session, me.id)
    return [s.InvestTradeOut.of(t, catalogue.product(t["product"])) for t in rows]


@customer.get("/positions")
def invest_positions(platform: PlatformDep, me: CustomerPrincipal) -> list[s.InvestPositionOut]:
    """Your positions, long and short apart, valued at the bank's price now."""
    catalogue = platform.invest.catalogue
    market = platform.invest.market(platform.clock.now())
    with platform.transaction() as session:
        held = platform.invest.positions(session, me.id)
    out = []
    for p in held:
        q = market.get(p.product)
        mark = None if q is None or q["halted"] else q["bid" if p.side == "long" else "ask"]
        out.append(s.InvestPositionOut.of(p, catalogue.product(p.product), mark))
    return out


_PRICES = ("price", "limit", "stop", "entry", "exit")


def order_spec(
    product: Product,
    *,
    kind: str,
    side: str,
    action: str,
    quantity: str,
    prices: Mapping[str, str | None],
    exit_kind: str = "limit",
) -> dict[str, Any]:
    """A pending order's spec (kind, side, quantity and prices in minor units) from
    what the customer typed: the API's body and the web form's fields alike."""
    spec: dict[str, Any] = {"kind": kind, "side": side, "quantity": _quantity(product, quantity)}
    if kind == "limit":
        spec["action"] = action
    if kind == "if_done":
        spec["exit_kind"] = exit_kind
    for name in _PRICES:
        value = _price(prices.get(name) or None)
        if value is not None:
            spec[name] = value
    return spec


def order_payment(
    product: Product, reserve: int, *, account: str, client_id: str
) -> PaymentRequest:
    """Placing an order that opens moves its reserve out of the customer's account
    now, for only the order's own fill to spend later: a payment authorised in
    advance (like a standing order's set-up), so it is authorised now, with step-up,
    limits and the risk check, and counted today; the fill needs nobody."""
    return PaymentRequest(
        purpose="invest_order",
        payer=account,
        payee=f"invest:{product.code}",
        amount=reserve,
        currency=product.quote_currency,
        client_id=client_id,
    )


@customer.post("/orders", status_code=201)
def invest_place_order(
    body: s.InvestOrderIn, platform: PlatformDep, me: CustomerPrincipal, response: Response
) -> s.InvestOrderOut:
    """Rest a pending order for 24 to 120 hours (``valid_hours``); what its opening
    needs (cash, or a short's margin) is set aside from ``account`` until it fills or
    ends, authorised as a payment now (a challenge may be asked, as for a trade); an
    order that only closes moves nothing and is not. 201 placed now, 200 a retry
    (``client_id``)."""
    product = platform.invest.catalogue.product(body.product)
    spec = order_spec(
        product,
        kind=body.kind,
        side=body.side,
        action=body.action,
        quantity=body.quantity,
        prices={name: getattr(body, name) for name in _PRICES},
        exit_kind=body.exit_kind,
    )
    reserve = platform.invest.reserve_for(product.code, spec)
    key = keyed_request(
        f"customer:{me.id}:invest_order", body.client_id, body, conflict=OrderConflict
    )
    if reserve:
        placing = platform.authorised(
            order_payment(product, reserve, account=body.account, client_id=body.client_id),
            customer_id=me.id,
            challenge_id=body.challenge_id,
            response=body.response,
            prefer=ToolKind(body.tool) if body.tool else None,
            already_done=lambda session: (
                platform.invest.order_by_client_id(session, me.id, body.client_id) is not None
            ),
            idempotency=key,
        )
    else:
        placing = platform.audited(
            actor_kind="customer",
            actor_id=me.id,
            action="invest.order",
            target=body.product,
            idempotency=key,
        )
    with placing as session:
        order, created = platform.invest.place_order(
            session,
            customer_id=me.id,
            product_code=product.code,
            spec=spec,
            account_number=body.account,
            valid_hours=body.valid_hours,
            client_id=body.client_id,
        )
    response.status_code = 201 if created else 200
    return s.InvestOrderOut.of(order, product)


@customer.get("/orders")
def invest_my_orders(platform: PlatformDep, me: CustomerPrincipal) -> list[s.InvestOrderOut]:
    catalogue = platform.invest.catalogue
    with platform.transaction() as session:
        rows = platform.invest.orders(session, me.id)
    return [s.InvestOrderOut.of(o, catalogue.product(o["product"])) for o in rows]


@customer.post("/orders/{order_id}/cancel")
def invest_cancel_order(
    order_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.InvestOrderOut:
    """Cancel a pending order; what it set aside comes back."""
    with platform.audited(
        actor_kind="customer", actor_id=me.id, action="invest.cancel", target=str(order_id)
    ) as session:
        order = platform.invest.cancel_order(session, customer_id=me.id, order_id=order_id)
    return s.InvestOrderOut.of(order, platform.invest.catalogue.product(order["product"]))
