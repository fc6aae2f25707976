"""The customer's home in the web bank: the dashboard they land on after login
(total assets, recent movements, quick actions, unread notices, spending by category
and month as charts), their history across accounts (newest first, filtered by
date, amount and words, a page at a time) and a page per movement.

What the pages show is the overview domain's (:mod:`rongbank.overview`); the charts
are Apache ECharts, vendored under /static (``ECHARTS``), drawn by /static/home.js
from the figures the page carries as JSON (the Content-Security-Policy allows no
inline script). Without JavaScript the same figures are a list."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from rongbank.accounts.statements import BANK_MEMOS
from rongbank.api.one_hop import OneHopRoute
from rongbank.chat.service import CUSTOMER, Member
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError
from rongbank.inputs import Day, IdParam, parse_id
from rongbank.money import parse_amount
from rongbank.overview.categories import Category
from rongbank.overview.errors import HistoryFilterInvalid
from rongbank.overview.service import (
    Assets,
    Movement,
    MovementFilter,
    PartyKind,
    Spending,
)
from rongbank.web.formatting import amount
from rongbank.web.i18n import LANGUAGES, translate
from rongbank.web.pages import Me, PlatformDep, lang_of, local_time, refusal_text, render

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

ECHARTS = "/static/echarts-6.1.0.min.js"
"""Apache ECharts 6.1.0 (Apache-2.0), ``dist/echarts.min.js`` of the npm package as
published; where it came from and its licence: ``static/VENDORED.md``."""
RECENT = 5
"""Movements on the dashboard."""
NOTICES_SHOWN = 3
HISTORY_PAGE = 20


def _party(movement: Movement, t: dict[str, str]) -> str:
    """The other side in one line, in the page's language."""
    party = movement.counterparty
    if party.kind is PartyKind.BANK:
        return t["bank"]
    return " ".join(part for part in (party.name, party.reference) if part)


def _movement_view(movement: Movement, t: dict[str, str]) -> dict[str, Any]:
    label = t[f"category_{movement.category}"]
    return {
        "id": movement.posting_id,
        "entry_id": movement.entry_id,
        "at": local_time(movement.at),
        "at_full": movement.at.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M:%S"),
        "account": movement.account,
        "account_tail": movement.account[-4:],
        # Signed, as banks print them: +1,000.00 in, -250.50 out.
        "amount": ("+" if movement.amount > 0 else "") + amount(movement.amount),
        "balance": movement.balance,
        "direction": movement.direction,
        "status": movement.status.value,
        "category": movement.category.value,
        "category_label": label,
        # the bank's own movements by their name in the reader's language, as on
        # statements, whatever language the entry was stored in
        "description": t[f"memo_{movement.memo}"]
        if movement.memo
        else movement.description or label,
        "memo": movement.description,
        "party": _party(movement, t),
        "party_kind": movement.counterparty.kind.value,
        "party_name": movement.counterparty.name,
        "party_reference": movement.counterparty.reference,
        # A transfer between e-accounts (a chat card's too) has a printable receipt.
        "receipt": movement.category in (Category.TRANSFER, Category.OWN_TRANSFER),
    }


# -- the dashboard ------------------------------------------------------------------


@router.get("/home")
def dashboard(request: Request, platform: PlatformDep, me: Me) -> Response:
    t = _words(request)
    with platform.transaction() as session:
        customer = platform.accounts.customer(session, me.id)
        assets = platform.overview.assets(session, me.id)
        recent = platform.overview.movements(session, me.id, MovementFilter(), limit=RECENT)
        spending = platform.overview.spending(session, me.id)
        box = platform.push.notice_box_state(session, me.id)
        login = platform.auth.login_history(session, me)
        notices = (
            platform.chat.history(
                session,
                Member(CUSTOMER, me.id),
                conversation_id=box.conversation_id,
                after_seq=max(box.last_read_seq, box.last_seq - NOTICES_SHOWN),
                limit=NOTICES_SHOWN,
            )
            if box and box.unread
            else []
        )
    return render(
        request,
        "home.html",
        customer=customer,
        assets=_assets_view(assets),
        recent=[_movement_view(m, t) for m in recent.movements],
        spending=_spending_view(spending, t),
        notices={
            "unread": box.unread if box else 0,
            "href": f"/chat/{box.conversation_id}" if box else "/chat",
            "latest": [_notice_view(m.body, local_time(m.at)) for m in reversed(notices)],
        },
        echarts=ECHARTS,
        # The landing page: wrong passwords since the last login are told here first.
        previous_login=login.previous_login_at and local_time(login.previous_login_at),
        failed_logins=login.failures_before_login,
    )


def _words(request: Request) -> dict[str, str]:
    return translate(lang_of(request))


def _assets_view(assets: Assets) -> dict[str, Any]:
    return {
        "total": assets.total,
        "accounts_total": assets.accounts_total,
        "wealth_total": assets.wealth_total,
        "accounts": [
            {
                "number": a.account.number,
                "tail": a.account.number[-4:],
                "class": a.account.account_class,
                "status": a.account.status,
                "balance": a.balance,
                "available": a.available,
            }
            for a in assets.accounts
        ],
        "wealth": [
            {
                "id": h.holding.id,
                "name": h.holding.product_name,
                "code": h.holding.product_code,
                "principal": h.holding.left + h.pending,
                "accrued": h.accrued,
                "total": h.total,
            }
            for h in assets.wealth
        ],
    }


def _notice_view(body: str, at: str) -> dict[str, str]:
    try:
        content = json.loads(body)
    except ValueError:
        content = {}
    if not isinstance(content, dict):
        content = {}
    return {"title": str(content.get("title", "")), "text": str(content.get("text", "")), "at": at}


def _spending_view(spending: Spending, t: dict[str, str]) -> dict[str, Any]:
    """The figures for the list and, as JSON, for the charts (fen; home.js shows
    yuan)."""
    categories = [
        {"key": c.value, "label": t[f"category_{c}"], "total": total}
        for c, total in spending.by_category
    ]
    chart = {
        "months": spending.months,
        "categories": categories,
        "series": {
            c.value: [spending.by_month.get(m, {}).get(c, 0) for m in spending.months]
            for c, _ in spending.by_category
        },
        "words": {"by_category": t["spending_by_category"], "by_month": t["spending_by_month"]},
    }
    return {
        "total": spending.total,
        "months": [{"month": m, "total": spending.month_total(m)} for m in spending.months],
        "categories": categories,
        "since": spending.months[0],
        "chart": chart,
    }


# -- history ------------------------------------------------------------------------


_DAY: TypeAdapter[date] = TypeAdapter(Day)


def _optional_day(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return _DAY.validate_python(text)  # YYYY-MM-DD only, as every way in reads a day
    except ValidationError:
        raise HistoryFilterInvalid(field="date", value=text) from None


def _optional_amount(text: str) -> int | None:
    text = text.strip()
    return parse_amount(text, scale=2, currency="CNY") if text else None


def _filter_of(params: dict[str, str]) -> MovementFilter:
    """The history form's fields as a filter; a field that is not understood is
    refused (:class:`HistoryFilterInvalid`, ``invalid_amount``), never ignored."""
    category = params.get("category", "")
    direction = params.get("direction", "")
    if category and category not in Category.__members__.values():
        raise HistoryFilterInvalid(field="category")
    if direction not in ("", "in", "out"):
        raise HistoryFilterInvalid(field="direction")
    return MovementFilter(
        account=params.get("account") or None,
        start=_optional_day(params.get("start", "")),
        end=_optional_day(params.get("end", "")),
        min_amount=_optional_amount(params.get("min", "")),
        max_amount=_optional_amount(params.get("max", "")),
        direction=direction or None,
        category=Category(category) if category else None,
        text=params.get("q", "").strip() or None,
        memos=_memos_named(params.get("q", "").strip()),
    )


def _memos_named(words: str) -> tuple[str, ...]:
    """The bank's own names of movements (keys of ``BANK_MEMOS``) that hold ``words``
    in any language the pages show them in: a customer searches for what they read,
    whatever the entry stored (entries before these names were stored in English)."""
    if not words:
        return ()
    wanted = words.casefold()
    return tuple(
        key
        for key in BANK_MEMOS
        if any(wanted in translate(lang)[f"memo_{key}"].casefold() for lang in LANGUAGES)
    )


HISTORY_FIELDS = ("account", "start", "end", "min", "max", "direction", "category", "q")


@router.get("/history")
def history(request: Request, platform: PlatformDep, me: Me) -> Response:
    """Every movement of the customer's accounts (or one account), newest first,
    filtered by business dates, amount, direction, category and words in the memo
    or the other side's name; ``before`` goes on to older ones."""
    t = _words(request)
    params = {k: request.query_params.get(k, "")[:100] for k in (*HISTORY_FIELDS, "before")}
    with platform.transaction() as session:
        accounts = [a for a, _ in platform.accounts.accounts_of(session, me.id)]
    context: dict[str, Any] = {
        "accounts": [a.number for a in accounts],
        "form": params,
        "categories": [(c.value, t[f"category_{c}"]) for c in Category],
        "today": platform.accounts.business_day().isoformat(),
    }
    try:
        filters = _filter_of(params)
        before = parse_id(params["before"])
        with platform.transaction() as session:
            page = platform.overview.movements(
                session, me.id, filters, before=before, limit=HISTORY_PAGE
            )
    except DomainError as error:
        return render(
            request,
            "history.html",
            422,
            movements=[],
            error=refusal_text(request, error),
            **context,
        )
    kept = {k: params[k] for k in HISTORY_FIELDS if params[k]}
    return render(
        request,
        "history.html",
        movements=[_movement_view(m, t) for m in page.movements],
        older=f"/history?{urlencode({**kept, 'before': page.next_before})}"
        if page.next_before
        else None,
        filtered=bool(kept),
        **context,
    )


@router.get("/history/{posting_id}")
def movement_page(posting_id: IdParam, request: Request, platform: PlatformDep, me: Me) -> Response:
    """One movement: the other side, the memo, the time (Beijing), the account, the
    ledger entry and its status. Another customer's is not found, as one that does
    not exist."""
    try:
        with platform.transaction() as session:
            movement = platform.overview.movement(session, me.id, posting_id)
    except DomainError as error:
        return render(
            request,
            "movement.html",
            error.status,
            movement=None,
            error=refusal_text(request, error),
        )
    return render(request, "movement.html", movement=_movement_view(movement, _words(request)))
