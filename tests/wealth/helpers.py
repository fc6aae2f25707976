"""Answers to the risk-tolerance questionnaire that reach each level, and a way to
assess a customer before a test buys for them (suitability refuses otherwise)."""

from __future__ import annotations

from rongbank.ledger.service import balance_of
from rongbank.platform import Platform
from rongbank.wealth import rules

_ALL = {q.id: "a" for q in rules.QUESTIONNAIRE}
ANSWERS: dict[int, dict[str, str]] = {
    1: _ALL,  # cannot bear any loss: C1 whatever else
    2: _ALL | {"loss": "b", "experience": "c"},  # 8+7+1+2+2+4+1 = 25
    3: {q.id: "c" for q in rules.QUESTIONNAIRE},  # 5+7+7+8+8+7+7 = 49
    4: {q.id: "c" for q in rules.QUESTIONNAIRE} | {"experience": "d", "goal": "d"},  # 55
    5: {q.id: "d" for q in rules.QUESTIONNAIRE} | {"age": "b"},  # 70
}


def custody_balances(platform: Platform, code: str) -> list[int]:
    """What each custody shard of the product holds (posted), by shard."""
    with platform.transaction() as session:
        product = platform.wealth.product(session, code)
        return [balance_of(platform.ledger.account(session, a)).posted for a in product.custody]


def custody_balance(platform: Platform, code: str) -> int:
    """What the product holds in custody: the sum of its shards."""
    return sum(custody_balances(platform, code))


def assessed(platform: Platform, customer_id: int, level: int = 5) -> None:
    """The customer has just been assessed at ``level`` (C1..C5)."""
    with platform.transaction() as session:
        platform.wealth.assess(session, customer_id=customer_id, answers=ANSWERS[level])
