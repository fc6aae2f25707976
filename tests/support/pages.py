"""The web bank's pages as found from the app's routes, and what a reader sees of one.

Tests that walk every page (the Chinese pages' words here; the layout's walk keeps its
own copy of the route finding until it is moved here) use these, so a page added later
is walked too."""

from __future__ import annotations

import importlib
import pkgutil
import re
from html.parser import HTMLParser

from fastapi import APIRouter
from fastapi.routing import APIRoute

from rongbank import web

NOT_PAGES = {
    "/lang/{lang}": "switches the language and goes back",
    "/statement.{fmt}": "a CSV or PDF download",
    "/merchant/transactions.csv": "a download",
    "/merchant/settlement.csv": "a download",
    "/staff/settlements/{day}/transactions.csv": "a download",
    "/staff/risk/aml/large-value.csv": "a download",
    "/invest/board/stream": "an event stream the quote board listens to",
    "/mall/images/{image_id}": "a product's image",
    "/chat/list": "a fragment the chat list refreshes itself with",
    "/chat/{conversation_id}/messages": "a fragment of new messages",
    "/chat/{conversation_id}/messages/{seq}/attachment": "a file download",
    "/staff/chat/desk": "a fragment of the desk",
    "/staff/chat/{conversation_id}/messages": "a fragment of new messages",
    "/staff/chat/{conversation_id}/messages/{seq}/attachment": "a file download",
    "/staff/risk/alerts": "a fragment the risk desk's live alerts refresh themselves with",
    "/staff/risk/backtests/{backtest_id}/progress": "a fragment a backtest's page polls",
}
"""GET routes of the web package that are not pages, with why."""


def plain(path: str) -> str:
    """The path without its parameters' converters: ``{seq:int}`` -> ``{seq}``."""
    return re.sub(r"{(\w+):\w+}", r"{\1}", path)


def page_routes() -> list[APIRoute]:
    """The GET routes of every router of the web package (each module's ``router``,
    included in the app as it is: see ``api/app.py``), less :data:`NOT_PAGES`."""
    routers = [
        vars(importlib.import_module(f"rongbank.web.{m.name}")).get("router")
        for m in pkgutil.iter_modules(web.__path__)
    ]
    routes = [
        r
        for router in routers
        if isinstance(router, APIRouter)
        for r in router.routes
        if isinstance(r, APIRoute) and "GET" in r.methods and plain(r.path) not in NOT_PAGES
    ]
    return sorted(routes, key=lambda r: r.path)


def audience(path: str) -> str:
    if path.startswith("/staff"):
        return "staff"
    return "merchant" if path.startswith("/merchant") else "customer"


class Visible(HTMLParser):
    """The words a reader sees on a page: its text (not scripts or styles, nor code
    marked ``translate="no"``: identifiers such as a rule's feature names) and the
    attributes a browser shows or reads out (placeholders, titles, labels, buttons)."""

    SHOWN = ("placeholder", "title", "aria-label", "alt")
    HIDDEN = ("script", "style", "template")

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._identifiers = 0
        self.feed(page)
        self.close()

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in self.HIDDEN:
            self._hidden += 1
        elif tag == "code" and a.get("translate") == "no":
            self._identifiers += 1
            self._hidden += 1
        self.parts += [a[name] for name in self.SHOWN if a.get(name)]
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.parts.append(a["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1
        elif tag == "code" and self._identifiers:
            self._identifiers -= 1
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)
