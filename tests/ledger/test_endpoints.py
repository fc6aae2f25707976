"""The ledger HTTP API as a staff client sees it."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.settings import Settings

L = "/api/v1/ledger"


def open_account(api: TestClient, code: str, **fields: Any) -> dict[str, Any]:
    body = {"code": code, "currency": "CNY", "type": "liability", **fields}
    response = api.post(f"{L}/accounts", json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def transfer(api: TestClient, client_id: str, debit: str, credit: str, amount: str, **extra: Any):
    body = {
        "client_id": client_id,
        "debit_account": debit,
        "credit_account": credit,
        "amount": amount,
        "currency": "CNY",
        **extra,
    }
    return api.post(f"{L}/transfers", json=body)


def balance(api: TestClient, code: str) -> dict[str, str]:
    result: dict[str, str] = api.get(f"{L}/accounts/{code}").json()["balance"]
    return result


@pytest.fixture
def bank(api: TestClient) -> TestClient:
    """A vault (asset) and two protected customer deposits, Alice funded with 1,000.00."""
    open_account(api, "bank:vault", type="asset")
    open_account(api, "cust:alice", rule="debits_must_not_exceed_credits")
    open_account(api, "cust:bob", rule="debits_must_not_exceed_credits")
    assert transfer(api, "fund-alice", "bank:vault", "cust:alice", "1000.00").status_code == 201
    return api


class TestAuthentication:
    def test_every_ledger_route_refuses_a_missing_or_wrong_token(self, platform: Platform) -> None:
        app = create_app(platform, background=False)
        routes = [
            (method.upper(), path)
            for path, operations in app.openapi()["paths"].items()
            if path.startswith(L)
            for method in operations
        ]
        assert len(routes) >= 15
        with TestClient(app) as client:
            for method, template in routes:
                path = template.replace("{ref}", "x").replace("{entry_id}", "1")
                path = path.replace("{client_id}", "x")
                for headers, code in (
                    ({}, "unauthenticated"),
                    ({"Authorization": "Bearer wrong"}, "session_invalid"),
                ):
                    response = client.request(method, path, headers=headers, json={})
                    assert response.status_code == 401, (method, path)
                    assert response.json()["error"]["code"] == code

    def test_health_and_docs_need_no_token(self, platform: Platform) -> None:
        with TestClient(create_app(platform, background=False)) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/openapi.json").status_code == 200


class TestAccounts:
    def test_opening_twice_returns_the_same_account(self, api: TestClient) -> None:
        first = api.post(f"{L}/accounts", json={"code": "a1", "currency": "CNY", "type": "asset"})
        again = api.post(f"{L}/accounts", json={"code": "a1", "currency": "CNY", "type": "asset"})
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]

    def test_same_code_other_attributes_is_a_conflict(self, api: TestClient) -> None:
        open_account(api, "a1")
        response = api.post(
            f"{L}/accounts", json={"code": "a1", "currency": "USD", "type": "asset"}
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "ledger_account_code_taken"

    def test_unknown_currency_is_refused(self, api: TestClient) -> None:
        response = api.post(
            f"{L}/accounts", json={"code": "a1", "currency": "XYZ", "type": "asset"}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "currency_not_found"

    def test_unknown_account_is_404(self, api: TestClient) -> None:
        response = api.get(f"{L}/accounts/nobody")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ledger_account_not_found"

    def test_list_pages_by_id(self, api: TestClient) -> None:
        for i in range(5):
            open_account(api, f"page:{i}")
        first = api.get(f"{L}/accounts", params={"code_prefix": "page:", "limit": 3}).json()
        rest = api.get(
            f"{L}/accounts", params={"code_prefix": "page:", "after": first["next_after"]}
        ).json()
        codes = [a["code"] for a in first["accounts"] + rest["accounts"]]
        assert codes == [f"page:{i}" for i in range(5)]
        assert rest["next_after"] is None


class TestTransfers:
    def test_moves_money_and_shows_balances(self, bank: TestClient) -> None:
        response = transfer(bank, "t1", "cust:alice", "cust:bob", "250.25")
        assert response.status_code == 201
        entry = response.json()
        assert entry["status"] == "created"
        assert [(p["account_code"], p["debit"], p["credit"]) for p in entry["postings"]] == [
            ("cust:alice", "250.25", None),
            ("cust:bob", None, "250.25"),
        ]
        assert balance(bank, "cust:alice")["posted"] == "749.75"
        assert balance(bank, "cust:bob")["available"] == "250.25"

    def test_a_retry_returns_the_original_and_moves_nothing(self, bank: TestClient) -> None:
        first = transfer(bank, "t1", "cust:alice", "cust:bob", "10.00").json()
        retry = transfer(bank, "t1", "cust:alice", "cust:bob", "10.00")
        assert retry.status_code == 200
        assert retry.json()["id"] == first["id"]
        assert retry.json()["status"] == "exists"
        assert balance(bank, "cust:bob")["posted"] == "10.00"

    def test_the_same_client_id_for_another_amount_is_a_conflict(self, bank: TestClient) -> None:
        transfer(bank, "t1", "cust:alice", "cust:bob", "10.00")
        response = transfer(bank, "t1", "cust:alice", "cust:bob", "11.00")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "idempotency_conflict"
        assert balance(bank, "cust:bob")["posted"] == "10.00"

    def test_idempotency_key_header_stands_for_the_client_id(self, bank: TestClient) -> None:
        body = {
            "debit_account": "cust:alice",
            "credit_account": "cust:bob",
            "amount": "1.00",
            "currency": "CNY",
        }
        headers = {"Idempotency-Key": "hdr-1"}
        assert bank.post(f"{L}/transfers", json=body, headers=headers).status_code == 201
        assert bank.post(f"{L}/transfers", json=body, headers=headers).status_code == 200
        missing = bank.post(f"{L}/transfers", json=body)
        assert missing.json()["error"]["code"] == "client_id_required"
        mismatch = bank.post(f"{L}/transfers", json={**body, "client_id": "x"}, headers=headers)
        assert mismatch.json()["error"]["code"] == "client_id_mismatch"

    @pytest.mark.parametrize("client_id", ["xfer:7:k1", "chat-card:3", "epay:1", "sys:expire:1"])
    def test_the_banks_own_client_ids_are_refused_and_change_nothing(
        self, bank: TestClient, client_id: str
    ) -> None:
        """Else the back office could take the id of a customer's transfer yet to come
        (``rongbank.ledger.client_ids``), which would then be answered with it."""
        body = {"debit_account": "cust:alice", "credit_account": "cust:bob", "amount": "1.00"}
        single = transfer(bank, client_id, "cust:alice", "cust:bob", "1.00")
        by_header = bank.post(
            f"{L}/transfers",
            json=body | {"currency": "CNY"},
            headers={"Idempotency-Key": client_id},
        )
        item = body | {"type": "transfer", "client_id": client_id, "currency": "CNY"}
        batch = bank.post(f"{L}/batches", json={"items": [item | {"client_id": "ok"}, item]})

        for response in (single, by_header, batch):
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "client_id_reserved"
        assert balance(bank, "cust:bob")["posted"] == "0.00"
        assert transfer(bank, "card:3", "cust:alice", "cust:bob", "1.00").status_code == 201

    @pytest.mark.parametrize(
        ("amount", "code"),
        [
            ("12.301", "amount_precision_exceeded"),
            ("-5.00", "invalid_amount"),
            ("0", "amount_not_positive"),
            ("0.00", "amount_not_positive"),
            ("1e3", "invalid_amount"),
            ("1,000.00", "invalid_amount"),
            (" 5", "invalid_amount"),
            ("99999999999999999", "amount_out_of_range"),
            (12.5, "invalid_request"),  # a JSON number: floats cannot carry money
            (5, "invalid_request"),
        ],
    )
    def test_bad_amounts_are_refused_and_change_nothing(
        self, bank: TestClient, amount: Any, code: str
    ) -> None:
        response = transfer(bank, "bad", "cust:alice", "cust:bob", amount)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]
        assert balance(bank, "cust:alice")["posted"] == "1000.00"
        assert bank.get(f"{L}/transfers/by-client-id/bad").status_code == 404

    def test_insufficient_funds_is_refused_and_changes_nothing(self, bank: TestClient) -> None:
        response = transfer(bank, "big", "cust:bob", "cust:alice", "0.01")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "insufficient_funds"
        assert balance(bank, "cust:bob")["posted"] == "0.00"

    def test_overdraft_limit_lets_an_account_go_negative_down_to_it(self, bank: TestClient) -> None:
        open_account(
            bank, "cust:od", rule="debits_must_not_exceed_credits", overdraft_limit="100.00"
        )
        assert transfer(bank, "od1", "cust:od", "cust:bob", "100.00").status_code == 201
        assert balance(bank, "cust:od") == {
            "posted": "-100.00",
            "pending_debits": "0.00",
            "pending_credits": "0.00",
            "available": "0.00",
        }
        assert transfer(bank, "od2", "cust:od", "cust:bob", "0.01").status_code == 422

    def test_currency_must_match_the_accounts(self, bank: TestClient) -> None:
        response = transfer(bank, "fx", "cust:alice", "cust:bob", "1.00", currency="USD")
        assert response.json()["error"]["code"] == "currency_mismatch"

    def test_unknown_route_is_a_json_404(self, api: TestClient) -> None:
        response = api.get("/api/v1/nothing-here")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


class TestPendingTransfers:
    def test_hold_reserves_then_posts_in_part(self, bank: TestClient) -> None:
        pending = transfer(bank, "p1", "cust:alice", "cust:bob", "300.00", pending=True).json()
        assert pending["hold"]["state"] == "pending"
        assert balance(bank, "cust:alice") == {
            "posted": "1000.00",
            "pending_debits": "300.00",
            "pending_credits": "0.00",
            "available": "700.00",
        }
        posted = bank.post(
            f"{L}/transfers/{pending['id']}/post", json={"client_id": "p1-post", "amount": "120.00"}
        )
        assert posted.status_code == 201
        assert balance(bank, "cust:alice")["available"] == "880.00"
        assert balance(bank, "cust:bob")["posted"] == "120.00"
        hold = bank.get(f"{L}/transfers/{pending['id']}").json()["hold"]
        assert (hold["state"], hold["posted_amount"]) == ("posted", "120.00")

    def test_void_releases_and_a_second_resolution_is_refused(self, bank: TestClient) -> None:
        pending = transfer(bank, "p1", "cust:alice", "cust:bob", "300.00", pending=True).json()
        assert (
            bank.post(f"{L}/transfers/{pending['id']}/void", json={"client_id": "v1"}).status_code
            == 201
        )
        assert balance(bank, "cust:alice")["available"] == "1000.00"
        again = bank.post(f"{L}/transfers/{pending['id']}/post", json={"client_id": "late"})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "pending_transfer_already_resolved"

    def test_an_expired_hold_cannot_be_posted(self, bank: TestClient, clock: FrozenClock) -> None:
        pending = transfer(
            bank, "p1", "cust:alice", "cust:bob", "300.00", pending=True, timeout_seconds=60
        ).json()
        clock.advance(timedelta(seconds=61))
        response = bank.post(f"{L}/transfers/{pending['id']}/post", json={"client_id": "late"})
        assert response.json()["error"]["code"] == "pending_transfer_expired"
        assert balance(bank, "cust:alice")["available"] == "1000.00"
        assert bank.get(f"{L}/transfers/{pending['id']}").json()["hold"]["state"] == "expired"


class TestCorrectionsAndEntries:
    def test_reversal_undoes_and_only_once(self, bank: TestClient) -> None:
        original = transfer(bank, "t1", "cust:alice", "cust:bob", "40.00").json()
        reversal = bank.post(f"{L}/transfers/{original['id']}/reverse", json={"client_id": "r1"})
        assert reversal.status_code == 201
        assert reversal.json()["reverses_id"] == original["id"]
        assert balance(bank, "cust:bob")["posted"] == "0.00"
        again = bank.post(f"{L}/transfers/{original['id']}/reverse", json={"client_id": "r2"})
        assert again.json()["error"]["code"] == "entry_already_reversed"

    def test_multi_leg_fx_entry(self, bank: TestClient) -> None:
        open_account(bank, "fx:cny", type="asset")
        open_account(bank, "fx:usd", type="asset", currency="USD")
        open_account(bank, "cust:alice-usd", currency="USD")
        body = {
            "client_id": "fx1",
            "description": "Alice buys 10.00 USD at 7.1234",
            "postings": [
                {"account": "cust:alice", "currency": "CNY", "debit": "71.23"},
                {"account": "fx:cny", "currency": "CNY", "credit": "71.23"},
                {"account": "fx:usd", "currency": "USD", "debit": "10.00"},
                {"account": "cust:alice-usd", "currency": "USD", "credit": "10.00"},
            ],
        }
        assert bank.post(f"{L}/entries", json=body).status_code == 201
        assert balance(bank, "cust:alice-usd")["posted"] == "10.00"
        unbalanced = {**body, "client_id": "fx2"}
        unbalanced["postings"] = [*body["postings"][:3], {**body["postings"][3], "credit": "9.99"}]
        response = bank.post(f"{L}/entries", json=unbalanced)
        assert response.json()["error"]["code"] == "unbalanced_entry"

    def test_batch_isolates_failures_except_linked_chains(self, bank: TestClient) -> None:
        def item(cid: str, amount: str, debit: str = "cust:alice", **extra: Any) -> dict[str, Any]:
            return {
                "type": "transfer",
                "client_id": cid,
                "debit_account": debit,
                "credit_account": "cust:bob" if debit != "cust:bob" else "cust:alice",
                "amount": amount,
                "currency": "CNY",
                **extra,
            }

        response = bank.post(
            f"{L}/batches",
            json={
                "items": [
                    item("b1", "10.00"),
                    item("b2", "5000.00"),  # fails alone
                    item("b3", "20.00", linked=True),
                    item("b4", "9999.00", debit="cust:bob"),  # fails, takes b3 with it
                    item("b5", "30.00"),
                ]
            },
        )
        assert response.status_code == 200
        results = {r["client_id"]: r for r in response.json()["results"]}
        assert [results[c]["status"] for c in ("b1", "b2", "b3", "b4", "b5")] == [
            "created",
            "failed",
            "failed",
            "failed",
            "created",
        ]
        assert results["b2"]["error"]["code"] == "insufficient_funds"
        assert results["b3"]["error"]["code"] == "linked_chain_failed"
        assert balance(bank, "cust:bob")["posted"] == "40.00"


class TestRefusalsAreRemembered:
    """A refusal is the answer to its client id, as a success is (ARCHITECTURE rule 2)."""

    def test_a_refused_transfer_is_refused_again_even_after_money_arrives(
        self, bank: TestClient
    ) -> None:
        refused = transfer(bank, "t1", "cust:alice", "cust:bob", "1500.00")
        assert transfer(bank, "fund-2", "bank:vault", "cust:alice", "1000.00").status_code == 201
        again = transfer(bank, "t1", "cust:alice", "cust:bob", "1500.00")

        assert refused.status_code == again.status_code == 422
        assert again.json() == refused.json()
        assert again.json()["error"]["code"] == "insufficient_funds"
        assert balance(bank, "cust:alice")["posted"] == "2000.00"
        assert transfer(bank, "t2", "cust:alice", "cust:bob", "1500.00").status_code == 201

    def test_the_refused_client_id_for_another_transfer_is_a_conflict(
        self, bank: TestClient
    ) -> None:
        assert transfer(bank, "t1", "cust:alice", "cust:bob", "1500.00").status_code == 422

        other = transfer(bank, "t1", "cust:alice", "cust:bob", "15.00")

        assert other.status_code == 409
        assert other.json()["error"]["code"] == "idempotency_conflict"
        assert balance(bank, "cust:bob")["posted"] == "0.00"

    def test_a_malformed_request_is_not_an_outcome(self, bank: TestClient) -> None:
        """Refused before it was carried out: the client may correct it under its id."""
        typo = transfer(bank, "t1", "cust:alice", "cust:alice", "15.00")
        assert typo.json()["error"]["code"] == "same_account"

        assert transfer(bank, "t1", "cust:alice", "cust:bob", "15.00").status_code == 201

    def test_a_batch_sent_again_answers_each_item_as_the_first_time(self, bank: TestClient) -> None:
        items = [
            {"type": "transfer", "client_id": cid, "debit_account": "cust:alice",
             "credit_account": "cust:bob", "amount": amount, "currency": "CNY"}
            for cid, amount in (("b1", "10.00"), ("b2", "5000.00"))
        ]  # fmt: skip
        first = bank.post(f"{L}/batches", json={"items": items}).json()["results"]
        transfer(bank, "fund-2", "bank:vault", "cust:alice", "5000.00")
        again = bank.post(f"{L}/batches", json={"items": items}).json()["results"]

        assert [(r["status"], r["error"] and r["error"]["code"]) for r in first] == [
            ("created", None),
            ("failed", "insufficient_funds"),
        ]
        assert [(r["status"], r["error"] and r["error"]["code"]) for r in again] == [
            ("exists", None),
            ("failed", "insufficient_funds"),
        ]
        assert balance(bank, "cust:bob")["posted"] == "10.00"


class TestReading:
    def test_statement_has_opening_running_and_closing_balances(
        self, bank: TestClient, clock: FrozenClock
    ) -> None:
        start = clock.advance(timedelta(hours=1))
        for i, amount in enumerate(("100.00", "50.00", "25.00")):
            clock.advance(timedelta(minutes=1))
            transfer(bank, f"s{i}", "cust:alice", "cust:bob", amount)
        end = clock.advance(timedelta(hours=1))
        transfer(bank, "after", "cust:alice", "cust:bob", "1.00")
        params = {"start": start.isoformat(), "end": end.isoformat(), "limit": 2}
        page1 = bank.get(f"{L}/accounts/cust:alice/statement", params=params).json()
        assert page1["opening_balance"] == "1000.00"
        assert page1["closing_balance"] == "825.00"
        assert [(x["debit"], x["balance"]) for x in page1["lines"]] == [
            ("100.00", "900.00"),
            ("50.00", "850.00"),
        ]
        page2 = bank.get(
            f"{L}/accounts/cust:alice/statement", params={**params, "after": page1["next_after"]}
        ).json()
        assert [(x["debit"], x["balance"]) for x in page2["lines"]] == [("25.00", "825.00")]
        assert page2["next_after"] is None

    def test_balance_at_a_past_instant(self, bank: TestClient, clock: FrozenClock) -> None:
        before = clock.advance(timedelta(minutes=5))
        clock.advance(timedelta(minutes=5))
        transfer(bank, "later", "cust:alice", "cust:bob", "400.00")
        past = bank.get(f"{L}/accounts/cust:alice/balance", params={"at": before.isoformat()})
        assert past.json()["posted"] == "1000.00"
        assert bank.get(f"{L}/accounts/cust:alice/balance").json()["posted"] == "600.00"

    def test_trial_balance_is_balanced(self, bank: TestClient) -> None:
        transfer(bank, "t1", "cust:alice", "cust:bob", "1.00", pending=True)
        body = bank.get(f"{L}/trial-balance").json()
        assert body["balanced"] is True
        cny = next(c for c in body["currencies"] if c["currency"] == "CNY")
        assert cny["debits_posted"] == cny["credits_posted"] == "1000.00"
        assert cny["debits_pending"] == cny["credits_pending"] == "1.00"


class TestGroupCommit:
    def test_concurrent_requests_are_each_answered_after_commit(self, fresh_db: str) -> None:
        settings = Settings(operator_token=SecretStr("t"), group_commit_max_batch=64)
        platform = Platform.connect(fresh_db, settings)
        with TestClient(create_app(platform, background=False)) as client:
            client.headers["Authorization"] = "Bearer t"
            open_account(client, "bank:vault", type="asset")
            open_account(client, "cust:hot", rule="debits_must_not_exceed_credits")
            assert transfer(client, "fund", "bank:vault", "cust:hot", "100.00").status_code == 201
            statuses: list[int] = []

            def spend(worker: int) -> None:
                for i in range(15):
                    r = transfer(client, f"w{worker}-{i}", "cust:hot", "bank:vault", "1.00")
                    statuses.append(r.status_code)

            threads = [threading.Thread(target=spend, args=(w,)) for w in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            # 120 attempts at 1.00 against 100.00: exactly 100 succeed, none overdraws.
            assert statuses.count(201) == 100
            assert statuses.count(422) == 20
            assert balance(client, "cust:hot")["posted"] == "0.00"
            # Each one audited in the batch that carried it, the refusals too.
            with platform.transaction() as session:
                audited = session.execute(
                    text(
                        "SELECT result, count(*) FROM audit_log WHERE action = 'ledger.transfer' "
                        "AND actor_kind = 'operator' GROUP BY result"
                    )
                ).all()
            assert dict(audited) == {"ok": 101, "refused": 20}
