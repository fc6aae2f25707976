"""The buying side's tests: a mall of sellers, and a buyer's way through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.auth.service import PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.payments.settlement import SettlementRun, settle_all
from rongbank.platform import Platform
from tests.factories import mall_orders as mall
from tests.factories.people import V1, People
from tests.support.api import ApiCustomer
from tests.support.lending import SHORT_FORM


@dataclass
class Shops:
    platform: Platform
    sellers: list[mall.Seller]

    def sku(self, seller: int, *, price: int, stock: int, commission_bp: int = 500) -> int:
        with self.platform.transaction() as session:
            category = mall.category(session, commission_bp=commission_bp)
            return mall.sku(
                session,
                shop_id=self.sellers[seller].shop_id,
                category_id=category,
                price=price,
                stock=stock,
            )

    def headers(self, seller: int) -> dict[str, str]:
        """A session of the seller's owner, as the bearer header."""
        with self.platform.transaction() as session:
            login = self.platform.auth.open_session(
                session,
                kind=PrincipalKind.MERCHANT,
                principal_id=self.sellers[seller].user_id,
                client="tests",
            )
        return {"Authorization": f"Bearer {login.token}"}

    def stock(self, sku_id: int) -> int:
        with self.platform.transaction() as session:
            return mall.stock(session, sku_id)

    def held(self, merchant_id: int) -> int:
        """What e-Pay holds for a merchant (its payable), in fen."""
        with self.platform.transaction() as session:
            found = self.platform.payments.merchant(session, merchant_id)
            return self.platform.payments.merchant_funds(session, found).held

    def clearing_held(self) -> int:
        assert self.platform.mall_orders.merchant_id is not None
        return self.held(self.platform.mall_orders.merchant_id)

    def income(self) -> int:
        with self.platform.transaction() as session:
            row = session.execute(
                text(
                    "SELECT credits_posted - debits_posted FROM ledger_account "
                    "WHERE code = 'bank:mall:commission'"
                )
            ).scalar()
        return int(row or 0)


def ship_all(client: TestClient, shops: Shops, checkout: dict[str, Any]) -> None:
    """Every seller of the checkout ships its order over the API."""
    shop_ids = [s.shop_id for s in shops.sellers]
    for order in checkout["orders"]:
        shipped = client.post(
            f"{V1}/merchant/mall/orders/{order['id']}/ship",
            headers=shops.headers(shop_ids.index(order["shop_id"])),
            json={"carrier": "顺丰速运", "tracking_no": f"SF{order['id']:010d}"},
        )
        assert shipped.status_code == 200, shipped.text


def buy(buyer: ApiCustomer, cart: dict[int, int], key: str = "c1") -> Any:
    """Put ``cart`` (SKU: units) in the buyer's cart and check out."""
    for sku_id, quantity in cart.items():
        added = buyer.post("/me/mall/cart/lines", {"sku_id": sku_id, "quantity": quantity})
        assert added.status_code == 204, added.text
    return buyer.post("/me/mall/checkouts", {"client_id": key})


def pay(buyer: ApiCustomer, checkout_id: int) -> Any:
    return buyer.confirmed(f"/me/mall/checkouts/{checkout_id}/pay", {"account": buyer.account})


def paid_checkout(buyer: ApiCustomer, cart: dict[int, int], key: str = "c1") -> dict[str, Any]:
    """The checkout of ``cart`` (SKU: units), paid from the buyer's account."""
    checkout: dict[str, Any] = buy(buyer, cart, key).json()
    paid = pay(buyer, checkout["id"])
    assert paid.status_code == 200, paid.text
    return checkout


def customer(
    client: TestClient, platform: Platform, people: People, name: str, funds: int
) -> ApiCustomer:
    """A new customer with ``funds`` (fen) in their account, over the API."""
    person = people.register(name)
    people.fund(person, funds)
    return ApiCustomer(client, platform, person)


def log_in_again(buyer: ApiCustomer, people: People) -> None:
    """A new session for the buyer: the clock moved past the last one's life."""
    buyer.headers = {"Authorization": f"Bearer {people.login(buyer.mobile)}"}


def instalments_offered(buyer: ApiCustomer, checkout: dict[str, Any]) -> Any:
    """The buyer asks to pay the checkout by 12 monthly 逸贷 instalments."""
    return buyer.post(
        f"/me/orders/{checkout['payment_token']}/instalments",
        {"client_id": "i1", "term_months": 12, **SHORT_FORM},
    )


def ask_return(
    buyer: ApiCustomer, order: dict[str, Any], quantities: list[int], reason: str = "尺码不合适"
) -> Any:
    """The buyer asks to return ``quantities`` of the order's lines, line by line."""
    lines = [
        {"line_id": line["id"], "quantity": q}
        for line, q in zip(order["lines"], quantities, strict=True)
        if q
    ]
    return buyer.post(f"/me/mall/orders/{order['id']}/returns", {"lines": lines, "reason": reason})


def received_and_released(platform: Platform, clock: FrozenClock) -> tuple[int, int]:
    """Receipt confirms itself 10 days after shipping, and the order is released to its
    seller 7 days later: how many orders each of the two days' jobs moved."""
    clock.advance(timedelta(days=10))
    received = platform.run_mall_jobs().received
    clock.advance(timedelta(days=7))
    return received, platform.run_mall_jobs().released


def settle_yesterday(platform: Platform) -> SettlementRun:
    """e-Pay's settlement of the last business day: what each seller is paid out."""
    day = platform.accounts.business_day() - timedelta(days=1)
    return settle_all(platform.session_factory, platform.payments, day)
