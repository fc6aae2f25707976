"""Pure rules of e-accounts: account numbers and the class limits."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path

from rongbank.accounts.errors import (
    BalanceCapExceeded,
    DailyLimitExceeded,
    NewCardLimitExceeded,
    YearlyLimitExceeded,
)
from rongbank.inputs import ascii_digits
from rongbank.money import format_amount, parse_amount

CNY_SCALE = 2


def luhn_check_digit(body: str) -> str:
    """The Luhn (ISO/IEC 7812-1 annex B) check digit of a string of digits."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:  # doubled: the digit next to the check digit, and every other
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return ascii_digits(number) and len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


def account_number(prefix: str, sequence: int) -> str:
    """A 19-digit account number: the bank's prefix, a zero-padded sequence, and a
    Luhn check digit, so that a mistyped number is caught before any lookup."""
    body = f"{prefix}{sequence:0{18 - len(prefix)}d}"
    if len(body) != 18:
        raise ValueError("account number sequence exhausted for this prefix")
    return body + luhn_check_digit(body)


@dataclass(frozen=True, slots=True)
class ClassLimits:
    """Limits of one account class, in fen; None means no limit."""

    account_class: int
    description: str
    balance_cap: int | None = None
    daily_outflow: int | None = None
    yearly_outflow: int | None = None
    daily_inflow: int | None = None
    yearly_inflow: int | None = None


def load_class_limits(path: Path | None = None) -> dict[int, ClassLimits]:
    raw = (
        tomllib.loads(path.read_text())
        if path is not None
        else tomllib.loads((files("rongbank.accounts") / "account_classes.toml").read_text())
    )
    limits: dict[int, ClassLimits] = {}
    for key, values in raw["class"].items():
        amounts = {
            name: parse_amount(values[name], scale=CNY_SCALE, currency="CNY")
            for name in (
                "balance_cap",
                "daily_outflow",
                "yearly_outflow",
                "daily_inflow",
                "yearly_inflow",
            )
            if name in values
        }
        limits[int(key)] = ClassLimits(int(key), values.get("description", ""), **amounts)
    return limits


@dataclass(frozen=True, slots=True)
class Usage:
    """What an account has already moved on the business day and in its year."""

    day: int = 0
    year: int = 0


def check_outflow(limits: ClassLimits, used: Usage, amount: int) -> None:
    _check(limits.daily_outflow, limits.yearly_outflow, used, amount, "outflow", limits)


def check_inflow(limits: ClassLimits, used: Usage, amount: int, balance_after: int) -> None:
    _check(limits.daily_inflow, limits.yearly_inflow, used, amount, "inflow", limits)
    if limits.balance_cap is not None and balance_after > limits.balance_cap:
        raise BalanceCapExceeded(
            account_class=limits.account_class,
            balance_cap=format_amount(limits.balance_cap, scale=CNY_SCALE),
        )


def inflow_room(limits: ClassLimits, used: Usage, balance: int) -> int | None:
    """How much more may come into an account of this class today, given what came in
    today and this year and its balance (None: no limit). :func:`check_inflow` refuses
    exactly the amounts above it."""
    rooms = [
        limit - taken
        for limit, taken in (
            (limits.daily_inflow, used.day),
            (limits.yearly_inflow, used.year),
            (limits.balance_cap, balance),
        )
        if limit is not None
    ]
    return max(min(rooms), 0) if rooms else None


def _check(
    daily: int | None,
    yearly: int | None,
    used: Usage,
    amount: int,
    direction: str,
    limits: ClassLimits,
) -> None:
    if daily is not None and used.day + amount > daily:
        raise DailyLimitExceeded(
            direction=direction,
            account_class=limits.account_class,
            limit=format_amount(daily, scale=CNY_SCALE),
            remaining=format_amount(max(daily - used.day, 0), scale=CNY_SCALE),
        )
    if yearly is not None and used.year + amount > yearly:
        raise YearlyLimitExceeded(
            direction=direction,
            account_class=limits.account_class,
            limit=format_amount(yearly, scale=CNY_SCALE),
            remaining=format_amount(max(yearly - used.year, 0), scale=CNY_SCALE),
        )


@dataclass(frozen=True, slots=True)
class NewCardLimit:
    """How much may go out a day to payout cards bound less than ``period`` ago.

    A bank lets a new payee receive little at first rather than nothing at all (a
    full cooling-off would strand a customer whose only other card was just lost):
    a thief who got past the password *and* the SMS code that binding asks for (a
    swapped SIM, a code read over a shoulder) can then take only ``daily`` a day
    while the customer reads the notice of the new card and calls the bank. The
    figure counts every card new today together, so binding more cards does not
    multiply it, and a card unbound and bound again is new again.
    """

    period: timedelta
    daily: int
    """In minor units, for all new cards together, per Beijing business day."""

    def new_since(self, now: datetime) -> datetime:
        """Cards bound after this moment are new at ``now``."""
        return now - self.period

    def is_new(self, bound_at: datetime, now: datetime) -> bool:
        return bound_at > self.new_since(now)

    def check(self, *, used_today: int, amount: int, full_from: datetime) -> None:
        """Refuse ``amount`` when the new cards' withdrawals today, ``used_today``,
        would go past ``daily``; ``full_from`` is when the card leaves its first
        days (said in the refusal)."""
        if used_today + amount > self.daily:
            raise NewCardLimitExceeded(
                limit=format_amount(self.daily, scale=CNY_SCALE),
                remaining=format_amount(max(self.daily - used_today, 0), scale=CNY_SCALE),
                full_limits_from=full_from.isoformat(),
            )
