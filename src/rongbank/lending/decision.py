"""The staged credit decision, pure: no I/O, no clock.

A decision runs in stages, in this order, and stops at the first that declines:

1. ``eligibility``: age, identity, account status, blacklist, the personal cap;
2. ``bureau``: the credit reference centre's report (overdue now elsewhere);
3. ``fraud``: the house's :class:`~rongbank.auth.stepup.RiskCheck`;
4. ``scorecard``: points, grade, probability of default and the main factors;
5. ``pricing``: the grade's limit and the product's rate for it.

Each stage is a function of the inputs it is given (recorded with its outcome,
reasons and outputs), so a stored decision replays from its rows alone: the same
inputs, rules version and model version give the same answer (:func:`replay`).
Outcomes: ``pass``, ``decline``, or ``refer`` (to a credit officer: the scorecard's
grey zone, a large amount, an elevated fraud score); the decision is the worst.

Where the inputs come from (the database, the bureau, the scorer) is
``rongbank.lending.applications``' business.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

from rongbank.money import parse_amount

CNY_SCALE = 2
GRADES = ("A", "B", "C", "D", "E")

PASS, DECLINE, REFER = "pass", "decline", "refer"
_SEVERITY = {PASS: 0, REFER: 1, DECLINE: 2}


# -- the scorecard ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """What a scorecard answers (the shape ``rongbank.lending.model``'s has)."""

    points: int
    grade: str
    probability_bad: float
    reasons: Sequence[Any]
    """The features that cost the most points, worst first."""
    model_version: str


class Scorer(Protocol):
    """Scores an applicant's features (scorecard feature name -> value, None when
    unknown); the model pipeline's ``Scorecard`` is one."""

    def score(self, features: Mapping[str, Any]) -> Any: ...


def reason_feature(reason: Any) -> str:
    """The feature a scorecard's reason names: a name, a (name, ...) pair, or an
    object with a ``feature`` attribute."""
    if isinstance(reason, str):
        return reason
    if isinstance(reason, Mapping):
        return str(reason.get("feature", reason.get("name", "")))
    if isinstance(reason, tuple | list) and reason:
        return str(reason[0])
    return str(getattr(reason, "feature", reason))


# -- the rules -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Feature:
    """How one scorecard feature is read (``decision.toml``, ``[scorecard.features]``)."""

    sources: tuple[str, ...]
    money: bool = False
    categories: Mapping[str, str] | None = None
    flag: tuple[str, str] | None = None
    combine: str = "first"


@dataclass(frozen=True, slots=True)
class Rules:
    version: str
    min_age: int
    max_age_at_end: int
    max_overdue_now: int
    grey_zone: tuple[int, int]
    second_approver_above: int
    limits: Mapping[str, int]
    offer_valid_days: int
    yuan_per_unit: int
    features: Mapping[str, Feature]
    preapproval_features: Mapping[str, Feature]
    preapproval: Mapping[str, Any] = field(default_factory=dict)
    fraud_elevated: str = PASS
    """What an elevated fraud score does: ``pass`` or ``refer``."""


class RulesInvalid(ValueError):
    pass


def _features(table: Mapping[str, Any], where: str) -> dict[str, Feature]:
    out = {}
    for name, spec in table.items():
        combine = spec.get("combine", "first")
        if combine not in ("first", "max", "sum"):
            raise RulesInvalid(f"{where}.{name}: combine is first, max or sum")
        flag = spec.get("flag")
        out[name] = Feature(
            sources=tuple(spec.get("from", ())),
            money=bool(spec.get("money", False)),
            categories=spec.get("categories"),
            flag=(str(flag[0]), str(flag[1])) if flag else None,
            combine=combine,
        )
    return out


def load_rules(path: Path | None = None) -> Rules:
    raw = tomllib.loads(
        path.read_text()
        if path is not None
        else (files("rongbank.lending") / "decision.toml").read_text()
    )
    limits = {g: parse_amount(raw["limits"][g], scale=CNY_SCALE) for g in GRADES}
    low, high = (int(v) for v in raw["review"]["grey_zone"])
    if low > high:
        raise RulesInvalid("review.grey_zone: the lower bound comes first")
    return Rules(
        version=str(raw["rules_version"]),
        min_age=int(raw["eligibility"]["min_age"]),
        max_age_at_end=int(raw["eligibility"]["max_age_at_end"]),
        max_overdue_now=int(raw["eligibility"]["max_overdue_now"]),
        grey_zone=(low, high),
        second_approver_above=parse_amount(raw["review"]["second_approver_above"], scale=CNY_SCALE),
        limits=limits,
        offer_valid_days=int(raw["offer"]["valid_days"]),
        yuan_per_unit=int(raw["scorecard"]["yuan_per_unit"]),
        features=_features(raw["scorecard"]["features"], "scorecard.features"),
        preapproval_features=_features(raw["preapproval"]["features"], "preapproval.features"),
        preapproval={k: v for k, v in raw["preapproval"].items() if k != "features"},
        fraud_elevated=_choice(raw["fraud"]["elevated"], (PASS, REFER), "fraud.elevated"),
    )


def _choice(value: object, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise RulesInvalid(f"{where}: one of {', '.join(allowed)}")
    return str(value)


def scorecard_features(
    spec: Mapping[str, Feature], sources: Mapping[str, Any], *, yuan_per_unit: int
) -> dict[str, Any]:
    """The scorecard's features from ``sources`` (``form.income`` -> value; money in
    fen), as ``spec`` maps them; None for a feature none of its sources has."""
    out: dict[str, Any] = {}
    for name, feature in spec.items():
        values = [sources[s] for s in feature.sources if sources.get(s) is not None]
        value: Any = None
        if values:
            if feature.combine == "max":
                value = max(values)
            elif feature.combine == "sum":
                value = sum(values)
            else:
                value = values[0]
        if value is not None and feature.money:
            value = round(value / 100 / yuan_per_unit, 2)
        if value is not None and feature.categories is not None:
            value = feature.categories.get(str(value))
        if value is not None and feature.flag is not None:
            value = feature.flag[1] if value > 0 else feature.flag[0]
        out[name] = value
    return out


# -- the product, as the decision sees it ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Pricing:
    """The product's terms that decide limit and price (``rongbank.lending.products``)."""

    min_amount: int
    max_amount: int
    review_above: int
    rates: Mapping[str, int]
    """Annual rate in basis points, by grade."""
    personal_cap: int | None
    """The cap on outstanding personal credit at this bank (internet consumer loans);
    None for credit the cap does not cover."""


# -- stages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    inputs: dict[str, Any]
    outcome: str
    reasons: list[str]
    outputs: dict[str, Any]


def eligibility(inputs: Mapping[str, Any], rules: Rules) -> Stage:
    reasons = []
    age = inputs["age"]
    if age is None or age < rules.min_age:
        reasons.append("age_below_minimum")
    elif age + (inputs["term_months"] + 11) // 12 > rules.max_age_at_end:
        reasons.append("age_above_maximum")
    if not inputs["identity_verified"]:
        reasons.append("identity_not_verified")
    if not inputs["account_active"]:
        reasons.append("account_not_active")
    if inputs["blacklisted"]:
        reasons.append("blacklisted")
    if not inputs["min_amount"] <= inputs["amount"] <= inputs["max_amount"]:
        reasons.append("amount_outside_product")
    cap = inputs["personal_cap"]
    if cap is not None and inputs["outstanding"] + inputs["amount"] > cap:
        reasons.append("personal_cap_exceeded")
    return Stage("eligibility", dict(inputs), DECLINE if reasons else PASS, reasons, {})


def bureau(inputs: Mapping[str, Any], rules: Rules) -> Stage:
    declined = inputs["overdue_now"] > rules.max_overdue_now
    return Stage(
        "bureau",
        dict(inputs),
        DECLINE if declined else PASS,
        ["overdue_elsewhere"] if declined else [],
        {},
    )


def fraud(inputs: Mapping[str, Any], rules: Rules) -> Stage:
    risk = inputs["risk"]
    if risk == "high":
        return Stage("fraud", dict(inputs), DECLINE, ["fraud_risk"], {})
    if risk == "elevated" and rules.fraud_elevated == REFER:
        return Stage("fraud", dict(inputs), REFER, ["fraud_risk_elevated"], {})
    return Stage("fraud", dict(inputs), PASS, [], {})


def scorecard(inputs: Mapping[str, Any], rules: Rules, scorer: Scorer) -> Stage:
    result = scorer.score(inputs["features"])
    factors = [reason_feature(r) for r in result.reasons]
    outputs: dict[str, Any] = {
        "points": int(result.points),
        "grade": str(result.grade),
        "probability_bad": round(float(result.probability_bad), 6),
        "factors": factors,
        "model_version": str(result.model_version),
    }
    low, high = rules.grey_zone
    if rules.limits[outputs["grade"]] == 0:
        return Stage("scorecard", dict(inputs), DECLINE, ["score_too_low"], outputs)
    if low <= outputs["points"] <= high:
        return Stage("scorecard", dict(inputs), REFER, ["grey_zone"], outputs)
    return Stage("scorecard", dict(inputs), PASS, [], outputs)


def pricing(inputs: Mapping[str, Any], rules: Rules) -> Stage:
    """The amount offered: what was asked, within the grade's limit, the product's
    maximum and the room under the cap; its price, the product's rate for the grade."""
    grade = inputs["grade"]
    limit = min(rules.limits[grade], inputs["max_amount"])
    if inputs["personal_cap"] is not None:
        limit = min(limit, inputs["personal_cap"] - inputs["outstanding"])
    amount = min(inputs["amount"], limit)
    outputs = {"limit": limit, "amount": amount, "rate_bps": inputs["rate_bps"]}
    if amount < inputs["min_amount"]:
        return Stage("pricing", dict(inputs), DECLINE, ["limit_below_minimum"], outputs)
    if amount > inputs["review_above"]:
        return Stage("pricing", dict(inputs), REFER, ["large_amount"], outputs)
    return Stage("pricing", dict(inputs), PASS, [], outputs)


# -- the whole decision ----------------------------------------------------------------


class Source(Protocol):
    """Where a decision's inputs come from, asked stage by stage (a later stage's
    are only asked for when the earlier ones did not decline)."""

    def eligibility(self) -> dict[str, Any]: ...
    def bureau(self) -> dict[str, Any]: ...
    def fraud(self) -> dict[str, Any]: ...
    def features(self, bureau: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Decision:
    stages: tuple[Stage, ...]

    @property
    def outcome(self) -> str:
        return max((s.outcome for s in self.stages), key=_SEVERITY.__getitem__)

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    @property
    def reasons(self) -> list[str]:
        worst = self.outcome
        return [r for s in self.stages if s.outcome == worst for r in s.reasons]

    @property
    def score(self) -> dict[str, Any]:
        stage = self.stage("scorecard")
        return stage.outputs if stage else {}

    @property
    def offer(self) -> dict[str, Any]:
        stage = self.stage("pricing")
        return stage.outputs if stage else {}


def decide(source: Source, rules: Rules, product: Pricing, scorer: Scorer) -> Decision:
    stages: list[Stage] = []

    def go(stage: Stage) -> bool:
        stages.append(stage)
        return stage.outcome != DECLINE

    facts = source.eligibility() | {
        "min_amount": product.min_amount,
        "max_amount": product.max_amount,
        "personal_cap": product.personal_cap,
    }
    if not go(eligibility(facts, rules)):
        return Decision(tuple(stages))
    report = source.bureau()
    if not go(bureau(report, rules)):
        return Decision(tuple(stages))
    if not go(fraud(source.fraud(), rules)):
        return Decision(tuple(stages))
    if not go(scorecard({"features": source.features(report)}, rules, scorer)):
        return Decision(tuple(stages))
    grade = stages[-1].outputs["grade"]
    go(
        pricing(
            {
                "grade": grade,
                "amount": facts["amount"],
                "outstanding": facts["outstanding"],
                "personal_cap": product.personal_cap,
                "min_amount": product.min_amount,
                "max_amount": product.max_amount,
                "review_above": product.review_above,
                "rate_bps": product.rates[grade],
            },
            rules,
        )
    )
    return Decision(tuple(stages))


_REPLAY: dict[str, Callable[[Mapping[str, Any], Rules, Scorer], Stage]] = {
    "eligibility": lambda i, r, _: eligibility(i, r),
    "bureau": lambda i, r, _: bureau(i, r),
    "fraud": lambda i, r, _: fraud(i, r),
    "scorecard": scorecard,
    "pricing": lambda i, r, _: pricing(i, r),
}


def replay(stored: Sequence[Stage], rules: Rules, scorer: Scorer) -> Decision:
    """Each stored stage run again on its stored inputs (what it read of the
    product included), under ``rules`` and ``scorer``."""
    return Decision(tuple(_REPLAY[s.name](s.inputs, rules, scorer) for s in stored))
