"""Pure chat rules: masking what must not be sent, search tokens, the message hash
chain, sync cursors, the send-rate token bucket and business hours. No I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rongbank.accounts.identity import resident_id_check_character
from rongbank.accounts.rules import luhn_valid
from rongbank.errors import InvalidRequest

GENESIS = b"\x00" * 32

# --- masking ------------------------------------------------------------------------

CARD = "card_number"
RESIDENT_ID = "resident_id"
PASSWORD = "password"  # noqa: S105 (the name of what was masked, not a password)

# An 18-character identity number, possibly typed with spaces after the division
# code and the birth date (the way it is printed on the card).
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])([1-8]\d{5}) ?(\d{8}) ?(\d{3}[\dXx])(?![0-9A-Za-z])")
# 16-19 digits, in groups separated by single spaces or hyphens as cards are printed.
_CARD = re.compile(r"(?<![0-9A-Za-z])\d(?:[ -]?\d){15,18}(?![0-9A-Za-z])")
# A password or PIN announced as such: "密码是 abc123", "password: x", "pin=1234".
_PASSWORD = re.compile(
    r"((?:支付|登录|取款)?密码|口令|(?<![a-z])(?:password|passwd|pwd|pin))"
    r"(\s*(?:是|为|:|：|=|＝|is)?\s*)"
    # Passwords are typed in ASCII; Chinese after "密码" is talk about it, not one.
    r"([!-~]{4,64})",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Masked:
    text: str
    found: tuple[str, ...]
    """What was masked, each kind once, in a stable order."""


def _fold(text: str) -> str:
    # Full-width digits and letters (Chinese input methods) are the same to a reader.
    return unicodedata.normalize("NFKC", text)


# Only full-width digits and Latin letters: the text is stored as the sender wrote it,
# so Chinese punctuation (，？！：) must survive masking.
_FULL_WIDTH_ALNUM = {
    code: code - 0xFEE0
    for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
}


def _mask_cards(run: str) -> str:
    """Mask the card numbers in a run of digit groups ("1 6222 0212 ... 1"): the
    first span of whole groups, longest first, that is a card number, then the rest."""
    groups = re.split(r"([ -])", run)  # digits, separator, digits, ...
    for i in range(0, len(groups), 2):
        for j in range(len(groups) - 1, i - 1, -2):
            digits = "".join(groups[i : j + 1 : 2])
            if 16 <= len(digits) <= 19 and luhn_valid(digits):
                rest = "".join(groups[j + 2 :])
                return (
                    "".join(groups[:i])
                    + f"{digits[:6]}******{digits[-4:]}"
                    + "".join(groups[j + 1 : j + 2])
                    + (_mask_cards(rest) if rest else "")
                )
    return run


def mask_sensitive(text: str) -> Masked:
    """Mask card numbers (Luhn-valid, 16-19 digits), resident identity numbers (with
    a valid GB 11643 check character) and announced passwords, so that the other side
    and every log and transcript never hold them. Numbers that fail their check are
    left alone: an order number is not a card."""
    text = text.translate(_FULL_WIDTH_ALNUM)
    found: set[str] = set()

    def resident(match: re.Match[str]) -> str:
        number = "".join(match.groups()).upper()
        if resident_id_check_character(number[:17]) != number[17]:
            return match.group(0)
        found.add(RESIDENT_ID)
        return f"{number[:3]}***********{number[-4:]}"

    def card(match: re.Match[str]) -> str:
        masked = _mask_cards(match.group(0))
        if masked != match.group(0):
            found.add(CARD)
        return masked

    def password(match: re.Match[str]) -> str:
        found.add(PASSWORD)
        return f"{match.group(1)}{match.group(2)}******"

    text = _RESIDENT_ID.sub(resident, text)
    text = _CARD.sub(card, text)
    text = _PASSWORD.sub(password, text)
    return Masked(text, tuple(k for k in (CARD, RESIDENT_ID, PASSWORD) if k in found))


# --- search ---------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z]+")


def search_tokens(text: str) -> list[str]:
    """Tokens for PostgreSQL full text search of Chinese and other text.

    PostgreSQL has no Chinese parser (and the embedded server ships no pg_trgm or
    zhparser), so runs of Han characters are indexed as their single characters and
    overlapping bigrams, the usual n-gram approach of CJK search engines: a query's
    bigrams must all occur, which finds "转账失败" in "我的转账失败了". Latin words and
    numbers are indexed whole, lower case."""
    text = _fold(text).lower()
    tokens: list[str] = []
    for run in _CJK.findall(text):
        tokens.extend(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    tokens.extend(_WORD.findall(_CJK.sub(" ", text)))
    return tokens


def query_tokens(text: str) -> list[str]:
    """The tokens every match must contain: bigrams of Han runs (a single character
    alone), and the Latin words."""
    text = _fold(text).lower()
    tokens: list[str] = []
    for run in _CJK.findall(text):
        tokens.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    tokens.extend(_WORD.findall(_CJK.sub(" ", text)))
    return list(dict.fromkeys(tokens))


# --- the hash chain ---------------------------------------------------------------------


def content_hash(body: str) -> bytes:
    return hashlib.sha256(body.encode()).digest()


def chain_hash(prev: bytes, fields: dict[str, Any]) -> bytes:
    """The hash of one message, linked to the one before it in its conversation."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(prev + canonical.encode()).digest()


# --- sync cursors -------------------------------------------------------------------------


class CursorInvalid(InvalidRequest):
    code = "chat_cursor_invalid"
    message = "The sync position is not valid; send back the cursor of the last sync."


_CURSOR = re.compile(r"\d{1,18}:\d{1,18}(,\d{1,18}:\d{1,18})*")


def parse_cursor(cursor: str) -> dict[int, int]:
    """``"12:40,15:3"`` -> {12: 40, 15: 3}: the last sequence number seen per
    conversation. Conversations not named are read from the beginning."""
    if not cursor:
        return {}
    if len(cursor) > 20_000 or not _CURSOR.fullmatch(cursor):
        raise CursorInvalid()
    return {int(c): int(s) for c, s in (pair.split(":") for pair in cursor.split(","))}


def format_cursor(positions: dict[int, int]) -> str:
    return ",".join(f"{c}:{s}" for c, s in sorted(positions.items()) if s > 0)


# --- rate limit -------------------------------------------------------------------------


def refill(tokens: float, *, elapsed_seconds: float, per_minute: float, burst: float) -> float:
    """A token bucket: ``per_minute`` tokens a minute, holding at most ``burst``."""
    return min(burst, tokens + max(0.0, elapsed_seconds) * per_minute / 60.0)


# --- business hours ---------------------------------------------------------------------

BUSINESS_TIME_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When account managers serve chats: ``days`` (Monday = 0) from ``opens`` to
    ``closes``, Beijing time."""

    opens: time = time(9, 0)
    closes: time = time(18, 0)
    days: frozenset[int] = frozenset(range(5))

    def open_at(self, instant: datetime) -> bool:
        local = instant.astimezone(BUSINESS_TIME_ZONE)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes


# --- service cards ----------------------------------------------------------------------

CARD_TTL = timedelta(hours=24)
"""How long a transfer or payment-request card can be acted on."""
WEALTH_CARD_TTL = timedelta(days=3)
CARD_CLOSED = frozenset({"paid", "booked", "declined", "expired", "failed"})


def card_expiry(now: datetime, ttl: timedelta, *limits: datetime) -> datetime:
    """A card lapses after ``ttl``, or sooner when what it offers does (an order, a
    sale window, a fare)."""
    return min((now + ttl, *limits))


def mask_name(name: str) -> str:
    """How a person's name shows on a card the other side sees: the family name
    hidden, as banks print a payee ("*三", "*小明")."""
    name = name.strip()
    return name if len(name) < 2 else "*" + name[1:]
