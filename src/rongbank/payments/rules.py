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
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from rongbank.money import parse_amount

CNY_SCALE = 2
BPS = 10_000

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


def is_public_address(address: IPv4Address | IPv6Address) -> bool:
    """Whether the bank may send a merchant's notification to ``address``: a globally
    routable unicast address. Private (RFC 1918, fc00::/7), loopback, link-local (the
    cloud metadata service at 169.254.169.254 among them), shared (100.64/10),
    reserved, documentation and multicast ranges are not: a URL there would make the
    bank's servers call into its own network (server-side request forgery)."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
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
