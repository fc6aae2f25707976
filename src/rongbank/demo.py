"""Demo data, only when asked for (``rongbank seed-demo``): never mixed into a real
install silently. Idempotent: seeding twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.funding import CLEARING_ACCOUNT
from rongbank.accounts.identity import resident_id_check_character
from rongbank.auth.service import PrincipalKind
from rongbank.invest.demo import seed_invest
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.mall.catalogue import samples
from rongbank.platform import Platform

DEMO_PASSWORD = "Demo-2026-pass"  # noqa: S105 (published on purpose: demo logins only)

STAFF = [
    ("manager1", "赵经理", "account_manager"),
    ("manager2", "钱经理", "account_manager"),
    ("ops1", "孙运营", "operations"),
    ("admin1", "李管理员", "administrator"),
]
CUSTOMERS = [
    ("韩梅梅", "13800000001", "19900307", 1, 5_000_00),
    ("李雷", "13800000002", "19880512", 2, 1_200_00),
    ("王小明", "13800000003", "20000101", 3, 300_00),
    ("周投资", "13800000004", "19850815", 4, 50_000_00),  # trades on e-Invest
]


@dataclass(frozen=True)
class DemoLogin:
    who: str
    login_name: str
    role: str


def _resident_id(birth: str, sequence: int) -> str:
    body = f"110105{birth}{sequence:03d}"
    return body + resident_id_check_character(body)


def seed(platform: Platform, session: Session) -> list[DemoLogin]:
    """Staff, and three customers with money come in from other banks."""
    logins: list[DemoLogin] = []
    exists = session.execute(text("SELECT 1 FROM staff WHERE username = 'manager1'")).first()
    if exists is None:
        for username, name, role in STAFF:
            staff_id = platform.accounts.create_staff(
                session, username=username, name=name, role=role
            )
            platform.auth.set_password(
                session,
                kind=PrincipalKind.STAFF,
                principal_id=staff_id,
                username=username,
                password=DEMO_PASSWORD,
            )
        # The opening money comes in from other banks, as a top-up's does, so that
        # the deposits have an asset behind them (the liquidity report reads it).
        vault, _ = platform.ledger.create_account(
            session,
            code=CLEARING_ACCOUNT,
            currency="CNY",
            type=AccountType.ASSET,
            name="due from other banks (clearing)",
        )
        for name, mobile, birth, sequence, balance in CUSTOMERS:
            person, account = platform.accounts.register_person(
                session, name=name, mobile=mobile, resident_id=_resident_id(birth, sequence)
            )
            platform.auth.set_password(
                session,
                kind=PrincipalKind.CUSTOMER,
                principal_id=person.id,
                username=mobile,
                password=DEMO_PASSWORD,
            )
            platform.ledger.transfer(
                session,
                Transfer(
                    client_id=Namespace.DEMO.client_id("fund", account.number),
                    debit_account=vault.id,
                    credit_account=account.ledger_account_id,
                    amount=balance,
                    currency="CNY",
                    description="演示账户期初资金",
                ),
            )
    # 周投资 trades on e-Invest: positions and pending orders (rongbank.invest.demo).
    investor = CUSTOMERS[3][1]
    row = session.execute(
        text(
            "SELECT c.id, a.number FROM customer c JOIN e_account a ON a.customer_id = c.id "
            "WHERE c.mobile_hash = :m ORDER BY a.id LIMIT 1"
        ),
        {"m": platform.pii.hash("mobile", investor)},
    ).one()
    seed_invest(
        platform.invest, platform.wealth, session, customer_id=int(row[0]), account=str(row[1])
    )
    logins += [DemoLogin(name, username, role) for username, name, role in STAFF]
    logins += [DemoLogin(name, mobile, "customer") for name, mobile, *_ in CUSTOMERS]
    logins += seed_mall(platform, session)
    return logins


def seed_mall(platform: Platform, session: Session) -> list[DemoLogin]:
    """融e购: three shops (digital, tea and food, home), each an e-Pay merchant of a
    customer of its own with an owner login, their products on sale."""
    platform.mall_orders.open_clearing(session, platform.accounts)  # checkouts are paid in
    shops = samples.DEMO_SHOPS
    exists = session.execute(
        text("SELECT 1 FROM customer WHERE mobile_hash = :m"),
        {"m": platform.pii.hash("mobile", shops[0].mobile)},
    ).first()
    if exists is None:
        owners = []
        for n, shop in enumerate(shops, start=11):
            person, account = platform.accounts.register_person(
                session,
                name=shop.owner,
                mobile=shop.mobile,
                resident_id=_resident_id("19850615", n),
            )
            owners.append((person.id, account.id))
        onboarder, approver = session.execute(
            text("SELECT id FROM staff WHERE username IN ('ops1', 'admin1') ORDER BY username DESC")
        ).scalars()  # operations onboard, an administrator approves (four eyes)
        actors = samples.seed_demo_shops(
            session,
            accounts=platform.accounts,
            payments=platform.payments,
            catalogue=platform.mall,
            staff=(int(onboarder), int(approver)),
            owners=owners,
        )
        for shop, actor in zip(shops, actors, strict=True):
            platform.auth.set_password(
                session,
                kind=PrincipalKind.MERCHANT,
                principal_id=actor.user_id or 0,
                username=shop.login,
                password=DEMO_PASSWORD,
            )
    return [DemoLogin(f"{s.owner}（{s.name}）", s.login, "merchant owner") for s in shops]
