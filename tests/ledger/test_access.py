"""Who may use the ledger API, what each use leaves in the audit trail, and frozen
accounts: the operator token only until staff logins exist, then staff by role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.api.app import create_app
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.platform import Platform
from tests.conftest import OPERATOR_TOKEN, staff_token
from tests.ledger.test_endpoints import L, balance, open_account, transfer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def move(client: TestClient, headers: dict[str, str], client_id: str, amount: str) -> Any:
    """Alice pays the vault, as whoever ``headers`` say."""
    body = {
        "client_id": client_id,
        "debit_account": "cust:alice",
        "credit_account": "bank:vault",
        "amount": amount,
        "currency": "CNY",
    }
    return client.post(f"{L}/transfers", json=body, headers=headers)


def posted(client: TestClient, headers: dict[str, str], code: str) -> str:
    return str(client.get(f"{L}/accounts/{code}", headers=headers).json()["balance"]["posted"])


def audit_rows(session: Session, action_prefix: str) -> list[dict[str, Any]]:
    rows = session.execute(
        text(
            "SELECT actor_kind, actor_id, action, target, result, details FROM audit_log "
            "WHERE action LIKE :p ORDER BY id"
        ),
        {"p": f"{action_prefix}%"},
    ).mappings()
    return [dict(row) for row in rows]


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    """No default credentials: each request says who sends it."""
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def operator() -> dict[str, str]:
    return bearer(OPERATOR_TOKEN)


def vault_and_alice(client: TestClient, headers: dict[str, str]) -> None:
    client.headers.update(headers)
    open_account(client, "bank:vault", type="asset")
    open_account(client, "cust:alice", rule="debits_must_not_exceed_credits")
    assert transfer(client, "fund", "bank:vault", "cust:alice", "100.00").status_code == 201
    del client.headers["Authorization"]


class TestBootstrap:
    def test_before_any_staff_login_the_operator_token_keeps_the_ledger_audited(
        self, client: TestClient, operator: dict[str, str], session: Session
    ) -> None:
        vault_and_alice(client, operator)

        assert client.get(f"{L}/accounts/cust:alice", headers=operator).status_code == 200
        moved = audit_rows(session, "ledger.transfer")
        assert [(r["actor_kind"], r["actor_id"], r["result"]) for r in moved] == [
            ("operator", None, "ok")
        ]
        assert moved[0]["details"]["amount"] == 10_000
        assert moved[0]["target"] == "bank:vault -> cust:alice"
        opened = audit_rows(session, "ledger.account.open")
        assert [r["target"] for r in opened] == ["bank:vault", "cust:alice"]

    def test_once_a_staff_login_exists_the_token_is_refused_and_the_attempt_audited(
        self, client: TestClient, operator: dict[str, str], platform: Platform, session: Session
    ) -> None:
        vault_and_alice(client, operator)
        staff_token(platform, username="ops1", role="operations")

        for response in (
            client.get(f"{L}/accounts/cust:alice", headers=operator),
            move(client, operator, "after", "1.00"),
        ):
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "operator_token_retired"
        refused = audit_rows(session, "staff_api.access")
        assert [(r["actor_kind"], r["result"], r["details"]["error"]) for r in refused] == [
            ("operator", "refused", "operator_token_retired")
        ] * 2
        assert refused[1]["target"] == f"POST {L}/transfers"

    def test_a_customer_session_is_not_staff(
        self, client: TestClient, platform: Platform, session: Session
    ) -> None:
        from tests.accounts.test_endpoints import People

        alice = People(client, platform).register()
        response = client.get(f"{L}/trial-balance", headers=alice["headers"])
        assert response.status_code == 403
        assert audit_rows(session, "staff_api.access")[0]["actor_kind"] == "customer"


class TestRoles:
    @pytest.fixture
    def staff(self, client: TestClient, platform: Platform) -> dict[str, dict[str, str]]:
        tokens = {
            role: bearer(staff_token(platform, username=role, role=role)[1])
            for role in ("operations", "risk_analyst", "account_manager", "administrator")
        }
        vault_and_alice(client, tokens["operations"])
        return tokens

    def test_operations_moves_money_and_each_movement_is_audited_with_its_outcome(
        self,
        client: TestClient,
        staff: dict[str, dict[str, str]],
        platform: Platform,
        session: Session,
    ) -> None:
        ops = staff["operations"]
        with platform.transaction() as s:
            ops_id = platform.auth.authenticate(s, ops["Authorization"].split()[1]).id

        paid = move(client, ops, "pay-1", "30.00")
        refused = move(client, ops, "pay-2", "500.00")

        assert paid.status_code == 201
        assert refused.status_code == 422
        rows = audit_rows(session, "ledger.transfer")[1:]  # after the funding
        assert [(r["actor_kind"], r["actor_id"], r["result"]) for r in rows] == [
            ("staff", ops_id, "ok"),
            ("staff", ops_id, "refused"),
        ]
        assert rows[0]["details"] == {
            "client_id": "pay-1",
            "amount": 3_000,
            "currency": "CNY",
            "entry_id": paid.json()["id"],
        }
        assert rows[1]["details"]["error"] == "insufficient_funds"
        assert rows[1]["details"]["amount"] == 50_000

    @pytest.mark.parametrize("role", ["risk_analyst", "account_manager", "administrator"])
    def test_other_roles_move_no_money_and_the_refusal_is_audited(
        self, client: TestClient, staff: dict[str, dict[str, str]], role: str, session: Session
    ) -> None:
        response = move(client, staff[role], "nope", "1.00")
        opened = client.post(
            f"{L}/accounts",
            json={"code": "cust:x", "currency": "CNY", "type": "liability"},
            headers=staff[role],
        )

        for answer in (response, opened):
            assert answer.status_code == 403
            assert answer.json()["error"]["details"]["required_roles"] == ["operations"]
        assert posted(client, staff["operations"], "cust:alice") == "100.00"
        refused = audit_rows(session, "staff_api.access")
        assert [(r["details"]["role"], r["result"]) for r in refused] == [(role, "refused")] * 2

    def test_risk_analysts_read_and_account_managers_do_not(
        self, client: TestClient, staff: dict[str, dict[str, str]]
    ) -> None:
        path = f"{L}/accounts/cust:alice"
        assert client.get(path, headers=staff["risk_analyst"]).status_code == 200
        assert client.get(f"{L}/trial-balance", headers=staff["risk_analyst"]).status_code == 200
        assert client.get(path, headers=staff["account_manager"]).status_code == 403


class TestFrozenAccounts:
    @pytest.fixture
    def frozen(self, platform: Platform, api: TestClient) -> dict[str, Any]:
        """A customer's e-account with 100.00, frozen by staff."""
        from tests.accounts.test_endpoints import People

        alice = People(api, platform).register()
        number = alice["account"]["number"]
        with platform.transaction() as session:
            account = platform.accounts.account(session, number)
            platform.ledger.create_account(
                session, code="bank:vault", currency="CNY", type=AccountType.ASSET
            )
            code = platform.ledger.account(session, account.ledger_account_id).code
        assert transfer(api, "fund", "bank:vault", code, "100.00").status_code == 201
        with platform.transaction() as session:
            platform.accounts.set_status(session, number=number, status="frozen", reason="court")
        return {"number": number, "code": code}

    def test_the_back_office_cannot_debit_a_frozen_account(
        self, api: TestClient, frozen: dict[str, Any], session: Session
    ) -> None:
        response = transfer(api, "take", frozen["code"], "bank:vault", "10.00")

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "ledger_account_frozen"
        assert balance(api, frozen["code"])["posted"] == "100.00"
        assert api.get(f"{L}/accounts/{frozen['code']}").json()["frozen"] is True
        assert audit_rows(session, "ledger.transfer")[-1]["details"]["error"] == (
            "ledger_account_frozen"
        )

    def test_with_a_stated_authority_it_can_and_the_entry_and_audit_keep_it(
        self, api: TestClient, frozen: dict[str, Any], session: Session
    ) -> None:
        reason = "(2026)京0105执123号 扣划"
        response = transfer(
            api, "seize", frozen["code"], "bank:vault", "10.00", frozen_debit_reason=reason
        )

        assert response.status_code == 201, response.text
        assert response.json()["metadata"]["frozen_debit_reason"] == reason
        assert balance(api, frozen["code"])["posted"] == "90.00"
        assert audit_rows(session, "ledger.transfer")[-1]["details"]["frozen_debit_reason"] == (
            reason
        )

    def test_money_still_arrives_and_unfreezing_lifts_it(
        self, api: TestClient, frozen: dict[str, Any], platform: Platform
    ) -> None:
        assert transfer(api, "in", "bank:vault", frozen["code"], "5.00").status_code == 201
        with platform.transaction() as session:
            platform.accounts.set_status(
                session, number=frozen["number"], status="active", reason=""
            )

        assert transfer(api, "out", frozen["code"], "bank:vault", "5.00").status_code == 201
        assert balance(api, frozen["code"])["posted"] == "100.00"

    def test_a_frozen_ledger_account_refuses_debits_on_every_path(
        self, platform: Platform, session: Session
    ) -> None:
        """The ledger holds the freeze, so a domain path that forgot to check still
        cannot take the money."""
        from rongbank.ledger.service import Transfer

        with platform.transaction() as s:
            platform.ledger.create_account(s, code="v", currency="CNY", type=AccountType.ASSET)
            platform.ledger.create_account(
                s,
                code="d",
                currency="CNY",
                type=AccountType.LIABILITY,
                rule=BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS,
            )
            platform.ledger.transfer(
                s,
                Transfer(
                    client_id="f", debit_account="v", credit_account="d", amount=100, currency="CNY"
                ),
            )
            platform.ledger.set_frozen(s, "d", frozen=True)
            outcome = platform.ledger.execute(
                s,
                [
                    Transfer(
                        client_id="x",
                        debit_account="d",
                        credit_account="v",
                        amount=1,
                        currency="CNY",
                    )
                ],
            )[0]
        assert outcome.error is not None
        assert outcome.error.code == "ledger_account_frozen"
