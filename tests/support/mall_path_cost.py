"""融e购's money paths for ``tests/support/path_cost``: a checkout (cart of three
sellers to one reserved payment), its payment, and a return's refund agreed by the
seller. What each request needs (the cart, the checkout, the paid order and its
return) is made through the services beforehand, uncounted."""

from __future__ import annotations

from collections.abc import Callable

from rongbank.auth.service import PrincipalKind
from rongbank.mall.orders import reads
from rongbank.payments.orders import Payment
from tests.factories import mall_orders as mall
from tests.support.path_cost import PER_CUSTOMER, V1, Person, Prepare, Request, Scene


def mall_paths(scene: Scene, people: Callable[[], list[Person]]) -> dict[str, Prepare]:
    platform = scene.platform
    platform.open_mall()
    sellers: list[tuple[int, dict[str, str]]] = []  # (SKU, the owner's login)
    with platform.transaction() as session:
        onboarder, approver = (
            platform.accounts.create_staff(
                session, username=f"cost-mall-{n}-{scene.tag}", name="测量", role="operations"
            )
            for n in ("onboard", "approve")
        )
    for n in range(3):
        owner = scene.person()
        with platform.transaction() as session:
            merchant = platform.payments.onboard(
                session,
                staff_id=onboarder,
                customer_id=owner.customer_id,
                name=f"测量店{n}{scene.tag}",
                mcc="5311",
                settlement_account=owner.account,
                fee_bps=60,
            )
            platform.payments.approve(session, merchant_id=merchant.id, staff_id=approver)
            user = platform.payments.add_user(
                session, merchant_id=merchant.id, role="owner", name="店主"
            )
            shop = mall.open_shop(session, merchant_id=merchant.id, user_id=user, name=f"店{n}")
            category = mall.category(session, commission_bp=300)
            sku = mall.sku(
                session, shop_id=shop, category_id=category, price=1 + n, stock=1_000_000
            )
            login = platform.auth.open_session(
                session, kind=PrincipalKind.MERCHANT, principal_id=user, client="path-cost"
            )
        sellers.append((sku, {"Authorization": f"Bearer {login.token}"}))
    checkouts = platform.mall_orders.checkouts

    def checked_out(payer: Person, key: str, skus: list[int]) -> int:
        with platform.transaction() as session:
            for sku in skus:
                checkouts.add(session, customer_id=payer.customer_id, sku_id=sku, quantity=1)
            found, _ = checkouts.checkout(session, customer_id=payer.customer_id, client_id=key)
        return found.id

    def paid(payer: Person, checkout_id: int) -> Payment:
        with platform.transaction() as session:
            found = checkouts.of_customer(
                session, customer_id=payer.customer_id, checkout_id=checkout_id
            )
            return platform.payments.pay_order(
                session,
                customer_id=payer.customer_id,
                payment=checkouts.payment(session, found),
                account_number=payer.account,
            )

    def checkout() -> Prepare:
        them = people()

        def prepare(i: int) -> Request:
            payer = them[i // PER_CUSTOMER]
            with platform.transaction() as session:
                for sku, _ in sellers:
                    checkouts.add(session, customer_id=payer.customer_id, sku_id=sku, quantity=1)
            body = {"client_id": f"mc{scene.tag}-{i}"}
            return Request("POST", f"{V1}/me/mall/checkouts", payer.headers, body, (201,))

        return prepare

    def pay() -> Prepare:
        them = people()

        def prepare(i: int) -> Request:
            payer = them[i // PER_CUSTOMER]
            made = checked_out(payer, f"mp{scene.tag}-{i}", [sku for sku, _ in sellers])
            url = f"{V1}/me/mall/checkouts/{made}/pay"
            return Request("POST", url, payer.headers, {"account": payer.account}, (200,))

        return prepare

    def refund() -> Prepare:
        them = people()
        sku, owner = sellers[0]

        def prepare(i: int) -> Request:
            payer = them[i // PER_CUSTOMER]
            made = checked_out(payer, f"mr{scene.tag}-{i}", [sku])
            paid(payer, made)
            with platform.transaction() as session:
                [order] = checkouts.orders(
                    session,
                    checkouts.of_customer(session, customer_id=payer.customer_id, checkout_id=made),
                )
                [line] = reads.lines(session, order.id)
                asked = platform.mall_orders.returns.ask(
                    session,
                    customer_id=payer.customer_id,
                    order_id=order.id,
                    quantities={line.id: 1},
                    reason="测量",
                )
            url = f"{V1}/merchant/mall/returns/{asked.id}/agree"
            return Request("POST", url, owner, {}, (200,))

        return prepare

    return {"mall_checkout": checkout(), "mall_pay": pay(), "mall_refund": refund()}
