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
