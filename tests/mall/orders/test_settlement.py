"""Commission and settlement to the fen: the commission rule, and each seller paid
through e-Pay's settlement what its order kept less the commission, the bank's
commission in its income, the mall's clearing emptied."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from rongbank.clock import FrozenClock
from rongbank.mall.orders import rules
from rongbank.payments.errors import SettledElsewhere
from rongbank.payments.settlement import settle, settle_all
from rongbank.platform import Platform
from tests.support.api import ApiCustomer
from tests.support.mall_orders import Shops, buy, pay, ship_all

amounts = st.integers(min_value=0, max_value=10**12)
rates = st.integers(min_value=0, max_value=5000)


@given(amounts, rates)
def test_the_commission_is_the_rate_rounded_half_up_to_the_fen(kept: int, bp: int) -> None:
    charged = rules.commission(kept, bp)

    exact_times_10000 = kept * bp
    assert abs(charged * 10_000 - exact_times_10000) <= 5_000
    if charged * 10_000 - exact_times_10000 == -5_000:
        raise AssertionError("a half fen is rounded up, never down")
    assert 0 <= charged <= kept


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=50),
            st.integers(min_value=0, max_value=50),
            st.integers(min_value=1, max_value=10**8),
            rates,
        ),
        min_size=1,
        max_size=10,
    )
)
def test_commission_and_the_sellers_part_add_up_to_what_was_kept(
    lines: list[tuple[int, int, int, int]],
) -> None:
    kept = [rules.Kept(q, min(r, q), price, bp) for q, r, price, bp in lines]

    split = rules.split(kept)

    assert split.kept == sum((k.quantity - k.returned) * k.unit_price for k in kept)
    assert split.commission + split.seller == split.kept
    assert split.commission == sum(rules.commission(k.amount, k.commission_bp) for k in kept)


def test_half_a_fen_is_charged_as_a_fen() -> None:
    assert rules.commission(10, 500) == 1  # 0.5 fen
    assert rules.commission(9, 500) == 0  # 0.45 fen
    assert rules.commission(4550, 333) == 152  # 151.515 fen


def test_each_seller_is_settled_what_it_kept_less_the_commission_to_the_fen(
    buyer: ApiCustomer,
    shops: Shops,
    client: TestClient,
    platform: Platform,
    clock: FrozenClock,
) -> None:
    shirt = shops.sku(0, price=99_00, stock=5, commission_bp=500)
    book = shops.sku(1, price=45_50, stock=5, commission_bp=333)
    tea = shops.sku(2, price=128_00, stock=5, commission_bp=0)
    checkout = buy(buyer, {shirt: 2, book: 1, tea: 1}).json()
    assert pay(buyer, checkout["id"]).status_code == 200
    ship_all(client, shops, checkout)
    first = checkout["orders"][0]["id"]
    assert buyer.post(f"/me/mall/orders/{first}/receipt").json()["status"] == "received"

    # The others confirm themselves 10 days after shipping; none is paid out before
    # the 7-day return window has passed.
    clock.advance(timedelta(days=10))
    done = platform.run_mall_jobs()
    assert (done.received, done.released) == (2, 1)  # the first received 10 days ago
    clock.advance(timedelta(days=7))
    assert platform.run_mall_jobs().released == 2

    # 198.00 at 5%: 9.90; 45.50 at 3.33%: 1.51515 -> 1.52; 128.00 at 0%: 0.
    assert [shops.held(s.merchant_id) for s in shops.sellers] == [188_10, 43_98, 128_00]
    assert shops.income() == 9_90 + 1_52
    assert shops.clearing_held() == 0
    sales = client.get("/api/v1/merchant/mall/sales", headers=shops.headers(1)).json()
    assert [(d["amount"], d["commission"], d["released"]) for d in sales] == [
        ("45.50", "1.52", "43.98")
    ]

    clock.advance(timedelta(days=1))
    day = platform.accounts.business_day() - timedelta(days=1)
    run = settle_all(platform.session_factory, platform.payments, day)

    paid = {x.merchant_id: x.paid for x in run.settled}
    assert [paid[s.merchant_id] for s in shops.sellers] == [188_10, 43_98, 128_00]
    assert platform.mall_orders.merchant_id not in paid  # the clearing is the mall's to pay out
    assert [shops.held(s.merchant_id) for s in shops.sellers] == [0, 0, 0]
    assert platform.mall_orders.merchant_id is not None
    with pytest.raises(SettledElsewhere), platform.transaction() as session:
        settle(session, platform.payments, merchant_id=platform.mall_orders.merchant_id, day=day)
