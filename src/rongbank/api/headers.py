"""The headers every answer carries unless it says otherwise.

Pages load only their own scripts and styles, cannot be framed (clickjacking a
transfer form), and do not leak URLs to other sites. Pages and answers hold accounts,
movements, names, codes and keys shown once: no cache, shared or the browser's own,
may keep them. Every answer but the static files gets ``no-store``, since a list of
the ones with personal data is how one gets missed; a public answer (the CA
certificate) says otherwise.

Plain ASGI middleware that edits the response's first message: Starlette's
``BaseHTTPMiddleware`` (``@app.middleware("http")``) runs the rest of the application
in a task of its own and copies the response through a stream, about 0.1 ms of CPU a
request (measured with ``tests/support/path_cost``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_EVERY: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
_NOT_STATIC = (*_EVERY, (b"cache-control", b"no-store"))


class SecurityHeaders:
    """Adds each of the headers above that the answer does not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = _EVERY if scope["path"].startswith("/static/") else _NOT_STATIC

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in defaults if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
