"""Errors as pages in the site's own look, and an expired session that keeps the form.

The API answers every refusal as JSON (``rongbank.api.errors``); a person in a browser
gets the same refusal as a page instead (:func:`error_page`): the page's title and
text in their language, the refusal's code for the bank's staff, a way back.

A form posted after its session expired is kept (:func:`login_required`): its fields,
but never a password, a code or a CSRF token, go into a short-lived HttpOnly cookie
read only by ``/resume``, the login page says so, and after the login ``/resume``
shows them in a form to send again (``rongbank.web.profile_pages``). Sending it again
is the customer's own click, with a token of the new session: nothing is submitted
for them, and a forged post still meets the CSRF check.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from rongbank.web.i18n import ERRORS_ZH, error_text
from rongbank.web.pages import CUSTOMER_COOKIE, LoginRequired, lang_of, render, safe_next

logger = logging.getLogger(__name__)

NOT_PAGES = (
    *("/api/", "/static/", "/docs", "/redoc", "/openapi.json"),
    *("/healthz", "/readyz", "/metrics"),  # the load balancer and the scraper
)
"""Paths answered as the API answers: machines read them."""

KEPT_COOKIE = "rb_kept"
KEPT_PATH = "/resume"
KEPT_SECONDS = 15 * 60
KEPT_MAX_BYTES = 3000
"""A cookie holds about 4 KB; a bigger form (a signature pasted in) is not kept."""
NOT_KEPT = frozenset({"csrf", "password", "current_password", "new_password", "response"})
NOT_KEPT_PREFIXES = ("challenge",)
"""Secrets, and answers to one challenge: a resent form is asked anew."""


def wants_page(request: Request) -> bool:
    return not request.url.path.startswith(NOT_PAGES)


def error_page(
    request: Request, status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response | None:
    """The refusal as a page, for a request to a page; None for an API request."""
    if not wants_page(request):
        return None
    lang = lang_of(request)
    kind = str(status) if status in (403, 404, 500) else "other"
    try:
        return render(
            request,
            "error.html",
            status,
            kind=kind,
            code=code,
            # Chinese only when the catalogue has it: never an English sentence on a
            # Chinese page (the page's own text for the status says enough).
            text=error_text(lang, code, message, details)
            if status not in (404, 500) and (lang == "en" or code in ERRORS_ZH)
            else "",
        )
    except Exception:  # the page itself failed: the caller answers as the API does
        logger.exception("error page for %s failed", code)
        return None


def kept_fields(request: Request) -> tuple[str, list[tuple[str, str]]] | None:
    """The form kept when the session expired: where it was posted, and its fields."""
    blob = request.cookies.get(KEPT_COOKIE)
    if not blob:
        return None
    try:
        kept = json.loads(base64.urlsafe_b64decode(blob.encode()))
        path = safe_next(kept["path"])
        fields = [(str(k), str(v)) for k, v in kept["fields"]]
    except (ValueError, TypeError, KeyError):
        return None
    return None if path is None else (path, fields)


def _kept(path: str, form: Any) -> str | None:
    fields = [
        (name, value)
        for name, value in form.multi_items()
        if isinstance(value, str)
        and name not in NOT_KEPT
        and not name.startswith(NOT_KEPT_PREFIXES)
    ]
    if not fields:  # a bare button: sent again without its page, it would say nothing
        return None
    blob = base64.urlsafe_b64encode(
        json.dumps({"path": path, "fields": fields}, ensure_ascii=False).encode()
    ).decode()
    return blob if len(blob) <= KEPT_MAX_BYTES else None


async def login_required(request: Request, exc: LoginRequired) -> Response:
    """Send the browser to log in. A customer whose session ended comes back after
    the login to the page they asked for, or to the form they posted, kept."""
    if exc.target != "/login" or not request.cookies.get(CUSTOMER_COOKIE):
        return RedirectResponse(exc.target, status_code=303)  # not a session that ended
    if request.method != "POST":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(path, safe='/')}", status_code=303)
    blob = _kept(request.url.path, await request.form())
    if blob is None:
        return RedirectResponse("/login", status_code=303)
    response = RedirectResponse(f"/login?expired=true&next={KEPT_PATH}", status_code=303)
    response.set_cookie(
        KEPT_COOKIE,
        blob,
        max_age=KEPT_SECONDS,
        path=KEPT_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(CUSTOMER_COOKIE)
    return response
