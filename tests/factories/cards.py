"""Card numbers at other banks."""

from __future__ import annotations

from rongbank.accounts.rules import luhn_check_digit


def card_number(sequence: int, *, bin_: str = "622202", length: int = 19) -> str:
    """A Luhn-valid card number: ``bin_``, ``sequence`` zero-padded, a check digit."""
    body = f"{bin_}{sequence:0{length - len(bin_) - 1}d}"
    return body + luhn_check_digit(body)


CARD = card_number(1)
"""The card most tests bind."""
