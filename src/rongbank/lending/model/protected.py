"""Protected attributes: a fixed deny-list that no option can lift.

A column is protected when its name, split into words (``snake_case``, ``kebab-case``,
``camelCase``, spaces), holds a protected word, or the whole name is one of the known
encodings (German credit's ``personal_status``, ``foreign_worker``). Matching
words rather than exact names catches ``ApplicantGender`` or ``marital-status`` too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rongbank.lending.model.errors import ProtectedAttributeRefused

PROTECTED_WORDS = frozenset(
    {
        "sex",
        "gender",
        "ethnicity",
        "ethnic",
        "race",
        "religion",
        "religious",
        "marital",
        "married",
        "nationality",
    }
)
# German credit encodes sex with marital status; its foreign_worker is national origin.
PROTECTED_NAMES = frozenset(
    {"personalstatusandsex", "personalstatus", "maritalstatus", "foreignworker"}
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^0-9a-zA-Z]+")


def words(name: str) -> list[str]:
    return [w.lower() for w in _SPLIT.split(_CAMEL.sub(" ", name)) if w]


def is_protected(name: str) -> bool:
    parts = words(name)
    return "".join(parts) in PROTECTED_NAMES or any(w in PROTECTED_WORDS for w in parts)


def protected_among(names: Iterable[str]) -> list[str]:
    return [n for n in names if is_protected(n)]


def refuse_protected(names: Iterable[str], *, why: str) -> None:
    """Raise when any of ``names`` is protected (named as a feature of a model)."""
    found = protected_among(names)
    if found:
        raise ProtectedAttributeRefused(
            f"Protected attribute(s) {', '.join(found)} cannot be {why}.", columns=found
        )
