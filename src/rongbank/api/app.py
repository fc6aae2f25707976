"""The HTTP application."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from rongbank import __version__, metrics
from rongbank.accounts import endpoints as accounts_endpoints
from rongbank.accounts.funding_endpoints import router as funding_router
from rongbank.accounts.payee_endpoints import router as payees_router
from rongbank.accounts.schedule_endpoints import router as scheduled_router
from rongbank.accounts.statement_endpoints import router as statements_router
from rongbank.api import docs_page, tracing
from rongbank.api.dispatch import dispatch_by_segments
from rongbank.api.docs import complete_openapi
from rongbank.api.errors import install_error_handlers
from rongbank.api.guard import InputGuard
from rongbank.api.headers import SecurityHeaders
from rongbank.api.observe import Observe
from rongbank.api.observe import router as operations_router
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth import endpoints as auth_endpoints
from rongbank.auth import session_endpoints
from rongbank.chat import attachment_endpoints, card_endpoints, push_endpoints
from rongbank.chat import endpoints as chat_endpoints
from rongbank.chat.gateway import router as chat_gateway
from rongbank.invest import endpoints as invest_endpoints
from rongbank.ledger.endpoints import router as ledger_router
from rongbank.lending import checkout_endpoints as yidai_checkout
from rongbank.lending import decision_endpoints as lending_decisions
from rongbank.lending import loan_endpoints
from rongbank.lending import settlement_share_endpoints as settlement_shares
from rongbank.mall.catalogue import endpoints as mall_catalogue
from rongbank.mall.orders import endpoints as mall_orders
from rongbank.payments import endpoints as payments_endpoints
from rongbank.platform import Platform
from rongbank.risk.cases import endpoints as risk_cases
from rongbank.risk.engine import endpoints as risk_backtests
from rongbank.risk.engine.device import DeviceId
from rongbank.wealth import endpoints as wealth_endpoints
from rongbank.web import (
    account_pages,
    chat_card_pages,
    chat_desk_pages,
    chat_pages,
    error_pages,
    funding_pages,
    home_pages,
    invest_pages,
    invest_staff_pages,
    lending_pages,
    loan_pages,
    mall_cart_pages,
    mall_order_pages,
    mall_pages,
    mall_seller_order_pages,
    mall_seller_pages,
    mall_staff_pages,
    merchant_pages,
    ops_pages,
    pages,
    pay_pages,
    profile_pages,
    risk_aml_pages,
    risk_pages,
    risk_question_pages,
    risk_rule_pages,
    scheduled_pages,
    security_pages,
    staff_customer_pages,
    staff_lending_pages,
    staff_liquidity_pages,
    staff_merchant_pages,
    staff_notice_pages,
    staff_pages,
    staff_portfolio_pages,
    staff_share_pages,
    staff_wealth_pages,
    transfer_pages,
    wealth_pages,
    yidai_pages,
)

SERVER_GC_THRESHOLDS = (50_000, 20, 1_000)
"""With the young generation collected every ``YOUNG_COLLECTION_S``, the middle one
is collected every two seconds (small: what survived them) and a full collection
(~0.5 s with 5,000 sockets) is considered every half hour, not every few minutes."""
YOUNG_COLLECTION_S = 0.1


def tune_gc_for_serving() -> None:
    """For a server process, before it serves. A chat gateway keeps thousands of
    sockets open for hours; with CPython's default thresholds (700, 10, 10) the
    collector walks their objects again and again, a fifth of the server's CPU with
    5,000 sockets (``rongbank bench chat``; latency p50 1.7 s against 0.3 s tuned).
    What startup built (modules, the app) is frozen out of collection, the young
    generation is collected by time (:func:`_collect_young`) and the older ones less
    often. Reference counting still frees nearly everything at once; the collector
    only finds cycles. Not for tests: they start many apps in one process and would
    freeze the ones before."""
    gc.freeze()
    gc.set_threshold(*SERVER_GC_THRESHOLDS)
    threading.Thread(target=_collect_young, name="gc-young", daemon=True).start()


def _collect_young() -> None:
    """Collect the young generation every ``YOUNG_COLLECTION_S``, whatever its count.
    CPython counts allocations less deallocations of any age, so while a gateway
    replaces each socket's waiting objects (a new coroutine a frame, the old one
    freed) the count stays low and the young list grows without a collection: one
    then walked 200,000 objects and held the GIL ~100 ms (the p99 of ``rongbank bench
    chat``). Collected by time, it holds a tenth of a second's survivors."""
    while True:
        time.sleep(YOUNG_COLLECTION_S)
        gc.collect(0)


def create_app(platform: Platform, *, background: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        platform.start(background=background)
        try:
            yield
        finally:
            platform.close()
            metrics.process_ended()

    app = FastAPI(
        title="Rongbank API",
        version=__version__,
        description="Open internet banking: direct bank, e-Pay, e-Mall, e-Link, online financing.",
        lifespan=lifespan,
        docs_url=None,  # served from vendored files: docs_page
        redoc_url=None,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        servers=[{"url": "/", "description": "This server"}],
        # Operation ids are the endpoint functions' names: short, and stable for
        # generated clients (FastAPI's default also spells out the path and method).
        generate_unique_id_function=lambda route: route.name,
    )
    app.router.route_class = OneHopRoute  # routes added here directly (the favicon)
    app.state.platform = platform
    install_error_handlers(app, page=error_pages.error_page)
    complete_openapi(app)
    app.add_middleware(InputGuard, page=error_pages.error_page)

    app.include_router(operations_router)  # /healthz, /readyz, /metrics

    # The order of the routers is the order in which they win; what a request costs
    # to route no longer depends on it (``dispatch_by_segments``, at the end).
    app.include_router(chat_gateway, prefix="/api/v1")
    app.include_router(ledger_router, prefix="/api/v1/ledger")
    app.include_router(accounts_endpoints.public, prefix="/api/v1")
    app.include_router(accounts_endpoints.customer, prefix="/api/v1")
    app.include_router(accounts_endpoints.staff, prefix="/api/v1")
    app.include_router(auth_endpoints.customer, prefix="/api/v1")
    app.include_router(auth_endpoints.staff, prefix="/api/v1")
    app.include_router(auth_endpoints.public, prefix="/api/v1")
    app.include_router(session_endpoints.customer, prefix="/api/v1")
    app.include_router(session_endpoints.public, prefix="/api/v1")
    app.include_router(funding_router, prefix="/api/v1")
    app.include_router(statements_router, prefix="/api/v1")
    app.include_router(payees_router, prefix="/api/v1")
    app.include_router(scheduled_router, prefix="/api/v1")
    app.include_router(payments_endpoints.customer, prefix="/api/v1")
    app.include_router(payments_endpoints.merchant, prefix="/api/v1")
    app.include_router(payments_endpoints.staff, prefix="/api/v1")
    app.include_router(mall_catalogue.customer, prefix="/api/v1")
    app.include_router(mall_catalogue.merchant, prefix="/api/v1")
    app.include_router(mall_catalogue.staff, prefix="/api/v1")
    app.include_router(chat_endpoints.customer, prefix="/api/v1")
    app.include_router(chat_endpoints.staff, prefix="/api/v1")
    app.include_router(attachment_endpoints.customer, prefix="/api/v1")
    app.include_router(attachment_endpoints.staff, prefix="/api/v1")
    app.include_router(push_endpoints.customer, prefix="/api/v1")
    app.include_router(push_endpoints.staff, prefix="/api/v1")
    app.include_router(card_endpoints.customer, prefix="/api/v1")
    app.include_router(card_endpoints.staff, prefix="/api/v1")
    app.include_router(wealth_endpoints.customer, prefix="/api/v1")
    app.include_router(wealth_endpoints.staff, prefix="/api/v1")
    app.include_router(loan_endpoints.customer, prefix="/api/v1")
    app.include_router(invest_endpoints.customer, prefix="/api/v1")
    app.include_router(lending_decisions.customer, prefix="/api/v1")
    app.include_router(lending_decisions.staff, prefix="/api/v1")
    app.include_router(yidai_checkout.customer, prefix="/api/v1")
    app.include_router(risk_cases.staff, prefix="/api/v1")
    app.include_router(risk_cases.customer, prefix="/api/v1")
    app.include_router(risk_backtests.staff, prefix="/api/v1")
    app.include_router(mall_orders.customer, prefix="/api/v1")
    app.include_router(mall_orders.merchant, prefix="/api/v1")
    app.include_router(mall_orders.staff, prefix="/api/v1")
    app.include_router(settlement_shares.staff, prefix="/api/v1")
    app.include_router(docs_page.router)
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    app.include_router(security_pages.router)
    app.include_router(staff_customer_pages.router)
    app.include_router(funding_pages.router)
    app.include_router(transfer_pages.router)
    app.include_router(scheduled_pages.router)
    app.include_router(pay_pages.router)
    app.include_router(merchant_pages.router)
    app.include_router(chat_pages.router)
    app.include_router(chat_card_pages.router)
    app.include_router(chat_desk_pages.router)
    app.include_router(wealth_pages.router)
    app.include_router(loan_pages.router)
    app.include_router(staff_pages.router)
    app.include_router(staff_merchant_pages.router)
    app.include_router(staff_wealth_pages.router)
    app.include_router(staff_liquidity_pages.router)
    app.include_router(invest_staff_pages.router)
    app.include_router(risk_aml_pages.router)
    app.include_router(risk_rule_pages.router)
    app.include_router(staff_portfolio_pages.router)
    app.include_router(risk_pages.router)
    app.include_router(risk_question_pages.router)
    app.include_router(staff_share_pages.router)
    app.include_router(lending_pages.router)
    app.include_router(yidai_pages.router)
    app.include_router(staff_lending_pages.router)
    app.include_router(staff_notice_pages.router)
    app.include_router(ops_pages.router)
    app.include_router(home_pages.router)
    app.include_router(invest_pages.router)
    app.include_router(profile_pages.router)
    app.include_router(mall_cart_pages.router)
    app.include_router(mall_order_pages.router)
    app.include_router(mall_seller_order_pages.router)
    app.include_router(mall_pages.router)
    app.include_router(mall_seller_pages.router)
    app.include_router(mall_staff_pages.router)
    app.mount(
        "/static", StaticFiles(directory=str(files("rongbank.web") / "static")), name="static"
    )
    # Browsers ask for /favicon.ico of their own where a page names no icon (a JSON
    # answer, a PDF statement): the site's icon, not a 404 in their console.
    app.add_api_route(
        "/favicon.ico",
        lambda: RedirectResponse("/static/favicon.svg", status_code=301),
        include_in_schema=False,
    )

    app.add_middleware(SecurityHeaders)  # outside the input guard: its refusals too
    app.add_middleware(DeviceId)  # the device a payment comes from, for the fraud engine
    app.add_middleware(Observe)  # outermost: times and counts every answer
    tracing.install(app, platform.settings, platform.engine)  # when a setting asks

    app.add_exception_handler(pages.LoginRequired, error_pages.login_required)  # type: ignore[arg-type]

    dispatch_by_segments(app)  # last: it indexes every route above
    return app
