"""Cross-site request forgery: every form that changes something carries a token
bound to the session it acts in.

The token is an HMAC keyed with the secret that authenticates the request: the
bearer token in the session's HttpOnly cookie, once a page's dependency has found
the session (:func:`bind_csrf`). A form shown before any login (logging in, registering)
has no session yet; its token is bound to a random pre-session cookie instead.

Why bound, and not a copy of a cookie (double submit): whoever can write a cookie for
the site (a sibling subdomain, a response over plain HTTP on the way) could set the
cookie and post the same value; and a token seen in one session would be good in
any other. A token derived from the session's own secret is neither: another site
cannot compute it, and it is refused in every session but its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from fastapi import Request, Response

from rongbank.errors import DomainError

PRE_SESSION_COOKIE = "rb_csrf"
_LABEL = b"rongbank-web-csrf-v1"


class CsrfFailed(DomainError):
    code = "csrf_failed"
    status = 403
    message = "The page has expired; please try again."


def bind_csrf(request: Request, session_token: str) -> None:
    """Tie this request's forms to the session ``session_token`` opened: called by
    the page dependencies once they have authenticated the request."""
    request.state.csrf_session = session_token


def _mac(secret: str) -> str:
    digest = hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _anchor(request: Request) -> str | None:
    session: str | None = getattr(request.state, "csrf_session", None)
    return session or request.cookies.get(PRE_SESSION_COOKIE)


def csrf_token(request: Request) -> str:
    """The token for the forms of the page being rendered; a first visit without a
    session gets a pre-session cookie (set by :func:`set_csrf_cookie`)."""
    anchor = _anchor(request)
    if anchor is None:
        anchor = request.state.new_pre_session = secrets.token_urlsafe(32)
    return _mac(anchor)


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the pre-session cookie :func:`csrf_token` made for this page, if any."""
    new = getattr(request.state, "new_pre_session", None)
    if new:
        response.set_cookie(
            PRE_SESSION_COOKIE,
            new,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def check_csrf(request: Request, sent: str) -> None:
    """Refuse the form unless ``sent`` is the token of this request's session (or,
    before a login, of its pre-session cookie)."""
    _check(sent, [_anchor(request)])


def check_csrf_ending(request: Request, sent: str, session_tokens: Iterable[str | None]) -> None:
    """For a logout, which has no page dependency: the token must be bound to one of
    the sessions the request ends (the page that showed the button was rendered in
    one of them)."""
    _check(sent, session_tokens)


def _check(sent: str, anchors: Iterable[str | None]) -> None:
    matched = False
    for anchor in anchors:
        # Every candidate is compared, so the time taken does not say which matched.
        if anchor:
            matched |= hmac.compare_digest(_mac(anchor).encode(), sent.encode())
    if not matched:
        raise CsrfFailed()
