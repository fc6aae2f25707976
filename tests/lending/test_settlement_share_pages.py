"""The console's settlement shares, as the credit staff use them without JavaScript:
one asks, the page will not let them approve their own, another approves and the
share applies. Which roles may open it: ``tests/test_authorization.py``."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.platform import Platform
from tests.factories import payments as epay
from tests.factories.loans import merchant_operating_loan
from tests.factories.people import People
from tests.support.web import WebStaff

PAGE = "/staff/lending/settlement-shares"


@pytest.fixture
def staff(platform: Platform) -> Iterator[tuple[WebStaff, WebStaff]]:
    with (
        TestClient(create_app(platform, background=False)) as one,
        TestClient(create_app(platform, background=False)) as other,
    ):
        yield (
            WebStaff(one, platform, "officer1", "钱信贷", "credit_officer"),
            WebStaff(other, platform, "manager1", "孙经理", "credit_manager"),
        )


def test_one_asks_another_approves_and_the_share_applies(
    client: TestClient, platform: Platform, people: People, staff: tuple[WebStaff, WebStaff]
) -> None:
    owner = people.register("王老板")
    account = owner["account"]["number"]
    merchant = epay.merchant(
        platform, customer_id=owner["customer_id"], account=account, name="面馆"
    )
    loan = merchant_operating_loan(platform, customer_id=owner["customer_id"], account=account)
    officer, manager = staff

    officer.get(PAGE)
    assert f'href="{PAGE}"' in officer.page.text  # in the officer's menu
    officer.submit(PAGE, loan_id="x", merchant_id=merchant, share_percent="20", reason="合同")
    assert officer.page.status_code == 422
    assert "贷款编号" in officer.error  # the field refused, named as the form labels it
    officer.submit(PAGE, loan_id=loan, merchant_id=merchant, share_percent="12.5", reason="合同")

    assert officer.notice == "已提交，等待另一位信贷人员批准。"
    page = html.unescape(officer.page.text)
    assert f"贷款 {loan} · 商户 {merchant} · 12.5%" in page
    assert "您提出的申请，须由另一位信贷人员批准。" in page
    with platform.transaction() as session:
        share_id = session.execute(
            text("SELECT id FROM lending_settlement_share_request WHERE loan_id = :l"),
            {"l": loan},
        ).scalar_one()
    approve = f"{PAGE}/{share_id}/approve"
    assert approve not in page  # no button to approve one's own
    officer.post(approve)
    assert officer.page.status_code == 403
    assert officer.error == "您提出的申请须由另一位信贷人员批准。"

    manager.get(PAGE)
    manager.submit(approve)

    assert manager.notice == "已批准，下次结算起按比例还款。"
    assert 'data-status="approved"' in manager.page.text
    with platform.transaction() as session:
        share = session.execute(
            text("SELECT share_bps FROM lending_settlement_share WHERE loan_id = :l"), {"l": loan}
        ).scalar()
    assert share == 1250
