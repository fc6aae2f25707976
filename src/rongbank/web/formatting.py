"""How pages show amounts: one filter for every template (``{{ x|amount }}``).

Views hand templates amounts either as fen (``int``) or as the plain decimal text
the API and forms use (``"1234.50"``, :func:`rongbank.money.format_amount`); the
filter shows both thousands separated (``1,234.50``). Form fields keep the plain
text: :func:`rongbank.money.parse_amount` refuses separators, as it should.
"""

from __future__ import annotations

from rongbank.money import format_display, group_digits

CNY_SCALE = 2


def amount(value: int | str | None) -> str:
    """``123456`` (fen) or ``"1234.56"`` -> ``"1,234.56"``; None -> ``""``."""
    if value is None:
        return ""
    if isinstance(value, int):
        return format_display(value, scale=CNY_SCALE)
    return group_digits(str(value))
