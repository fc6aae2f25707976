"""A shop to pay: a merchant onboarded and approved by staff, with an owner and a
cashier login and an API key, and customers with money."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.api.app import create_app
from rongbank.auth.service import PrincipalKind
from rongbank.auth.sms import FakeSmsGateway
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.payments.orders import OrderRequest, Payment
from rongbank.platform import Platform
from tests.accounts.test_endpoints import PASSWORD, People
from tests.factories.identity import resident_id

V1 = "/api/v1"


class Shop:
    def __init__(self, client: TestClient, platform: Platform, people: People) -> None:
        self.client = client
        self.platform = platform
        self.people = people
        self.seller = people.register("王老板")
        onboarder, approver = people.staff("operations"), self._second_staff()
        merchant = client.post(
            f"{V1}/staff/merchants",
            headers=onboarder,
            json={
                "customer_id": self.seller["customer_id"],
                "name": "老王面馆",
                "mcc": "5812",
                "settlement_account": self.seller["account"]["number"],
                "fee_bps": 60,
            },
        )
        assert merchant.status_code == 201, merchant.text
        self.id: int = merchant.json()["id"]
        self.staff = onboarder
        approved = client.post(f"{V1}/staff/merchants/{self.id}/approve", headers=approver)
        assert approved.status_code == 200, approved.text
        owner = client.post(
            f"{V1}/me/merchants/{self.id}/users",
            headers=self.seller["headers"],
            json={"role": "owner", "name": "王老板", "login_name": "wang", "password": PASSWORD},
        )
        assert owner.status_code == 201, owner.text
        self.owner = {"Authorization": f"Bearer {people.login('wang')}"}
        cashier = client.post(
            f"{V1}/merchant/users",
            headers=self.owner,
            json={"role": "cashier", "name": "小李", "login_name": "xiaoli", "password": PASSWORD},
        )
        assert cashier.status_code == 201, cashier.text
        self.cashier = {"Authorization": f"Bearer {people.login('xiaoli')}"}
        key = client.post(f"{V1}/merchant/api-keys", headers=self.owner, json={"label": "web"})
        self.api = {"Authorization": f"Bearer {key.json()['secret']}"}

    def _second_staff(self) -> dict[str, str]:
        with self.platform.transaction() as session:
            staff_id = self.platform.accounts.create_staff(
                session, username="approver", name="赵六", role="operations"
            )
            self.platform.auth.set_password(
                session,
                kind=PrincipalKind.STAFF,
                principal_id=staff_id,
                username="approver",
                password=PASSWORD,
            )
        return {"Authorization": f"Bearer {self.people.login('approver')}"}

    def customer(self, name: str = "张三", fen: int = 1_000_000) -> dict[str, Any]:
        person = self.people.register(name)
        self.people.fund(person, fen)
        return person

    def order(self, order_no: str, amount: str, **extra: Any) -> Any:
        return self.client.post(
            f"{V1}/merchant/orders",
            headers=self.api,
            json={"order_no": order_no, "amount": amount, **extra},
        )

    def token(self, order: Any) -> str:
        assert order.status_code in (200, 201), order.text
        return str(order.json()["pay_url"]).rsplit("/", 1)[-1]

    def confirmed(self, payer: dict[str, Any], path: str, body: dict[str, Any]) -> Any:
        """POST as the customer; answer an SMS challenge as they would."""
        response = self.client.post(path, headers=payer["headers"], json=body)
        error = response.json().get("error", {}) if response.status_code == 403 else {}
        if error.get("code") != "challenge_required":
            return response
        challenge = error["details"]["challenge"]
        answer = {**body, "challenge_id": challenge["id"], "response": self.sms(payer)}
        return self.client.post(path, headers=payer["headers"], json=answer)

    def sms(self, payer: dict[str, Any]) -> str:
        with self.platform.transaction() as session:
            _, message = FakeSmsGateway.outbox(session, payer["login_name"])[0]
        return message.split("】", 1)[1][:6]

    def pay(self, payer: dict[str, Any], token: str) -> Any:
        return self.confirmed(
            payer, f"{V1}/me/orders/{token}/pay", {"account": payer["account"]["number"]}
        )

    def query(self, order_no: str) -> dict[str, Any]:
        response = self.client.get(f"{V1}/merchant/orders/{order_no}", headers=self.api)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def available(self, person: dict[str, Any]) -> int:
        with self.platform.transaction() as session:
            account = self.platform.accounts.account(session, person["account"]["number"])
            return self.platform.accounts.available(session, account)


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def shop(client: TestClient, platform: Platform) -> Shop:
    return Shop(client, platform, People(client, platform))


@dataclass
class CommittedShop:
    """A merchant and a customer with money, made through the services on a platform
    whose transactions really commit (``fresh_db``): for races and the CLI."""

    platform: Platform
    merchant_id: int
    seller_account: str
    payer_id: int
    payer_account: str

    @classmethod
    def open(cls, platform: Platform, *, funds: int, number: int = 1) -> CommittedShop:
        with platform.transaction() as session:
            return cls.make(session, platform, funds=funds, number=number)

    @classmethod
    def make(
        cls, session: Session, platform: Platform, *, funds: int, number: int = 1
    ) -> CommittedShop:
        """The same shop inside the caller's session (a property test's example
        builds one and rolls it back); ``number`` tells several shops apart."""
        accounts = platform.accounts
        tail = "" if number == 1 else str(number)
        onboarder, approver = (
            accounts.create_staff(session, username=u + tail, name="李四", role="operations")
            for u in ("ops-a", "ops-b")
        )
        seller, shop_account = accounts.register_person(
            session,
            name="王老板",
            mobile=f"1390000{2 * number - 1:04d}",
            resident_id=resident_id(2 * number - 1),
        )
        payer, payer_account = accounts.register_person(
            session,
            name="张三",
            mobile=f"1390000{2 * number:04d}",
            resident_id=resident_id(2 * number),
        )
        vault, _ = platform.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        platform.ledger.transfer(
            session,
            Transfer(
                client_id=f"fund-payer{tail}",
                debit_account=vault.id,
                credit_account=payer_account.ledger_account_id,
                amount=funds,
                currency="CNY",
            ),
        )
        merchant = platform.payments.onboard(
            session,
            staff_id=onboarder,
            customer_id=seller.id,
            name="老王面馆",
            mcc="5812",
            settlement_account=shop_account.number,
            fee_bps=60,
        )
        platform.payments.approve(session, merchant_id=merchant.id, staff_id=approver)
        return cls(platform, merchant.id, shop_account.number, payer.id, payer_account.number)

    def pay(self, order_no: str, amount: int) -> None:
        """The customer pays an online order (step-up is the API's; not tested here)."""
        with self.platform.transaction() as session:
            self.pay_in(session, order_no, amount)

    def order_in(self, session: Session, order_no: str, amount: int) -> Payment:
        """The merchant's online order (or the one made before with this number)."""
        order, _ = self.platform.payments.create_order(
            session,
            merchant_id=self.merchant_id,
            order=OrderRequest(order_no=order_no, amount=amount, channel="online"),
        )
        return order

    def pay_in(self, session: Session, order_no: str, amount: int) -> Payment:
        return self.platform.payments.pay_order(
            session,
            customer_id=self.payer_id,
            payment=self.order_in(session, order_no, amount),
            account_number=self.payer_account,
        )

    def available(self, number: str) -> int:
        with self.platform.transaction() as session:
            account = self.platform.accounts.account(session, number)
            return self.platform.accounts.available(session, account)


def break_settlement_of(session: Session, merchant_id: int) -> None:
    """Make the database refuse to record any settlement of this merchant (a trigger
    that raises): a failure no settlement run expects. :func:`mend_settlement`
    removes it."""
    session.execute(
        text(
            "CREATE FUNCTION test_refuse_settlement() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF NEW.merchant_id = {int(merchant_id)} THEN "
            "RAISE EXCEPTION 'settlement refused by the test'; END IF; RETURN NEW; END $$"
        )
    )
    session.execute(
        text(
            "CREATE TRIGGER test_refuse_settlement BEFORE INSERT ON merchant_settlement "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_settlement()"
        )
    )


def mend_settlement(session: Session) -> None:
    session.execute(text("DROP TRIGGER test_refuse_settlement ON merchant_settlement"))
    session.execute(text("DROP FUNCTION test_refuse_settlement()"))
