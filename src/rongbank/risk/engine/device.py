"""Which device a payment comes from, for the engine's new-device feature.

An API client names its device in the ``X-Device-Id`` header (an installation id it
keeps); the web bank gives each browser a long-lived random cookie (``rb_device``),
set on the first page it loads. Neither identifies a person: it is an opaque token
that only says "the same browser or app as before". The middleware puts it in a
context variable for the request, which the engine reads inside the payment's
transaction (FastAPI copies the context into the thread that runs an endpoint).
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "rb_device"
HEADER = b"x-device-id"
YEARS_2 = 2 * 365 * 24 * 3600
_VALID = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")

current_device: ContextVar[str | None] = ContextVar("rongbank_device", default=None)


def _cookie(raw: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    found = jar.get(COOKIE)
    return found.value if found is not None else None


class DeviceId:
    """Plain ASGI (no task of its own: see ``tests/test_path_costs.py``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = cookie = None
        for name, value in scope.get("headers", ()):
            if name == HEADER:
                header = value.decode("latin-1")
            elif name == b"cookie":
                cookie = _cookie(value.decode("latin-1"))
        device = header or cookie
        if device is not None and not _VALID.match(device):
            device = None  # a device id is a token, not text to store
        # A browser page without the cookie gets one; API clients send the header.
        new = None
        if device is None and not scope["path"].startswith(("/api/", "/static/")):
            new = device = secrets.token_urlsafe(24)
        token = current_device.set(device)

        async def send_with_cookie(message: Message) -> None:
            if new is not None and message["type"] == "http.response.start":
                secure = "; Secure" if scope.get("scheme") == "https" else ""
                value = f"{COOKIE}={new}; Max-Age={YEARS_2}; Path=/; HttpOnly; SameSite=Lax{secure}"
                headers = [*message.get("headers", ()), (b"set-cookie", value.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            current_device.reset(token)
