"""The demo's e-Invest (``rongbank seed-demo``): a customer with gold held long, silver
sold first and pending orders resting, seeded once (at any hour: the demo may be
seeded at a weekend, when the market is closed)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.invest.service import InvestService
from rongbank.wealth import rules as wealth_rules
from rongbank.wealth.service import WealthService

C5 = {q.id: "d" for q in wealth_rules.QUESTIONNAIRE} | {"age": "b"}
"""Answers that assess the demo customer at the highest level (shorts need it)."""


def seed_invest(
    invest: InvestService,
    wealth: WealthService,
    session: Session,
    *,
    customer_id: int,
    account: str,
) -> None:
    done = session.execute(
        text("SELECT 1 FROM invest_trade WHERE customer_id = :c LIMIT 1"), {"c": customer_id}
    ).first()
    if done is not None:
        return
    if not wealth.assessments(session, customer_id):
        wealth.assess(session, customer_id=customer_id, answers=C5)
    for code, side, quantity, key in (
        ("AU_CNY", "long", 4_000, "demo-gold"),
        ("AG_CNY", "short", 100_000, "demo-silver"),
    ):
        quote = invest.quote(session, customer_id=customer_id, code=code, anytime=True)
        invest.trade(
            session,
            customer_id=customer_id,
            quote_id=quote.id,
            side=side,  # type: ignore[arg-type]
            action="open",
            quantity=quantity,
            account_number=account,
            client_id=key,
            anytime=True,
        )
    gold = invest.quote(session, customer_id=customer_id, code="AU_CNY", anytime=True)
    below, above = gold.ref * 95 // 100, gold.ref * 110 // 100
    for key, spec in (
        (
            "demo-limit",
            {"kind": "limit", "side": "long", "action": "open", "price": below, "quantity": 1_000},
        ),
        (
            "demo-oco",
            {"kind": "oco", "side": "long", "limit": above, "stop": below, "quantity": 2_000},
        ),
    ):
        invest.place_order(
            session,
            customer_id=customer_id,
            product_code="AU_CNY",
            spec=spec,
            account_number=account,
            valid_hours=120,
            client_id=key,
        )
