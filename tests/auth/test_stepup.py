"""Step-up authentication of payments over the API, tool by tool, as a customer
meets it: which tool is asked, answering it, and every way an answer is refused."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.api.app import create_app
from rongbank.auth import gridcard, otp, ukey
from rongbank.auth.sms import FakeSmsGateway
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.accounts.test_endpoints import V1, People, available
from tests.support.sms import sms_code

YUAN = 100


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


@pytest.fixture
def pair(people: People) -> tuple[dict[str, Any], dict[str, Any]]:
    payer, payee = people.register(), people.register("李雷")
    people.fund(payer, 20_000 * YUAN)
    return payer, payee


class Payer:
    """Sends one transfer request, and the same request again with an answer."""

    def __init__(
        self,
        client: TestClient,
        platform: Platform,
        payer: dict[str, Any],
        payee: dict[str, Any],
    ) -> None:
        self.client, self.platform, self.payer, self.payee = client, platform, payer, payee

    def send(self, amount: str, client_id: str, **extra: Any) -> Any:
        body = {
            "client_id": client_id,
            "source": self.payer["account"]["number"],
            "destination": self.payee["account"]["number"],
            "amount": amount,
            **extra,
        }
        return self.client.post(f"{V1}/me/transfers", headers=self.payer["headers"], json=body)

    def challenge(self, amount: str, client_id: str, **extra: Any) -> dict[str, Any]:
        response = self.send(amount, client_id, **extra)
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["code"] == "challenge_required"
        challenge: dict[str, Any] = error["details"]["challenge"]
        return challenge

    def answer(self, amount: str, client_id: str, challenge: dict[str, Any], answer: str) -> Any:
        return self.send(amount, client_id, challenge_id=challenge["id"], response=answer)

    def get(self, path: str) -> Any:
        return self.client.get(f"{V1}{path}", headers=self.payer["headers"])

    def post(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        *,
        confirm: bool = True,
    ) -> Any:
        """POST as the payer; a security change's SMS challenge is answered (the
        code read from the fake gateway's outbox) unless ``confirm`` is False."""
        send = {"headers": self.payer["headers"] | (headers or {})}
        response = self.client.post(f"{V1}{path}", json=json, **send)
        if not confirm or response.status_code != 403:
            return response
        challenge = response.json()["error"]["details"]["challenge"]
        answer = {"challenge_id": challenge["id"], "response": self.sms_code()}
        return self.client.post(f"{V1}{path}", json=(json or {}) | answer, **send)

    def sms_code(self) -> str:
        return sms_code(self.platform, self.payer["login_name"])


@pytest.fixture
def alice(
    client: TestClient, platform: Platform, pair: tuple[dict[str, Any], dict[str, Any]]
) -> Payer:
    return Payer(client, platform, *pair)


def code_of(error_response: Any) -> str:
    return str(error_response.json()["error"]["code"])


class TestPasswordFree:
    def test_small_payments_go_through_until_the_daily_count_is_used(self, alice: Payer) -> None:
        for n in range(10):
            assert alice.send("1.00", f"small-{n}").status_code == 201
        assert alice.challenge("1.00", "small-10")["tool"] == "sms"
        assert available(alice.client, alice.payee) == "10.00"

    def test_a_retry_of_a_payment_made_needs_no_new_challenge(
        self, alice: Payer, platform: Platform
    ) -> None:
        challenge = alice.challenge("300.00", "r1")
        code = sms_code(platform, alice.payer["login_name"])
        assert alice.answer("300.00", "r1", challenge, code).status_code == 201
        assert alice.send("300.00", "r1").status_code == 200
        assert available(alice.client, alice.payee) == "300.00"


class TestSms:
    def test_the_code_comes_by_message_with_payee_and_amount(
        self, alice: Payer, platform: Platform
    ) -> None:
        challenge = alice.challenge("1000.00", "s1")
        assert challenge["tool"] == "sms"
        assert challenge["question"] == ""
        with platform.transaction() as session:
            _, body = FakeSmsGateway.outbox(session, alice.payer["login_name"])[0]
        tail = alice.payee["account"]["number"][-4:]
        code = sms_code(platform, alice.payer["login_name"])
        assert body == (  # in Chinese, as a bank in China writes its texts
            f"【融银行】{code}是您的验证码，用于向尾号{tail}的账户付款1000.00元。"
            "本行工作人员不会向您索要验证码，请勿告诉他人。"
        )
        paid = alice.answer("1000.00", "s1", challenge, code)
        assert paid.status_code == 201, paid.text
        assert available(alice.client, alice.payee) == "1000.00"

    def test_a_challenge_answers_for_its_own_request_only(
        self, alice: Payer, platform: Platform
    ) -> None:
        challenge = alice.challenge("1000.00", "s2")
        code = sms_code(platform, alice.payer["login_name"])
        # The same code offered for more money, or as another payment, is refused.
        assert code_of(alice.answer("4000.00", "s2", challenge, code)) == "challenge_mismatch"
        assert code_of(alice.answer("1000.00", "other", challenge, code)) == "challenge_mismatch"
        assert available(alice.client, alice.payee) == "0.00"
        assert alice.answer("1000.00", "s2", challenge, code).status_code == 201
        # Spent: it cannot authorise a second payment.
        again = alice.send("1000.00", "s3", challenge_id=challenge["id"], response=code)
        assert code_of(again) == "challenge_expired"
        assert available(alice.client, alice.payee) == "1000.00"

    def test_an_expired_challenge_is_refused(
        self, alice: Payer, platform: Platform, clock: FrozenClock
    ) -> None:
        challenge = alice.challenge("1000.00", "e1")
        code = sms_code(platform, alice.payer["login_name"])
        clock.advance(timedelta(minutes=6))
        assert code_of(alice.answer("1000.00", "e1", challenge, code)) == "challenge_expired"
        assert available(alice.client, alice.payee) == "0.00"

    def test_five_wrong_answers_block_the_tool_with_warnings_first(
        self, alice: Payer, people: People, platform: Platform
    ) -> None:
        challenge = alice.challenge("1000.00", "w1")
        right = sms_code(platform, alice.payer["login_name"])
        wrong = "000000" if right != "000000" else "111111"
        for left in (4, 3, 2, 1):
            refused = alice.answer("1000.00", "w1", challenge, wrong)
            assert refused.status_code == 401
            assert refused.json()["error"]["details"]["attempts_left"] == left
        assert "1 more wrong answer blocks" in refused.json()["error"]["message"]
        blocked = alice.answer("1000.00", "w1", challenge, wrong)
        assert code_of(blocked) == "tool_blocked"
        assert code_of(alice.answer("1000.00", "w1", challenge, right)) == "tool_blocked"
        assert available(alice.client, alice.payee) == "0.00"
        # Staff unblock after checking who the customer is; then it works again.
        tool = next(t for t in alice.get("/me/tools").json() if t["kind"] == "sms")
        assert tool["status"] == "blocked"
        ops = people.staff("operations")
        unblocked = alice.client.post(f"{V1}/staff/tools/{tool['id']}/unblock", headers=ops)
        assert unblocked.json()["status"] == "active"
        challenge = alice.challenge("1000.00", "w2")
        code = sms_code(platform, alice.payer["login_name"])
        assert alice.answer("1000.00", "w2", challenge, code).status_code == 201


class TestToken:
    @pytest.fixture
    def key(self, alice: Payer) -> bytes:
        issued = alice.post("/me/tools/token")
        assert issued.status_code == 201
        key_file = json.loads(issued.json()["key_file"])
        assert key_file["suite"] == otp.SIGNATURE_SUITE
        return bytes.fromhex(key_file["key"])

    def response(self, key: bytes, question: str, platform: Platform, drift: int = 0) -> str:
        now = int(platform.clock.now().timestamp()) + drift
        return otp.ocra(
            otp.SIGNATURE_SUITE,
            key,
            question,
            timestamp=otp.time_steps(now, otp.SIGNATURE_SUITE),
        )

    def test_a_code_for_this_payee_and_amount_pays(
        self, alice: Payer, key: bytes, platform: Platform
    ) -> None:
        challenge = alice.challenge("6000.00", "t1")
        assert challenge["tool"] == "token"
        payee = alice.payee["account"]["number"]
        assert challenge["question"] == payee[-6:] + "0000600000"
        # A token whose clock is a minute behind is still accepted.
        code = self.response(key, challenge["question"], platform, drift=-60)
        assert alice.answer("6000.00", "t1", challenge, code).status_code == 201
        assert available(alice.client, alice.payee) == "6000.00"

    def test_a_code_for_another_amount_or_payee_or_used_once_is_refused(
        self, alice: Payer, key: bytes, platform: Platform
    ) -> None:
        # 4,000 twice stays under the class II account's 10,000 a day; SMS could
        # cover it, so the token is asked for.
        challenge = alice.challenge("4000.00", "t2", tool="token")
        payee = alice.payee["account"]["number"]
        other_amount = self.response(key, otp.payment_question(payee, 400_001), platform)
        other_payee = self.response(
            key, otp.payment_question("6288880000009999996", 400_000), platform
        )
        for code in (other_amount, other_payee):
            assert code_of(alice.answer("4000.00", "t2", challenge, code)) == "challenge_failed"
        code = self.response(key, challenge["question"], platform)
        assert alice.answer("4000.00", "t2", challenge, code).status_code == 201
        # The same code for the same payee and amount, a second time: refused.
        second = alice.challenge("4000.00", "t3", tool="token")
        assert second["question"] == challenge["question"]
        assert code_of(alice.answer("4000.00", "t3", second, code)) == "challenge_failed"
        assert available(alice.client, alice.payee) == "4000.00"

    def test_a_code_far_outside_the_clock_window_is_refused(
        self, alice: Payer, key: bytes, platform: Platform
    ) -> None:
        challenge = alice.challenge("6000.00", "t4")
        late = self.response(key, challenge["question"], platform, drift=-600)
        assert code_of(alice.answer("6000.00", "t4", challenge, late)) == "challenge_failed"

    def test_the_customer_may_choose_a_stronger_tool(self, alice: Payer, key: bytes) -> None:
        challenge = alice.challenge("1000.00", "t5")
        assert challenge["tool"] == "sms"
        assert challenge["alternatives"] == ["token"]
        assert alice.challenge("1000.00", "t5", tool="token")["tool"] == "token"
        assert code_of(alice.send("1000.00", "t5", tool="ukey")) == "tool_not_held"


class TestGridCard:
    def test_codes_at_fresh_positions_pay_and_are_never_asked_twice(
        self, alice: Payer, platform: Platform
    ) -> None:
        issued = alice.post("/me/tools/grid-card")
        assert issued.status_code == 201
        card = gridcard.card_from_json(issued.json()["card_file"])
        asked: list[str] = []
        for n in range(3):
            challenge = alice.challenge("300.00", f"g{n}")
            assert challenge["tool"] == "grid_card"
            assert challenge["challenges_left"] == gridcard.CHALLENGES_PER_CARD - 1 - n
            positions = challenge["question"].split(",")
            assert len(positions) == gridcard.POSITIONS_PER_CHALLENGE
            asked += positions
            answer = " ".join(card.codes[p] for p in positions)
            assert alice.answer("300.00", f"g{n}", challenge, answer).status_code == 201
        assert len(set(asked)) == 9  # no position asked twice
        assert available(alice.client, alice.payee) == "900.00"

    def test_the_last_challenge_a_card_answers_says_so_and_the_card_then_ends(
        self, alice: Payer
    ) -> None:
        alice.post("/me/tools/grid-card")
        # Small payments that still need a tool: password-free allowance set to none.
        assert (
            alice.client.put(
                f"{V1}/me/limits/password_free",
                headers=alice.payer["headers"],
                json={"per_payment": "0.00", "daily": "0.00"},
            ).status_code
            == 204
        )
        asked: list[str] = []
        for n in range(gridcard.CHALLENGES_PER_CARD):
            challenge = alice.challenge("1.00", f"last{n}")
            assert challenge["tool"] == "grid_card"
            asked += challenge["question"].split(",")
        assert challenge["challenges_left"] == 0
        assert len(set(asked)) == len(asked) == 78
        tools = {t["kind"]: t["status"] for t in alice.get("/me/tools").json()}
        assert tools["grid_card"] == "expired"
        assert alice.challenge("1.00", "after")["tool"] == "sms"

    def test_one_wrong_code_fails_without_saying_which(self, alice: Payer) -> None:
        card = gridcard.card_from_json(alice.post("/me/tools/grid-card").json()["card_file"])
        challenge = alice.challenge("500.00", "g9")
        codes = [card.codes[p] for p in challenge["question"].split(",")]
        codes[1] = f"{(int(codes[1]) + 1) % 1000:03d}"
        refused = alice.answer("500.00", "g9", challenge, " ".join(codes))
        assert code_of(refused) == "challenge_failed"
        assert set(refused.json()["error"]["details"]) == {"attempts_left"}

    def test_the_printable_card_is_a_pdf(self, alice: Payer) -> None:
        pdf = alice.post("/me/tools/grid-card", headers={"Accept": "application/pdf"})
        assert pdf.status_code == 201
        assert pdf.content.startswith(b"%PDF")
        assert pdf.headers["cache-control"] == "no-store"

    def test_the_grid_card_cannot_authorise_more_than_its_limit(self, alice: Payer) -> None:
        alice.post("/me/tools/grid-card")
        assert alice.challenge("2000.00", "g10")["tool"] == "sms"


class TestUKey:
    @pytest.fixture
    def key(self, alice: Payer) -> ukey.PrivateKey:
        key = ukey.generate_key("p256")
        enrolled = alice.post("/me/tools/ukey", json={"csr": ukey.make_csr(key, "x").decode()})
        assert enrolled.status_code == 201, enrolled.text
        assert "BEGIN CERTIFICATE" in enrolled.json()["certificate"]
        return key

    def sign(self, key: ukey.PrivateKey, shown: str) -> str:
        return base64.b64encode(ukey.sign(key, shown.encode())).decode()

    def test_signing_exactly_what_was_shown_pays(self, alice: Payer, key: ukey.PrivateKey) -> None:
        challenge = alice.challenge("8000.00", "u1", tool="ukey")
        assert challenge["tool"] == "ukey"
        shown = challenge["question"]
        assert "800000" in shown
        assert alice.payee["account"]["number"] in shown
        paid = alice.answer("8000.00", "u1", challenge, self.sign(key, shown))
        assert paid.status_code == 201, paid.text
        assert available(alice.client, alice.payee) == "8000.00"

    def test_a_signature_of_an_altered_payment_is_refused(
        self, alice: Payer, key: ukey.PrivateKey
    ) -> None:
        challenge = alice.challenge("8000.00", "u2", tool="ukey")
        shown = challenge["question"]
        for altered in (
            shown.replace("800000", "900000"),
            shown.replace(alice.payee["account"]["number"], "6288880000009999996"),
        ):
            assert altered != shown
            refused = alice.answer("8000.00", "u2", challenge, self.sign(key, altered))
            assert code_of(refused) == "challenge_failed"
        garbage = alice.answer("8000.00", "u2", challenge, "not base64!")
        assert code_of(garbage) == "challenge_failed"
        assert available(alice.client, alice.payee) == "0.00"

    def test_a_revoked_certificate_is_refused(
        self, alice: Payer, key: ukey.PrivateKey, platform: Platform
    ) -> None:
        challenge = alice.challenge("8000.00", "u3", tool="ukey")
        tool = next(t for t in alice.get("/me/tools").json() if t["kind"] == "ukey")
        client = alice.client
        revoked = client.delete(f"{V1}/me/tools/{tool['id']}", headers=alice.payer["headers"])
        assert revoked.json()["status"] == "revoked"
        refused = alice.answer("8000.00", "u3", challenge, self.sign(key, challenge["question"]))
        assert code_of(refused) == "tool_not_active"
        # And the certificate check itself knows the serial as revoked.
        with platform.transaction() as session:
            ca = platform.tools.bank_ca(session).cert_pem
            cert = session.execute(
                text("SELECT certificate FROM auth_tool WHERE id = :id"), {"id": tool["id"]}
            ).scalar_one()
        message = challenge["question"].encode()
        with pytest.raises(ukey.CertificateRevoked):
            ukey.verify_payment_signature(
                ca_cert_pem=ca,
                cert_pem=cert.encode(),
                customer_id=alice.payer["customer_id"],
                message=message,
                signature=ukey.sign(key, message),
                now=platform.clock.now(),
                revoked_serials={int(tool["serial"])},
            )
        assert available(alice.client, alice.payee) == "0.00"

    def test_the_certificate_issued_verifies_against_the_ca_served_publicly(
        self, alice: Payer, key: ukey.PrivateKey
    ) -> None:
        issued = next(t for t in alice.get("/me/tools").json() if t["kind"] == "ukey")
        with alice.platform.transaction() as session:
            pem = session.execute(
                text("SELECT certificate FROM auth_tool WHERE id = :id"), {"id": issued["id"]}
            ).scalar_one()
        mine = x509.load_pem_x509_certificate(str(pem).encode())
        # Served to anyone: no login, no cookie.
        alice.client.cookies.clear()
        served_pem = alice.client.get(f"{V1}/ca/ukey.pem")
        served_der = alice.client.get(f"{V1}/ca/ukey.der")
        assert served_pem.status_code == served_der.status_code == 200
        assert served_pem.headers["content-type"] == "application/x-pem-file"
        assert served_der.headers["content-type"] == "application/pkix-cert"
        assert "public" in served_pem.headers["cache-control"]
        ca = x509.load_pem_x509_certificate(served_pem.content)
        assert x509.load_der_x509_certificate(served_der.content) == ca
        mine.verify_directly_issued_by(ca)
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        if shutil.which("openssl"):  # what a customer runs on their own computer
            with tempfile.TemporaryDirectory() as folder:
                (Path(folder) / "ca.pem").write_bytes(served_pem.content)
                (Path(folder) / "mine.pem").write_bytes(str(pem).encode())
                checked = subprocess.run(
                    ["openssl", "verify", "-CAfile", "ca.pem", "mine.pem"],  # noqa: S607
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            assert checked.returncode == 0, checked.stderr
            assert "mine.pem: OK" in checked.stdout

    def test_another_ca_does_not_verify_the_certificate(
        self, alice: Payer, key: ukey.PrivateKey, clock: FrozenClock
    ) -> None:
        issued = next(t for t in alice.get("/me/tools").json() if t["kind"] == "ukey")
        with alice.platform.transaction() as session:
            pem = session.execute(
                text("SELECT certificate FROM auth_tool WHERE id = :id"), {"id": issued["id"]}
            ).scalar_one()
        mine = x509.load_pem_x509_certificate(str(pem).encode())
        other = x509.load_pem_x509_certificate(ukey.BankCA.create(clock.now()).cert_pem)
        with pytest.raises((ValueError, InvalidSignature)):
            mine.verify_directly_issued_by(other)

    def test_a_request_that_is_not_a_csr_is_refused(self, alice: Payer) -> None:
        refused = alice.post("/me/tools/ukey", json={"csr": "hello"})
        assert code_of(refused) == "certificate_request_invalid"


class TestLimitsAndRisk:
    def test_a_customer_lowers_password_free_to_nothing(self, alice: Payer) -> None:
        lowered = alice.client.put(
            f"{V1}/me/limits/password_free",
            headers=alice.payer["headers"],
            json={"per_payment": "0.00"},
        )
        assert lowered.status_code == 204
        assert alice.challenge("1.00", "l1")["tool"] == "sms"
        free = next(x for x in alice.get("/me/limits").json() if x["kind"] == "password_free")
        assert free["own_per_payment"] == "0.00"
        assert free["bank_per_payment"] == "200.00"

    def test_raising_a_limit_above_the_banks_is_refused(self, alice: Payer) -> None:
        refused = alice.client.put(
            f"{V1}/me/limits/sms", headers=alice.payer["headers"], json={"daily": "9999999.00"}
        )
        assert code_of(refused) == "own_limit_invalid"

    def test_over_what_the_held_tools_may_do_names_the_stronger_tools(self, alice: Payer) -> None:
        refused = alice.send("5001.00", "k1")
        assert code_of(refused) == "stronger_tool_required"
        assert refused.json()["error"]["details"]["tools"] == ["token", "ukey"]

    def test_a_large_first_payment_to_a_new_payee_needs_a_bound_code(
        self, alice: Payer, platform: Platform
    ) -> None:
        # SMS could cover 5,000; a new payee makes it elevated risk.
        assert code_of(alice.send("5000.00", "n1")) == "stronger_tool_required"
        challenge = alice.challenge("300.00", "n0")
        code = sms_code(platform, alice.payer["login_name"])
        assert alice.answer("300.00", "n0", challenge, code).status_code == 201
        # Once paid before, the same payee is not new.
        assert alice.challenge("4000.00", "n2")["tool"] == "sms"


def test_challenges_and_answers_are_in_the_audit_trail(alice: Payer, platform: Platform) -> None:
    challenge = alice.challenge("1000.00", "a1")
    alice.answer("1000.00", "a1", challenge, "000000")
    with platform.transaction() as session:
        rows = session.execute(
            text("SELECT action, result FROM audit_log WHERE actor_id = :c ORDER BY id"),
            {"c": alice.payer["customer_id"]},
        ).all()
    actions = [tuple(r) for r in rows]
    assert ("challenge.open", "ok") in actions
    assert ("challenge.answer", "refused") in actions


class TestSecurityChanges:
    """A stolen password alone must not add a tool or lift a limit: both need a code
    sent to the registered mobile, bound to that one change."""

    def test_a_new_tool_needs_a_code_sent_to_the_mobile(self, alice: Payer) -> None:
        asked = alice.post("/me/tools/token", confirm=False)
        assert code_of(asked) == "challenge_required"
        challenge = asked.json()["error"]["details"]["challenge"]
        assert challenge["tool"] == "sms"
        with alice.platform.transaction() as session:
            _, body = FakeSmsGateway.outbox(session, alice.payer["login_name"])[0]
        assert "为您的网上银行添加新的电子密码器" in body
        assert [t["kind"] for t in alice.get("/me/tools").json()] == ["sms"]
        answer = {"challenge_id": challenge["id"], "response": "000000"}
        if alice.sms_code() == "000000":
            answer["response"] = "111111"
        refused = alice.post("/me/tools/token", json=answer, confirm=False)
        assert code_of(refused) == "challenge_failed"
        answer["response"] = alice.sms_code()
        assert alice.post("/me/tools/token", json=answer, confirm=False).status_code == 201
        # The code was spent: the same answer does not issue a second token.
        assert code_of(alice.post("/me/tools/token", json=answer, confirm=False)) in {
            "challenge_expired",
            "challenge_required",
        }

    def test_a_code_for_one_key_does_not_enrol_another(self, alice: Payer) -> None:
        mine = ukey.make_csr(ukey.generate_key("p256"), "mine").decode()
        theirs = ukey.make_csr(ukey.generate_key("p256"), "theirs").decode()
        asked = alice.post("/me/tools/ukey", json={"csr": mine}, confirm=False)
        challenge = asked.json()["error"]["details"]["challenge"]
        swapped = alice.post(
            "/me/tools/ukey",
            json={"csr": theirs, "challenge_id": challenge["id"], "response": alice.sms_code()},
            confirm=False,
        )
        assert code_of(swapped) == "challenge_mismatch"
        assert [t["kind"] for t in alice.get("/me/tools").json()] == ["sms"]

    def test_lowering_a_limit_is_free_and_raising_it_again_is_confirmed(self, alice: Payer) -> None:
        def put(body: dict[str, Any]) -> Any:
            return alice.client.put(
                f"{V1}/me/limits/sms", headers=alice.payer["headers"], json=body
            )

        assert put({"daily": "100.00"}).status_code == 204
        asked = put({"daily": "3000.00"})
        assert code_of(asked) == "challenge_required"
        with alice.platform.transaction() as session:
            _, body = FakeSmsGateway.outbox(session, alice.payer["login_name"])[0]
        assert "用于提高短信验证码的支付限额。" in body
        challenge = asked.json()["error"]["details"]["challenge"]
        answer = {"challenge_id": challenge["id"], "response": alice.sms_code()}
        assert code_of(put({"daily": "4000.00"} | answer)) == "challenge_mismatch"
        assert put({"daily": "3000.00"} | answer).status_code == 204
        sms = next(x for x in alice.get("/me/limits").json() if x["kind"] == "sms")
        assert sms["own_daily"] == "3000.00"

    def test_the_sms_tool_cannot_be_revoked(self, alice: Payer) -> None:
        (sms,) = alice.get("/me/tools").json()
        refused = alice.client.delete(f"{V1}/me/tools/{sms['id']}", headers=alice.payer["headers"])
        assert code_of(refused) == "tool_not_revocable"
        assert alice.get("/me/tools").json()[0]["status"] == "active"
