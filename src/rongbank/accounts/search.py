"""What a member of staff's search box matches: part of a customer's name, mobile
number, resident identity number or e-account number.

Staff hear numbers in pieces ("尾号 5678", the first digits of an ID), so a number
matches by its first or its last digits (at least :data:`MIN_DIGITS` of them), and a
name by its beginning (a surname, an enterprise's first word), in any case. Each is a
range over an index in code-point order (migration ``0028``): a range, unlike ``LIKE``
with a parameter, is an index scan in the generic plans every statement runs with
(``plan_cache_mode=force_generic_plan``, :func:`rongbank.db.make_engine`), whatever
the size of the bank. The search selects ids only; who may see which of them is the
caller's rule (``Desk.find_customers``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MIN_DIGITS = 4
"""The fewest digits a number is searched by: fewer would match a crowd."""
_TOP = chr(0x10FFFF)


@dataclass(frozen=True, slots=True)
class CustomerSearch:
    """The ids of the customers a query matches, as SQL (``ids``, to be used as a
    subquery) with its parameters."""

    ids: str
    params: dict[str, str]


def _after(prefix: str) -> str:
    """The least text greater than every text beginning with ``prefix`` (in code-point
    order, which is UTF-8's byte order: ``COLLATE "C"``)."""
    last = prefix[-1]
    return prefix[:-1] + (chr(ord(last) + 1) if last != _TOP else last + _TOP)


def _range(column: str, name: str, prefix: str, params: dict[str, str]) -> str:
    params[f"{name}_from"], params[f"{name}_to"] = prefix, _after(prefix)
    return f'{column} COLLATE "C" >= :{name}_from AND {column} COLLATE "C" < :{name}_to'


def customer_search(query: str) -> CustomerSearch | None:
    """The search for ``query`` as typed (full-width digits and spaces inside numbers
    are forgiven); None when it cannot match anyone (empty)."""
    text = unicodedata.normalize("NFKC", query).strip()
    if not text:
        return None
    # Only the fixed names below are written into the SQL; what was typed goes in
    # parameters.
    params: dict[str, str] = {}
    name = _range("lower(name)", "name", text.lower(), params)
    parts = [f"SELECT id FROM customer WHERE {name}"]  # noqa: S608
    number = "".join(text.split()).upper()
    if len(number) >= MIN_DIGITS and number.isascii() and number.rstrip("X").isdigit():
        tail = number[::-1]
        for table, key, column in (
            ("customer", "id", "mobile"),
            ("customer", "id", "resident_id"),
            ("e_account", "customer_id", "number"),
        ):
            first = _range(column, f"{column}_first", number, params)
            last = _range(f"reverse({column})", f"{column}_last", tail, params)
            parts.append(f"SELECT {key} FROM {table} WHERE {first}")  # noqa: S608
            parts.append(f"SELECT {key} FROM {table} WHERE {last}")  # noqa: S608
    return CustomerSearch(" UNION ".join(parts), params)


@dataclass(frozen=True, slots=True)
class FoundCustomer:
    """A customer as a search lists them (the page masks the numbers)."""

    id: int
    kind: str
    name: str
    mobile: str
    resident_id: str | None
    accounts: list[str]
    """Their e-account numbers, oldest first."""


FOUND_COLUMNS = (
    "c.id, c.kind, c.name, c.mobile, c.resident_id, ARRAY(SELECT a.number FROM e_account a "
    "WHERE a.customer_id = c.id ORDER BY a.id)"
)
"""The columns of :class:`FoundCustomer`, over ``customer c``."""
