"""Money as integer minor units.

Inside the platform an amount is an ``int`` count of the currency's minor units
(fen for CNY, milligrams for gold in grams at scale 3...). ``Decimal`` appears only
at the edges: parsing the decimal strings clients send ("12.30") and formatting the
strings we send back. Parsing never rounds: an amount with more decimals than the
currency has is refused, because silently dropping a fen is how ledgers drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rongbank.errors import InvalidRequest

# A single amount may not exceed this many minor units: 10^15 fen is ten trillion
# yuan, far above any real payment, and leaves account totals (PostgreSQL bigint,
# about 9.2 x 10^18) room for millions of maximal movements before they overflow.
MAX_AMOUNT_MINOR = 10**15

_AMOUNT_RE = re.compile(r"^(?P<int>0|[1-9][0-9]{0,18})(?:\.(?P<frac>[0-9]{1,18}))?$")
_DECIMAL_TEXT = re.compile(r"^(?P<sign>-?)(?P<int>[0-9]+)(?P<frac>\.[0-9]+)?$")


class InvalidAmount(InvalidRequest):
    code = "invalid_amount"
    message = "The amount is not a valid decimal number such as 12.30."


class AmountPrecisionExceeded(InvalidRequest):
    code = "amount_precision_exceeded"
    message = "The amount has more decimal places than its currency allows."


class AmountNotPositive(InvalidRequest):
    code = "amount_not_positive"
    message = "The amount must be greater than zero."


class AmountOutOfRange(InvalidRequest):
    code = "amount_out_of_range"
    message = "The amount is larger than the largest amount accepted."


def parse_amount(text: str, *, scale: int, currency: str = "") -> int:
    """Parse a plain decimal string into minor units of a currency with ``scale``
    decimals. Accepts "12", "12.3", "12.30"; refuses signs, exponents, spaces,
    thousands separators, and more decimals than ``scale``. Zero is allowed here;
    callers that need a positive amount use :func:`parse_positive_amount`."""
    if not isinstance(text, str):
        raise InvalidAmount(amount=repr(text), currency=currency)
    match = _AMOUNT_RE.match(text)
    if match is None:
        raise InvalidAmount(amount=text, currency=currency)
    frac = (match.group("frac") or "").rstrip("0")
    if len(frac) > scale:
        raise AmountPrecisionExceeded(
            f"{currency or 'This currency'} allows at most {scale} decimal places.",
            amount=text,
            currency=currency,
            scale=scale,
        )
    minor: int = int(match.group("int")) * 10**scale + int(frac.ljust(scale, "0") or "0")
    if minor > MAX_AMOUNT_MINOR:
        raise AmountOutOfRange(
            amount=text, currency=currency, maximum=format_amount(MAX_AMOUNT_MINOR, scale=scale)
        )
    return minor


def parse_positive_amount(text: str, *, scale: int, currency: str = "") -> int:
    minor = parse_amount(text, scale=scale, currency=currency)
    if minor <= 0:
        raise AmountNotPositive(amount=text, currency=currency)
    return minor


def format_amount(minor: int, *, scale: int) -> str:
    """Render minor units as a decimal string with exactly ``scale`` decimals."""
    sign = "-" if minor < 0 else ""
    units, frac = divmod(abs(minor), 10**scale)
    if scale == 0:
        return f"{sign}{units}"
    return f"{sign}{units}.{frac:0{scale}d}"


def group_digits(text: str) -> str:
    """A decimal text as people read it, thousands separated: "-1234567.80" ->
    "-1,234,567.80". Anything else (empty, already grouped, not a number) comes back
    as it is. For pages only: forms, files and the API keep the plain text, which is
    what :func:`parse_amount` reads."""
    match = _DECIMAL_TEXT.match(text)
    if match is None:
        return text
    return f"{match['sign']}{int(match['int']):,}{match['frac'] or ''}"


def format_display(minor: int, *, scale: int) -> str:
    """:func:`format_amount`, thousands separated, for people to read."""
    return group_digits(format_amount(minor, scale=scale))


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``minor`` units of ``currency``."""

    minor: int
    currency: str
