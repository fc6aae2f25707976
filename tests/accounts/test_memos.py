"""What a movement is called on histories and statements (摘要): the bank names its
own movements in Chinese, and the web pages in the reader's language; a payer's
note is shown as written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongbank.accounts.statements import BANK_MEMOS
from rongbank.api.app import create_app
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform
from rongbank.web.i18n import MESSAGES
from tests.factories.people import PASSWORD, V1, People
from tests.support.funding import CardHolder


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def customer(client: TestClient, platform: Platform) -> tuple[dict[str, Any], CardHolder]:
    """张三 tops up 500.00 from a bound card and withdraws 120.00 to it."""
    person = People(client, platform).register("张三")
    holder = CardHolder(client, platform, person)
    card = holder.bind_confirmed()["id"]
    assert holder.top_up(card, "500.00", "t1").status_code == 201
    assert holder.withdraw_confirmed(card, "120.00", "w1").status_code == 201
    return person, holder


def _write(platform: Platform, person: dict[str, Any], client_id: str, description: str) -> None:
    """An entry as an older release wrote it, with its English description."""
    with platform.transaction() as session:
        vault, _ = platform.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        account = platform.accounts.account(session, person["account"]["number"])
        platform.ledger.transfer(
            session,
            Transfer(
                client_id=client_id,
                debit_account=vault.id,
                credit_account=account.ledger_account_id,
                amount=100,
                currency="CNY",
                description=description,
            ),
        )


def _descriptions(client: TestClient, person: dict[str, Any]) -> list[str]:
    response = client.get(
        f"{V1}/me/accounts/{person['account']['number']}/history", headers=person["headers"]
    )
    assert response.status_code == 200, response.text
    return [m["description"] for m in response.json()["movements"]]


def test_top_ups_and_withdrawals_are_named_in_chinese(
    client: TestClient, customer: tuple[dict[str, Any], CardHolder]
) -> None:
    person, _ = customer
    assert _descriptions(client, person) == ["银行卡充值", "提现至银行卡"]


def test_entries_written_with_english_names_are_named_as_the_bank_names_them(
    client: TestClient, platform: Platform
) -> None:
    person = People(client, platform).register("张三")
    _write(platform, person, Namespace.FUNDING.client_id(900, "credit"), "top-up from bound card")
    _write(platform, person, Namespace.DEMO.client_id("fund", "1"), "demo opening balance")
    assert _descriptions(client, person) == ["银行卡充值", "演示账户期初资金"]


def test_a_payers_note_is_shown_as_written_and_none_as_money_in(
    client: TestClient, platform: Platform
) -> None:
    person = People(client, platform).register("张三")
    _write(platform, person, "someone-1", "Rent for March")
    _write(platform, person, "someone-2", "")
    assert _descriptions(client, person) == ["Rent for March", "转入"]


def _history_page(client: TestClient, person: dict[str, Any], lang: str) -> str:
    client.cookies.clear()
    client.get(f"/lang/{lang}")
    login = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert csrf
    client.post(
        "/login",
        data={"csrf": csrf.group(1), "login_name": person["login_name"], "password": PASSWORD},
    )
    page = client.get("/history")
    assert page.status_code == 200, page.text
    return page.text


def test_the_web_history_names_them_in_the_readers_language(
    client: TestClient, customer: tuple[dict[str, Any], CardHolder]
) -> None:
    person, _ = customer
    chinese = _history_page(client, person, "zh")
    assert "银行卡充值" in chinese
    assert "提现至银行卡" in chinese
    english = _history_page(client, person, "en")
    assert "Top-up from bound card" in english
    assert "Withdrawal to bound card" in english
    assert "银行卡充值" not in english


def test_every_name_has_its_words_in_both_languages() -> None:
    for key, chinese in BANK_MEMOS.items():
        assert MESSAGES["zh"][f"memo_{key}"] == chinese
        assert re.fullmatch(r"[A-Z][A-Za-z -]+", MESSAGES["en"][f"memo_{key}"]), key
