"""e-Pay's pure rules: fees, barcode limits, signatures, notification back-off.

No I/O and no clock here: callers pass the time in.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path

from rongbank.money import parse_amount

CNY_SCALE = 2
BPS = 10_000

WALLET_CODE_PREFIXES = {
    "WeChat Pay": tuple(f"{n}" for n in range(10, 16)),
    "Alipay": tuple(f"{n}" for n in range(25, 31)),
    "Baidu Wallet": ("31",),
    "UnionPay QR (bank apps, JD Pay)": ("62",),
}
"""Where a cashier system sends a scanned payment code, by its first two digits, as
the wallets document them: WeChat Pay's micropay API (18 digits starting 10-15,
pay.weixin.qq.com/wiki/doc/api/micropay_sl.php?chapter=5_1), Alipay's
alipay.trade.pay (16-24 digits starting 25-30, docs.open.alipay.com/api_1/alipay.trade.pay),
Baidu Wallet's barcode guide (31) and UnionPay's QR payment codes (19 digits: 62, a
product code, 15 random digits), which banks' apps issue for acceptance through
UnionPay. Acquirers' routing code (e.g. ``^(2[5-9]|30)[0-9]{14,22}$`` for Alipay)
follows these ranges."""

PAYMENT_CODE_PREFIX = "88"
"""Rongbank's payment codes: 18 digits starting with this, a range no wallet above
claims, so a cashier system routing by prefix sends them to Rongbank. (Not UnionPay's
62: Rongbank's codes are not accepted through UnionPay.)"""

NOTIFY_BACKOFF = (
    timedelta(seconds=15),
    timedelta(seconds=30),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=12),
)
"""Wait before each retry of a notification the merchant did not acknowledge; after
the last one it is abandoned (the merchant can still query the payment)."""


def fee(amount: int, fee_bps: int) -> int:
    """The merchant's fee on ``amount`` fen at ``fee_bps`` basis points, rounded half
    up to the fen (so 0.5 fen is charged as 1 fen, never lost)."""
    if amount < 0 or not 0 <= fee_bps <= BPS:
        raise ValueError("fee of a negative amount or a rate outside 0..100%")
    return (amount * fee_bps + BPS // 2) // BPS


def next_attempt_after(attempts: int) -> timedelta | None:
    """How long to wait after the ``attempts``-th failed delivery; None: give up."""
    if attempts < 1:
        raise ValueError("attempts start at 1")
    if attempts > len(NOTIFY_BACKOFF):
        return None
    return NOTIFY_BACKOFF[attempts - 1]


def sign(key: bytes, timestamp: int, body: str) -> str:
    """The ``Rongbank-Signature`` header: ``t=<unix time>,v1=<hex HMAC-SHA256 of
    "<t>.<body>">``. Merchants verify it with :func:`verify` (or its few lines in
    their language) and should refuse a timestamp older than a few minutes."""
    mac = hmac.new(key, f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(key: bytes, header: str, body: str) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(sign(key, timestamp, body), header.strip())


_GLOBAL_UNICAST = IPv6Network("2000::/3")
"""Where IPv6 global unicast addresses are allocated (RFC 4291 section 2.4); nothing
outside it (site-local fec0::/10, unique-local fc00::/7, link-local, multicast,
discard 100::/64, SRv6 SIDs 5f00::/16...) is a merchant's server."""

_NOT_PUBLIC_V6 = (
    IPv6Network("3fff::/20"),  # documentation (RFC 9637); Python 3.11 calls it global
    IPv6Network("2001::/23"),  # IETF protocol assignments, not globally reachable
    # (IANA): Teredo's 2001::/32 (RFC 4380) among them, whatever IPv4 it carries
    IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215): where the IPv4 sits
    # depends on the operator's prefix length (RFC 6052 section 2.2), so it cannot be read
)

_NOT_PUBLIC_V4 = (
    IPv4Network("192.88.99.0/24"),  # 6to4 relay anycast (RFC 7526): relays, not servers
)

_LAST_32_BITS = (
    IPv6Network("::ffff:0:0/96"),  # IPv4-mapped (RFC 4291): a dual-stack socket's IPv4
    IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765, SIIT)
    IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052): the gateway's IPv4
    IPv6Network("::/96"),  # IPv4-compatible (RFC 4291, deprecated; Linux's sit0 still
    # tunnels it), and :: and ::1 (0.0.0.0, 0.0.0.1: not public either)
)


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address a packet to ``address`` really goes to, for the IPv6 forms
    that carry one (mapped, translated, compatible, NAT64, 6to4); None for any other
    address."""
    for network in _LAST_32_BITS:
        if address in network:
            return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour  # 2002::/16 (RFC 3056): the site's IPv4 router, or None


def is_public_address(address: IPv4Address | IPv6Address) -> bool:
    """Whether the bank may send a merchant's notification to ``address``: a globally
    routable unicast address. Private (RFC 1918, fc00::/7), loopback, link-local (the
    cloud metadata service at 169.254.169.254 among them), shared (100.64/10),
    reserved, documentation, site-local and multicast ranges are not: a URL there
    would make the bank's servers call into its own network (server-side request
    forgery). An IPv6 address that carries an IPv4 one (``::ffff:10.0.0.1``,
    ``64:ff9b::a00:1``, ``2002:a00:1::``...) is decided by the IPv4 address it carries
    too: that is where the packet goes, through the host's stack, a NAT64 gateway or a
    6to4 relay (Teredo's is refused whatever it carries). Sources: the IANA IPv4 and
    IPv6 Special-Purpose Address Registries, and the RFCs named beside each range."""
    if isinstance(address, IPv6Address):
        if any(address in network for network in _NOT_PUBLIC_V6):
            return False
        carried = embedded_ipv4(address)
        if carried is not None:
            return is_public_address(carried)
        if address not in _GLOBAL_UNICAST:
            return False
    elif any(address in network for network in _NOT_PUBLIC_V4):
        return False
    return address.is_global and not address.is_multicast


def is_local_name(host: str) -> bool:
    """Host names that always mean this machine (RFC 6761), whatever DNS says."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


@dataclass(frozen=True, slots=True)
class BarcodeLimits:
    static_daily: int
    """Level D: what a customer may pay a day by merchants' static codes, in fen."""
    dynamic_daily: int
    """Level B: by dynamic codes (per-order QR and payment codes) together, in fen."""
    code_ttl: timedelta
    """How long a dynamic code (payment code, per-order QR) can be used."""


def load_barcode_limits(path: Path | None = None) -> BarcodeLimits:
    source = (
        path.read_text()
        if path is not None
        else (files("rongbank.payments") / "barcode_limits.toml").read_text()
    )
    raw = tomllib.loads(source)

    def amount(text: str) -> int:
        return parse_amount(text, scale=CNY_SCALE, currency="CNY")

    return BarcodeLimits(
        static_daily=amount(raw["static"]["daily"]),
        dynamic_daily=amount(raw["dynamic"]["daily"]),
        code_ttl=timedelta(seconds=int(raw["dynamic"]["code_ttl_seconds"])),
    )
