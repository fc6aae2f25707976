"""What a member of staff's search box matches: part of a customer's name, mobile
number, resident identity number or e-account number.

Staff hear numbers in pieces ("尾号 5678", the first digits of an ID), so a number
matches by its first or its last digits (at least :data:`MIN_DIGITS` of them), and a
name by its beginning (a surname, an enterprise's first word), in any case. Names and
account numbers are ranges over indexes in code-point order (migration ``0029``): a
range, unlike ``LIKE`` with a parameter, is an index scan in the generic plans every
statement runs with (``plan_cache_mode=force_generic_plan``,
:func:`rongbank.db.make_engine`), whatever the size of the bank. Mobile and identity
numbers are sealed (``rongbank.pii``): their first and last digits are keyed tokens
stored with the customer, matched over a GIN index (migration ``0048``). The search
selects ids only; who may see which of them is the caller's rule (``Desk.find_customers``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rongbank.pii import MIN_DIGITS as MIN_DIGITS
from rongbank.pii import PersonalData, opened

_TOP = chr(0x10FFFF)


@dataclass(frozen=True, slots=True)
class CustomerSearch:
    """The ids of the customers a query matches, as SQL (``ids``, to be used as a
    subquery) with its parameters."""

    ids: str
    params: dict[str, object]


def _after(prefix: str) -> str:
    """The least text greater than every text beginning with ``prefix`` (in code-point
    order, which is UTF-8's byte order: ``COLLATE "C"``)."""
    last = prefix[-1]
    return prefix[:-1] + (chr(ord(last) + 1) if last != _TOP else last + _TOP)


def _range(column: str, name: str, prefix: str, params: dict[str, object]) -> str:
    params[f"{name}_from"], params[f"{name}_to"] = prefix, _after(prefix)
    return f'{column} COLLATE "C" >= :{name}_from AND {column} COLLATE "C" < :{name}_to'


def customer_search(query: str, pii: PersonalData) -> CustomerSearch | None:
    """The search for ``query`` as typed (full-width digits and spaces inside numbers
    are forgiven); None when it cannot match anyone (empty)."""
    text = unicodedata.normalize("NFKC", query).strip()
    if not text:
        return None
    # Only the fixed names below are written into the SQL; what was typed goes in
    # parameters.
    params: dict[str, object] = {}
    name = _range("lower(name)", "name", text.lower(), params)
    parts = [f"SELECT id FROM customer WHERE {name}"]  # noqa: S608
    number = "".join(text.split()).upper()
    if len(number) >= MIN_DIGITS and number.isascii() and number.rstrip("X").isdigit():
        # Mobile and identity numbers are sealed: found by the keyed tokens of their
        # first and last digits (``rongbank.pii``), over a GIN index.
        params["tokens"] = pii.query_tokens(number)
        parts.append("SELECT id FROM customer WHERE number_tokens && :tokens")
        first = _range("number", "number_first", number, params)
        last = _range("reverse(number)", "number_last", number[::-1], params)
        parts.append(f"SELECT customer_id FROM e_account WHERE {first}")  # noqa: S608
        parts.append(f"SELECT customer_id FROM e_account WHERE {last}")  # noqa: S608
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
    "c.id, c.kind, c.name, c.mobile, c.mobile_enc, c.resident_id, c.resident_id_enc, "
    "ARRAY(SELECT a.number FROM e_account a WHERE a.customer_id = c.id ORDER BY a.id)"
)
"""The columns :func:`found_customer` reads, over ``customer c``."""


def found_customer(pii: PersonalData, row: Sequence[Any]) -> FoundCustomer:
    customer_id = int(row[0])
    return FoundCustomer(
        id=customer_id,
        kind=row[1],
        name=row[2],
        mobile=str(opened(pii, customer_id, "mobile", row[3], row[4])),
        resident_id=opened(pii, customer_id, "resident_id", row[5], row[6]),
        accounts=list(row[7]),
    )
