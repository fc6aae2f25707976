"""Rules: a condition over the features, an action and a reason code.

A condition is a ``rule-engine`` expression (``new_payee and amount >= 500000``),
parsed by that library's own grammar, never by Python: only the feature names below
exist, each with its type, so a misspelt name or a comparison of a flag with a
number is refused when the rule is added, not when a payment meets it. Amounts are
minor units (fen). A rule is written in TOML for the command line::

    name = "night_new_device"
    condition = "night and new_device and amount >= 100000"
    action = "review"          # allow, challenge, review or block
    reason = "night_new_device"
    score = 30                 # points towards the decision's score (0-100)
    description = "..."
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rongbank.errors import InvalidRequest
from rongbank.risk.engine import rule_tables

rule_tables.install()  # before the library builds its parser at import
import rule_engine  # noqa: E402

ACTIONS = ("allow", "challenge", "review", "block")
"""Weakest first: a payment gets the strongest action of the live rules it meets."""

_WINDOW_NAMES = [
    f"{prefix}_{what}_{window}"
    for prefix in ("cust", "device", "payee")
    for what in ("n", "sum")
    for window in ("10m", "1h", "24h", "30d")
]
_B, _N, _S = rule_engine.DataType.BOOLEAN, rule_engine.DataType.FLOAT, rule_engine.DataType.STRING
FEATURES: dict[str, Any] = {
    "amount": _N,
    "purpose": _S,
    "to_bank": _B,
    "merchant_payment": _B,
    "new_payee": _B,
    "has_device": _B,
    "new_device": _B,
    "account_age_days": _N,
    "hour": _N,
    "night": _B,
    "password_changed_hours": _N,
    "tool_added_hours": _N,
    "security_change_hours": _N,
    "new_payees_1h": _N,
    "new_payees_24h": _N,
    "cust_max_30d": _N,
    "cust_avg_30d": _N,
    "amount_ratio": _N,
    "model_score": _N,
    **dict.fromkeys(_WINDOW_NAMES, _N),
}
"""Every name a condition may use, and its type (see ``features.read``);
``model_score`` only where the engine has a model (elsewhere a rule naming it does
not match)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class RuleInvalid(InvalidRequest):
    code = "risk_rule_invalid"
    message = "This rule cannot be used: details say what is wrong with it."


@cache
def _context() -> rule_engine.Context:
    return rule_engine.Context(
        type_resolver=rule_engine.type_resolver_from_dict(FEATURES),
        default_timezone="UTC",
    )


@cache
def compiled(condition: str) -> rule_engine.Rule:
    """``condition`` parsed and type-checked against :data:`FEATURES`; raises
    :class:`RuleInvalid` saying why not."""
    try:
        rule = rule_engine.Rule(condition, context=_context())
    except rule_engine.errors.SymbolResolutionError as error:
        raise RuleInvalid(f"There is no feature called {error.symbol_name!r}.") from None
    except rule_engine.errors.EngineError as error:
        raise RuleInvalid(f"The condition cannot be read: {error.message}") from None
    if rule.statement.expression.result_type not in (_B, rule_engine.DataType.UNDEFINED):
        raise RuleInvalid("The condition must be true or false (a comparison, a flag).")
    return rule


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as written, before it is stored."""

    name: str
    condition: str
    action: str
    reason: str
    score: int = 0
    description: str = ""

    def __post_init__(self) -> None:
        for field, value in (("name", self.name), ("reason", self.reason)):
            if not _NAME.match(value):
                raise RuleInvalid(
                    f"The {field} must be lower case letters, digits and _.", field=field
                )
        if self.action not in ACTIONS:
            raise RuleInvalid(f"The action must be one of {', '.join(ACTIONS)}.", field="action")
        if not 0 <= self.score <= 100:
            raise RuleInvalid("The score must be from 0 to 100.", field="score")
        if not 1 <= len(self.condition) <= 2000:
            raise RuleInvalid("The condition must be 1 to 2,000 characters.", field="condition")
        try:
            compiled(self.condition)
        except RuleInvalid as error:  # named, for the form that shows the field
            raise RuleInvalid(error.detail_message, field="condition") from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RuleSpec:
        unknown = set(data) - {"name", "condition", "action", "reason", "score", "description"}
        if unknown:
            raise RuleInvalid(f"Unknown keys: {', '.join(sorted(unknown))}.")
        try:
            return cls(
                name=str(data["name"]),
                condition=str(data["condition"]),
                action=str(data["action"]),
                reason=str(data.get("reason", data["name"])),
                score=int(data.get("score", 0)),
                description=str(data.get("description", "")),
            )
        except (TypeError, ValueError):
            raise RuleInvalid("The score must be a whole number.", field="score") from None
        except KeyError as missing:
            key = missing.args[0]
            raise RuleInvalid(f"The rule needs a {key}.", field=key) from None

    @classmethod
    def from_file(cls, path: Path) -> RuleSpec:
        try:
            return cls.from_mapping(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as error:
            raise RuleInvalid(f"The file is not TOML: {error}") from None


@dataclass(frozen=True, slots=True)
class Rule:
    """A stored rule in force (live or shadow)."""

    id: int
    name: str
    version: int
    condition: str
    action: str
    reason: str
    score: int
    mode: str

    def matches(self, features: Mapping[str, Any]) -> bool:
        """Whether the payment meets the rule; a feature missing from an old
        snapshot (backtests) makes the rule not match rather than fail."""
        try:
            return bool(compiled(self.condition).matches(features))
        except rule_engine.errors.SymbolResolutionError:
            return False

    def hit(self) -> dict[str, Any]:
        """What a decision records of a rule it met."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "action": self.action,
            "reason": self.reason,
            "mode": self.mode,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str
    score: float
    reasons: tuple[str, ...]
    challenge: bool
    """Whether a live rule asked for a tool that binds the payment, whatever else."""
    hits: list[dict[str, Any]]
    shadow: tuple[str, ...]
    """The reasons of shadow rules met: recorded, not enforced."""


def evaluate(rules: list[Rule], features: Mapping[str, Any]) -> Verdict:
    """The strongest action of the live rules met, their points summed (at most 100),
    and every rule met, shadow ones too."""
    action, score, reasons, shadow, hits = "allow", 0, [], [], []
    challenge = False
    for rule in rules:
        if not rule.matches(features):
            continue
        hits.append(rule.hit())
        if rule.mode == "shadow":
            shadow.append(rule.reason)
            continue
        reasons.append(rule.reason)
        score += rule.score
        challenge |= rule.action == "challenge"
        if ACTIONS.index(rule.action) > ACTIONS.index(action):
            action = rule.action
    return Verdict(
        action=action,
        score=float(min(score, 100)),
        reasons=tuple(dict.fromkeys(reasons)),
        challenge=challenge,
        hits=hits,
        shadow=tuple(dict.fromkeys(shadow)),
    )
