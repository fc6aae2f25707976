"""Which authentication a payment needs: the pure rules.

Given the amount, the tools the customer holds, what they have already moved today
and this year under each, and a risk signal, :func:`decide` says whether the payment
may go without a second factor, which tools may authorise it (weakest first, so the
customer is asked for the least burdensome one that suffices), or why it is refused.
The figures come from ``tool_limits.toml``; the rules they follow are cited there.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from rongbank.errors import Forbidden, InvalidRequest

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
from rongbank.money import format_amount, parse_amount

CNY_SCALE = 2
PASSWORD_FREE = "password_free"  # noqa: S105 - a usage kind, not a password


class ToolKind(StrEnum):
    SMS = "sms"
    GRID_CARD = "grid_card"
    TOKEN = "token"  # noqa: S105 - the OCRA token tool
    UKEY = "ukey"


class Risk(StrEnum):
    """The risk check's signal for one payment."""

    LOW = "low"
    ELEVATED = "elevated"
    """Needs a tool that binds the code to the payment (strength 2 or more)."""
    HIGH = "high"
    """Refused outright."""


@dataclass(frozen=True, slots=True)
class ToolLimit:
    kind: ToolKind
    label: str
    strength: int
    per_payment: int
    daily: int
    yearly: int
    max_uses: int | None = None


@dataclass(frozen=True, slots=True)
class PasswordFreeLimit:
    per_payment: int
    daily: int
    daily_count: int


@dataclass(frozen=True, slots=True)
class ToolLimits:
    password_free: PasswordFreeLimit
    tools: Mapping[ToolKind, ToolLimit]


@dataclass(frozen=True, slots=True)
class Usage:
    """What a customer moved under one tool (or password-free): today, and this year."""

    day_amount: int = 0
    day_count: int = 0
    year_amount: int = 0


@dataclass(frozen=True, slots=True)
class OwnLimit:
    """A limit the customer set for themselves; None keeps the bank's."""

    per_payment: int | None = None
    daily: int | None = None

    def raises(self, current: OwnLimit) -> bool:
        """Whether setting this in place of ``current`` lifts any limit (None is the
        bank's limit, the highest)."""
        return any(
            now is not None and (new is None or new > now)
            for new, now in ((self.per_payment, current.per_payment), (self.daily, current.daily))
        )


@dataclass(frozen=True, slots=True)
class Decision:
    password_free: bool = False
    tools: tuple[ToolKind, ...] = field(default=())
    """Tools that may authorise the payment, weakest first; empty when password-free."""


class RiskRefused(Forbidden):
    code = "payment_refused_risk"
    message = (
        "This payment was stopped by the bank's fraud checks. If you meant to make it, "
        "call the bank or talk to your account manager."
    )

    def keep(self, session: Session) -> None:
        """Write what refused it, in the transaction that records the refusal (the
        fraud engine keeps its decision: ``PaymentBlocked``); nothing by default."""


class StrongerToolRequired(Forbidden):
    code = "stronger_tool_required"
    message = (
        "This payment needs a stronger authentication tool than the ones you hold "
        "(details list which). Get one in the web bank under Security, or pay less."
    )


class ToolLimitExceeded(Forbidden):
    code = "tool_limit_exceeded"
    message = (
        "This payment is over what your authentication tools may authorise today or this "
        "year; details show what is left for each."
    )


class OwnLimitInvalid(InvalidRequest):
    code = "own_limit_invalid"
    message = "Your own limit must be zero or more and may not exceed the bank's limit."


def _cap(bank: int, own: int | None) -> int:
    return bank if own is None else min(bank, own)


def password_free(
    limits: ToolLimits,
    *,
    amount: int,
    usage: Mapping[str, Usage],
    own: Mapping[str, OwnLimit],
    risk: Risk,
) -> bool:
    """Whether the payment may go without a second factor (raises
    :class:`RiskRefused` for a high risk): the part of :func:`decide` that needs
    nothing of the tools the customer holds."""
    if risk is Risk.HIGH:
        raise RiskRefused()
    free = limits.password_free
    free_own = own.get(PASSWORD_FREE, OwnLimit())
    free_used = usage.get(PASSWORD_FREE, Usage())
    return (
        risk is Risk.LOW
        and amount <= _cap(free.per_payment, free_own.per_payment)
        and free_used.day_amount + amount <= _cap(free.daily, free_own.daily)
        and free_used.day_count < free.daily_count
    )


def decide(
    limits: ToolLimits,
    *,
    amount: int,
    held: Collection[ToolKind],
    usage: Mapping[str, Usage],
    own: Mapping[str, OwnLimit],
    risk: Risk,
) -> Decision:
    """Raise :class:`RiskRefused`, :class:`StrongerToolRequired` or
    :class:`ToolLimitExceeded`, or say how the payment may be authorised."""
    if password_free(limits, amount=amount, usage=usage, own=own, risk=risk):
        return Decision(password_free=True)

    minimum = 2 if risk is Risk.ELEVATED else 1

    def covers(tool: ToolLimit) -> bool:
        mine = own.get(tool.kind, OwnLimit())
        used = usage.get(tool.kind, Usage())
        return (
            tool.strength >= minimum
            and amount <= _cap(tool.per_payment, mine.per_payment)
            and used.day_amount + amount <= _cap(tool.daily, mine.daily)
            and used.year_amount + amount <= tool.yearly
        )

    ordered = sorted(limits.tools.values(), key=lambda t: (t.strength, t.per_payment))
    allowed = tuple(t.kind for t in ordered if t.kind in held and covers(t))
    if allowed:
        return Decision(tools=allowed)
    # Name a tool to get only when it is stronger than all the customer has: when a
    # held tool of that strength is merely used up for today, the limit is the news.
    strongest = max((t.strength for t in ordered if t.kind in held), default=0)
    stronger = [t.kind.value for t in ordered if t.strength > strongest and covers(t)]
    if stronger:
        raise StrongerToolRequired(tools=stronger)
    remaining = {}
    for tool in ordered:
        if tool.kind in held:
            mine = own.get(tool.kind, OwnLimit())
            used = usage.get(tool.kind, Usage())
            left = min(
                _cap(tool.per_payment, mine.per_payment),
                _cap(tool.daily, mine.daily) - used.day_amount,
                tool.yearly - used.year_amount,
            )
            remaining[tool.kind.value] = format_amount(max(left, 0), scale=CNY_SCALE)
    raise ToolLimitExceeded(remaining=remaining)


def check_own_limit(limits: ToolLimits, kind: str, own: OwnLimit) -> None:
    """A customer may lower a limit, never raise it above the bank's."""
    if kind == PASSWORD_FREE:
        bank_per, bank_daily = limits.password_free.per_payment, limits.password_free.daily
    elif kind in limits.tools:
        tool = limits.tools[ToolKind(kind)]
        bank_per, bank_daily = tool.per_payment, tool.daily
    else:
        raise OwnLimitInvalid(kind=kind)
    for mine, bank in ((own.per_payment, bank_per), (own.daily, bank_daily)):
        if mine is not None and not 0 <= mine <= bank:
            raise OwnLimitInvalid(kind=kind, bank_limit=format_amount(bank, scale=CNY_SCALE))


def load_tool_limits(path: Path | None = None) -> ToolLimits:
    source = (
        path.read_text()
        if path is not None
        else (files("rongbank.auth") / "tool_limits.toml").read_text()
    )
    raw = tomllib.loads(source)

    def amount(text: str) -> int:
        return parse_amount(text, scale=CNY_SCALE, currency="CNY")

    free = raw["password_free"]
    tools = {
        ToolKind(kind): ToolLimit(
            kind=ToolKind(kind),
            label=str(values["label"]),
            strength=int(values["strength"]),
            per_payment=amount(values["per_payment"]),
            daily=amount(values["daily"]),
            yearly=amount(values["yearly"]),
            max_uses=values.get("max_uses"),
        )
        for kind, values in raw["tool"].items()
    }
    return ToolLimits(
        password_free=PasswordFreeLimit(
            per_payment=amount(free["per_payment"]),
            daily=amount(free["daily"]),
            daily_count=int(free["daily_count"]),
        ),
        tools=tools,
    )
