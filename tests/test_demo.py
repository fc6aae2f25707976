"""Demo data appears only when asked for, and asking twice changes nothing."""

from __future__ import annotations

from sqlalchemy import text

from rongbank.demo import CUSTOMERS, DEMO_PASSWORD, seed
from rongbank.platform import Platform


def test_seed_demo_is_idempotent_and_usable(platform: Platform) -> None:
    with platform.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM customer")).scalar_one() == 0
        seed(platform, session)
        seed(platform, session)
        assert session.execute(text("SELECT count(*) FROM customer")).scalar_one() == len(CUSTOMERS)
        _, mobile, *_, balance = CUSTOMERS[0]
        result = platform.auth.login(session, username=mobile, password=DEMO_PASSWORD)
        me = result.unwrap().principal
        [(_, available)] = platform.accounts.accounts_of(session, me.id)
        assert available == balance
        assert platform.ledger.verify(session) == {}


def test_seed_demo_gives_a_customer_investments(platform: Platform) -> None:
    with platform.transaction() as session:
        seed(platform, session)
        seed(platform, session)
        customer_id = session.execute(
            text("SELECT id FROM customer WHERE mobile = :m"), {"m": CUSTOMERS[3][1]}
        ).scalar_one()
        positions = {(p.product, p.side) for p in platform.invest.positions(session, customer_id)}
        orders = [o["kind"] for o in platform.invest.orders(session, customer_id)]
        assert positions == {("AU_CNY", "long"), ("AG_CNY", "short")}
        assert sorted(orders) == ["limit", "oco"]
        assert platform.ledger.verify(session) == {}
