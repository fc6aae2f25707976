"""What the bank takes from outside, checked the same way on every way in.

Every request body, query string, path, form post and chat frame is text from
someone we do not control. A few kinds of it are never meaningful and used to crash
the server or mean something other than what was sent:

- NUL characters and unpaired surrogates: PostgreSQL cannot store either in text,
  so they failed at the database as a 500;
- a JSON object with the same key twice: Python keeps the last one, so
  ``{"amount": "-1", "amount": "0.01"}`` passed the checks that saw one value and
  moved money with the other;
- integers beyond PostgreSQL's ``bigint``, and NaN or infinite numbers;
- digits of other scripts (``"６２"``, ``"٦٢"``): ``str.isdigit`` and ``int`` take
  them, so they read as another number than the one shown;
- strings for booleans (``"pending": "yes"``), booleans or strings for integers,
  numbers for dates (pydantic reads ``0`` as 1 January 1970), and names that are
  only spaces.

:func:`loads` and :func:`refusal` are what the API's input guard
(:mod:`rongbank.api.guard`) and the chat gateway apply to everything that arrives;
the annotated types below are what request models and path, query and form
parameters are declared with, so that each is refused with a 4xx and a message
rather than reaching a service.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)

MAX_ID = 2**63 - 1
"""PostgreSQL's ``bigint``: the largest id, sequence number or count the bank stores."""
MIN_INT = -(2**63)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class InputRefused(ValueError):
    """Input that no endpoint takes; ``field`` says where (dotted), when known."""

    def __init__(self, problem: str, field: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.field = field


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be taken as text, or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Text may not contain NUL characters."
    return "Text may not contain unpaired surrogates (it must be valid Unicode)."


def refusal(value: Any, field: str = "") -> InputRefused | None:
    """The first problem in a decoded JSON value (or a string), or None."""
    if isinstance(value, str):
        problem = text_problem(value)
        return None if problem is None else InputRefused(problem, field)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_ID:
            return InputRefused("Integers must fit in 64 bits.", field)
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else InputRefused("Numbers must be finite.", field)
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{field}.{key}" if field else str(key)
            found = refusal(key, field) or refusal(item, where)
            if found is not None:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = refusal(item, f"{field}.{index}" if field else str(index))
            if found is not None:
                return found
    return None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InputRefused(f"The key {key[:40]!r} appears more than once.", key[:40])
        result[key] = value
    return result


def _constant(name: str) -> Any:
    raise InputRefused(f"{name} is not a number the bank takes.")


def loads(text: str | bytes) -> Any:
    """Decode JSON as the bank takes it: :class:`InputRefused` for a duplicate key
    and for anything :func:`refusal` finds; ``ValueError`` for text that is not JSON."""
    value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    found = refusal(value)
    if found is not None:
        raise found
    return value


def _storable(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Text = Annotated[str, AfterValidator(_storable)]
"""Free text the bank stores: for inputs the guard does not see (multipart fields)."""


def _not_blank(value: Any) -> Any:
    # Python's strip, as the services strip before they store: it also takes the
    # separators U+001C..1F, which pydantic's whitespace stripping leaves, so a title
    # of "\x1e" passed min_length and reached the database blank.
    if isinstance(value, str) and not value.strip():
        raise ValueError("Must not be blank.")
    return value


NonBlank = Annotated[str, BeforeValidator(_not_blank), Field(min_length=1)]
"""Text that must say something: not blank once trimmed (the services store it
trimmed). Give its longest with ``Annotated[NonBlank, Field(max_length=...)]``."""

Name = NonBlank
"""A person's, business's or thing's name (or title)."""

Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
"""A row's id in a JSON body: a JSON integer (not ``true``, ``1.0`` or ``"1"``),
positive and a ``bigint``."""

Count = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]
"""A sequence number or cursor in a JSON body: zero or more, and a ``bigint``."""

IdParam = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row's id in a path, query or form, which are text: ASCII digits (pydantic
refuses other scripts' digits), positive and a ``bigint``."""

CountParam = Annotated[int, Field(ge=0, le=MAX_ID)]
"""A sequence number, cursor or offset in a path, query or form."""

Flag = StrictBool
"""A yes/no in JSON: ``true`` or ``false`` only, not ``"yes"``, ``1`` or ``"on"``."""

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")


def _iso(pattern: re.Pattern[str], kind: type, example: str) -> Any:
    def check(value: Any) -> Any:
        # Pydantic alone would also take a number (seconds since 1970: "0" is a day).
        if isinstance(value, kind) or (isinstance(value, str) and pattern.match(value)):
            return value
        raise ValueError(f"Write it as ISO 8601, e.g. {example}.")

    return BeforeValidator(check)


Day = Annotated[date, _iso(_DAY, date, "2026-03-02")]
"""A calendar date, written ``YYYY-MM-DD``."""

Moment = Annotated[datetime, _iso(_MOMENT, datetime, "2026-03-02T09:30:00+08:00")]
"""A point in time, written in ISO 8601 (``YYYY-MM-DDTHH:MM`` and more)."""


def ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits: the only digits the bank reads."""
    return text.isascii() and text.isdigit()


def parse_id(text: str) -> int | None:
    """The id ``text`` spells in ASCII digits, or None when it spells none (other
    scripts' digits, signs, spaces, or a number no row can have)."""
    if not ascii_digits(text) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


class Input(BaseModel):
    """The base of every request body: unknown fields are refused rather than
    ignored, so a misspelt optional field is not silently dropped."""

    model_config = ConfigDict(extra="forbid")
