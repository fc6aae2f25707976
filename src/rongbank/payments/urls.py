"""Merchants' URLs (``notify_url``, ``return_url``) against server-side request
forgery: the bank's servers POST to a notification URL, so a merchant must not be
able to aim them at the bank's own network (a database, an admin port, the cloud
metadata service).

Two checks, both refused unless ``payments_allow_private_notify`` is set (tests and
development receive notifications on localhost):

- at order creation (:func:`check_url`): the scheme is http(s), the host is not a
  local name, and neither the literal address nor any address the name resolves to
  now is non-public (:func:`rongbank.payments.rules.is_public_address`). A name that
  does not resolve now is accepted: delivery checks again.
- at delivery (:class:`PublicPoster`): the name is resolved again, every address must
  be public (DNS may have changed since: "rebinding"), and the connection goes to the
  address that was checked, not to a second lookup. Redirects are not followed.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from urllib.parse import urlsplit

from rongbank.payments import rules
from rongbank.payments.errors import CallbackUrlNotAllowed

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]
"""Resolves a host name and port to addresses; raises ``OSError`` when it cannot."""


def resolve(host: str, port: int) -> list[IPAddress]:
    """The system resolver (also turns ``2130706433`` or ``0177.1`` into 127.0.0.1)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


class AddressNotAllowed(OSError):
    """A notification URL resolved to a non-public address at delivery."""


def _target(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL; ``ValueError`` for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)  # .port raises ValueError
    return parts.scheme, parts.hostname, port


def _addresses(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        return [ip_address(host)]
    except ValueError:
        return resolver(host, port)


def _public(host: str, addresses: list[IPAddress]) -> bool:
    return (
        bool(addresses)
        and not rules.is_local_name(host)
        and all(rules.is_public_address(a) for a in addresses)
    )


def check_url(url: str, *, field: str, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Refuse (:class:`CallbackUrlNotAllowed`) a merchant URL that is not http(s) or
    points at a non-public address; an empty URL is no URL."""
    if not url:
        return
    try:
        _, host, port = _target(url)
    except ValueError:
        raise CallbackUrlNotAllowed(field=field) from None
    if allow_private:
        return
    try:
        addresses = _addresses(host, port, resolver)
    except OSError:  # no such name now; delivery resolves it again
        addresses = []
        if not rules.is_local_name(host):
            return
    if not _public(host, addresses):
        raise CallbackUrlNotAllowed(field=field)


class PublicPoster:
    """Sends a notification (``rongbank.payments.notify.Poster``) only to a public
    address, connecting to the very address it checked."""

    def __init__(
        self, *, allow_private: bool, resolver: Resolver = resolve, timeout: float = 10.0
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.timeout = timeout

    def __call__(self, url: str, body: str, headers: dict[str, str]) -> int:
        try:
            scheme, host, port = _target(url)
        except ValueError:
            raise AddressNotAllowed("not an http(s) URL") from None
        addresses = _addresses(host, port, self.resolver)  # OSError: no answer, retried
        if not addresses:
            raise AddressNotAllowed("no address")
        if not self.allow_private and not _public(host, addresses):
            raise AddressNotAllowed("not a public address")
        conn = _connection(scheme, host, port, addresses[0], self.timeout)
        try:
            parts = urlsplit(url)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", path, body.encode(), headers)
            response = conn.getresponse()
            response.read()
            return int(response.status)
        finally:
            conn.close()


def _connection(
    scheme: str, host: str, port: int, address: IPAddress, timeout: float
) -> http.client.HTTPConnection:
    """A connection to ``address`` that speaks to ``host`` (Host header, TLS server
    name and certificate check)."""

    def open_socket() -> socket.socket:
        return socket.create_connection((str(address), port), timeout)

    if scheme == "https":
        context = ssl.create_default_context()

        class Pinned(http.client.HTTPSConnection):
            def connect(self) -> None:
                self.sock = context.wrap_socket(open_socket(), server_hostname=host)

        return Pinned(host, port, timeout=timeout, context=context)

    class PinnedPlain(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = open_socket()

    return PinnedPlain(host, port, timeout=timeout)
