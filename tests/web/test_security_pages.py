"""The web bank's step-up and security pages, as plain forms (no JavaScript, no
browser): challenges for each tool, wrong answers, switching tools, getting and
revoking tools, and the customer's own limits."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from rongbank.api.app import create_app
from rongbank.auth import gridcard
from rongbank.auth.limits import ToolKind
from rongbank.auth.tools import PaymentRequest
from rongbank.cli.main import app as cli
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.support.web import WebCustomer
from tests.web.conftest import deposit, sms_code


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def payee(client: TestClient, platform: Platform) -> Iterator[WebCustomer]:
    # Another browser on the same app: a new app's first request indexes every route.
    with TestClient(client.app) as other:
        yield WebCustomer(other, platform, "李雷", "13900000402", 402)


@pytest.fixture
def me(client: TestClient, platform: Platform) -> WebCustomer:
    customer = WebCustomer(client, platform, "韩梅梅", "13900000401", 401)
    deposit(platform, customer.account, 10_000_00)
    return customer


def device(*args: str) -> str:
    result = CliRunner().invoke(cli, ["device", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def get_token(me: WebCustomer, tmp_path: Path) -> Path:
    me.get("/security")
    me.change("/security/token")
    match = re.search(r'<pre id="token-key-file">(.*?)</pre>', me.page.text, re.S)
    assert match, me.page.text
    key_file = tmp_path / "token.json"
    key_file.write_text(html.unescape(match.group(1)))
    return key_file


def token_code(key_file: Path, question: str, platform: Platform) -> str:
    at = str(int(platform.clock.now().timestamp()))
    return device("token", "--key-file", str(key_file), "--question", question, "--at", at)


def data_link(page: str, element_id: str) -> bytes:
    """What a download link made of a data: URL holds."""
    match = re.search(rf'id="{element_id}" href="data:[^,]*;base64,([^"]+)"', page)
    assert match, page
    return base64.b64decode(match.group(1))


def audited(platform: Platform, customer_id: int) -> list[tuple[str, str]]:
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT action, target FROM audit_log WHERE actor_kind = 'customer' "
                "AND actor_id = :c ORDER BY id"
            ),
            {"c": customer_id},
        ).all()
    return [(str(r[0]), str(r[1])) for r in rows]


class TestTransferStepUp:
    def test_a_transfer_of_200_or_less_goes_without_a_challenge(
        self, me: WebCustomer, payee: WebCustomer
    ) -> None:
        me.transfer(payee.account, "150.00")
        assert "转账成功" in me.page.text
        assert me.asked is None
        assert payee.balance() == 150_00
        assert me.balance() == 10_000_00 - 150_00

    def test_over_200_the_bank_sends_a_code_to_the_customers_mobile(
        self, me: WebCustomer, payee: WebCustomer, platform: Platform
    ) -> None:
        me.transfer(payee.account, "300.00")
        assert me.asked == "sms"
        assert "139****0401" in me.page.text
        assert payee.balance() == 0
        me.submit("/transfer/confirm", response=sms_code(platform, me.mobile))
        assert "转账成功" in me.page.text
        assert payee.balance() == 300_00

    def test_a_wrong_token_code_says_how_many_tries_are_left_and_moves_no_money(
        self, me: WebCustomer, payee: WebCustomer, platform: Platform, tmp_path: Path
    ) -> None:
        key_file = get_token(me, tmp_path)
        me.transfer(payee.account, "6000.00")
        assert me.asked == "token"
        challenge = me.challenge
        right = token_code(key_file, challenge["question"], platform)
        wrong = f"{(int(right) + 1) % 10**8:08d}"

        me.submit("/transfer/confirm", response=wrong)
        assert me.page.status_code == 422
        assert me.error == "口令不正确。再错4次，此安全工具将被锁定。"
        assert me.challenge == challenge  # the same question, to answer again
        assert (me.balance(), payee.balance()) == (10_000_00, 0)

        me.submit("/transfer/confirm", response=right)
        assert "转账成功" in me.page.text
        assert (me.balance(), payee.balance()) == (4_000_00, 6_000_00)

    def test_five_wrong_answers_block_the_tool(self, me: WebCustomer, payee: WebCustomer) -> None:
        me.transfer(payee.account, "300.00")
        for left in (4, 3, 2, 1):
            me.submit("/transfer/confirm", response="000000")
            assert f"再错{left}次" in me.error
        me.submit("/transfer/confirm", response="000000")
        assert "已被锁定" in me.error
        assert me.asked is None
        me.get("/security")
        assert 'data-kind="sms" data-status="blocked"' in me.page.text
        assert payee.balance() == 0

    def test_an_expired_challenge_is_asked_anew(
        self, me: WebCustomer, payee: WebCustomer, platform: Platform, clock: FrozenClock
    ) -> None:
        me.transfer(payee.account, "300.00")
        code = sms_code(platform, me.mobile)
        clock.advance(timedelta(seconds=platform.settings.challenge_ttl_seconds + 1))
        me.submit("/transfer/confirm", response=code)
        assert me.error == "验证已过期或已使用，请重新确认转账。"
        assert me.asked is None
        me.submit("/transfer/confirm")  # confirm again: a new code
        assert me.asked == "sms"
        me.submit("/transfer/confirm", response=sms_code(platform, me.mobile))
        assert "转账成功" in me.page.text
        assert payee.balance() == 300_00

    def test_an_empty_answer_is_asked_again_without_counting(
        self, me: WebCustomer, payee: WebCustomer
    ) -> None:
        me.transfer(payee.account, "300.00")
        challenge = me.challenge
        me.submit("/transfer/confirm", response="")
        assert me.error == "请输入口令。"
        assert me.challenge == challenge

    def test_a_payment_over_every_held_tool_says_which_tool_to_get(
        self, me: WebCustomer, payee: WebCustomer
    ) -> None:
        me.transfer(payee.account, "6000.00")
        assert me.error == (
            "这笔转账需要更高级别的安全工具（电子密码器、U盾）。请在安全中心申领，或减少金额。"
        )
        assert payee.balance() == 0

    def test_the_customer_may_answer_with_another_tool_they_hold(
        self, me: WebCustomer, payee: WebCustomer, platform: Platform, tmp_path: Path
    ) -> None:
        me.get("/security")
        me.change("/security/grid-card")
        (tmp_path / "grid-card.json").write_bytes(data_link(me.page.text, "grid-card-json"))
        me.transfer(payee.account, "800.00")
        assert me.asked == "grid_card"
        challenge = me.challenge  # the weakest first
        assert challenge["alternatives"] == ["sms"]

        me.submit("/transfer/confirm", response=["", "", ""], press=("tool", "sms"))
        assert me.asked == "sms"
        me.submit("/transfer/confirm", response=sms_code(platform, me.mobile))
        assert "转账成功" in me.page.text
        assert payee.balance() == 800_00

    def test_a_grid_card_answers_with_the_codes_at_the_positions_asked(
        self, me: WebCustomer, payee: WebCustomer, tmp_path: Path
    ) -> None:
        me.get("/security")
        me.change("/security/grid-card")
        card_file = tmp_path / "grid-card.json"
        card_file.write_bytes(data_link(me.page.text, "grid-card-json"))
        me.transfer(payee.account, "800.00")
        challenge = me.challenge
        codes = device("grid", "--card-file", str(card_file), "--positions", challenge["question"])
        me.submit("/transfer/confirm", response=codes.split())
        assert "转账成功" in me.page.text
        assert payee.balance() == 800_00

    def test_the_customer_is_told_when_the_grid_card_runs_out(
        self, me: WebCustomer, payee: WebCustomer, platform: Platform, tmp_path: Path
    ) -> None:
        me.get("/security")
        me.change("/security/grid-card")
        card_file = tmp_path / "grid-card.json"
        card_file.write_bytes(data_link(me.page.text, "grid-card-json"))
        with platform.transaction() as session:
            card = platform.tools.live_tool(session, me.id, ToolKind.GRID_CARD)
            assert card is not None
            payment = PaymentRequest("transfer", me.account, payee.account, 1, "CNY", "x")
            for n in range(gridcard.CHALLENGES_PER_CARD - 2):  # asked elsewhere before
                platform.tools.question(session, card, payment, mobile=me.mobile, nonce=f"{n}")
        for left, notice in ((1, "grid-card-running-out"), (0, "grid-card-used-up")):
            me.transfer(payee.account, "300.00")
            assert me.challenge["challenges_left"] == left
            assert f'id="{notice}"' in me.page.text
            codes = device(
                "grid", "--card-file", str(card_file), "--positions", me.challenge["question"]
            )
            me.submit("/transfer/confirm", response=codes.split())
            assert "转账成功" in me.page.text
        assert 'data-kind="grid_card" data-status="expired"' in me.get("/security").text

    def test_an_answered_confirmation_sent_twice_pays_once(
        self, me: WebCustomer, payee: WebCustomer, platform: Platform
    ) -> None:
        me.transfer(payee.account, "300.00")
        challenge_page = me.page
        code = sms_code(platform, me.mobile)
        me.submit("/transfer/confirm", response=code)
        me.page = challenge_page  # a double click: the same form posted again
        me.submit("/transfer/confirm", response=code)
        assert "转账成功" in me.page.text
        assert payee.balance() == 300_00


class TestSecurityPage:
    def test_the_security_page_lists_the_customers_sms_tool(self, me: WebCustomer) -> None:
        page = me.get("/security")
        assert page.status_code == 200
        assert 'data-kind="sms" data-status="active"' in page.text
        assert "139****0401" in page.text

    def test_the_security_page_links_the_ukey_ca_certificate_with_its_fingerprint(
        self, me: WebCustomer
    ) -> None:
        page = me.get("/security").text
        assert 'href="/api/v1/ca/ukey.pem"' in page
        assert 'href="/api/v1/ca/ukey.der"' in page
        shown = re.search(r'<code class="fingerprint">([0-9A-F:]+)</code>', page)
        assert shown
        served = x509.load_pem_x509_certificate(me.client.get("/api/v1/ca/ukey.pem").content)
        assert shown.group(1) == served.fingerprint(hashes.SHA256()).hex(":").upper()

    def test_a_grid_card_comes_as_a_printable_pdf_and_a_card_file_once(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        me.get("/security")
        page = me.change("/security/grid-card")
        assert page.headers["cache-control"] == "no-store"
        assert data_link(page.text, "grid-card-pdf").startswith(b"%PDF")
        card = json.loads(data_link(page.text, "grid-card-json"))
        assert len(card["codes"]) == 80
        assert f'download="grid-card-{card["serial"]}.pdf"' in page.text

        page = me.get("/security")
        assert 'data-kind="grid_card" data-status="active"' in page.text
        assert "…" + card["serial"][-4:] in page.text
        assert not any(code in page.text for code in (f">{c}<" for c in card["codes"].values()))
        assert ("tool.issue", "grid_card") in audited(platform, me.id)

    def test_a_token_key_is_shown_once(self, me: WebCustomer, tmp_path: Path) -> None:
        key_file = get_token(me, tmp_path)
        assert me.page.headers["cache-control"] == "no-store"
        assert "此内容只显示这一次" in me.page.text
        key = json.loads(key_file.read_text())
        assert me.get("/security").text.count(key["serial"][-4:]) == 1
        assert key["key"] not in me.page.text

    def test_revoking_a_tool_ends_it(
        self, me: WebCustomer, payee: WebCustomer, platform: Platform, tmp_path: Path
    ) -> None:
        get_token(me, tmp_path)
        me.get("/security")
        match = re.search(r'action="(/security/tools/\d+/revoke)"', me.page.text)
        assert match
        me.submit(match.group(1))
        assert "已注销。" in me.page.text
        assert 'data-kind="token" data-status="revoked"' in me.page.text
        assert "/revoke" not in me.page.text  # nothing left to revoke: SMS stays
        assert any(action == "tool.revoke" for action, _ in audited(platform, me.id))
        me.transfer(payee.account, "6000.00")
        assert "电子密码器" in me.error  # the token no longer counts

    def test_another_customers_tool_cannot_be_revoked(
        self, me: WebCustomer, payee: WebCustomer, tmp_path: Path
    ) -> None:
        get_token(payee, tmp_path)
        payee.get("/security")
        match = re.search(r'action="(/security/tools/\d+/revoke)"', payee.page.text)
        assert match
        me.get("/security")
        response = me.client.post(match.group(1), data={"csrf": me.csrf})
        assert response.status_code == 422
        assert 'data-kind="token" data-status="active"' in payee.get("/security").text

    def test_a_customer_who_lowers_password_free_to_zero_confirms_even_small_payments(
        self, me: WebCustomer, payee: WebCustomer, platform: Platform
    ) -> None:
        me.get("/security")
        me.submit("/security/limits", kind="password_free", per_payment="0")
        assert "限额已保存。" in me.page.text
        assert ("limit.set", "password_free") in audited(platform, me.id)

        me.transfer(payee.account, "100.00")
        assert me.asked == "sms"
        me.submit("/transfer/confirm", response=sms_code(platform, me.mobile))
        assert "转账成功" in me.page.text
        assert payee.balance() == 100_00

    def test_a_new_tool_is_confirmed_by_a_code_sent_to_the_mobile(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        me.get("/security")
        me.submit("/security/token")
        assert 'id="confirm-change"' in me.page.text
        assert "139****0401" in me.page.text
        right = sms_code(platform, me.mobile)
        me.submit("/security/token", response="000000" if right != "000000" else "111111")
        assert me.page.status_code == 422
        assert "再错4次" in me.error
        assert 'id="confirm-change"' in me.page.text  # asked again, same code
        me.submit("/security/token", response=right)
        assert 'id="token-key-file"' in me.page.text

    def test_raising_a_lowered_limit_is_confirmed_but_lowering_is_not(
        self, me: WebCustomer, platform: Platform
    ) -> None:
        me.get("/security")
        me.submit("/security/limits", kind="sms", daily="100")
        assert "限额已保存。" in me.page.text
        me.submit("/security/limits", kind="sms", daily="")
        assert 'id="confirm-change"' in me.page.text
        me.submit("/security/limits", response=sms_code(platform, me.mobile))
        assert "限额已保存。" in me.page.text
        assert 'name="daily" value=""' in me.page.text.split('data-kind="sms"')[1]

    def test_an_own_limit_above_the_banks_is_refused(self, me: WebCustomer) -> None:
        me.get("/security")
        me.submit("/security/limits", kind="password_free", per_payment="300")
        assert me.page.status_code == 422
        assert me.error == "自设限额不能小于零，也不能高于本行限额（200.00）。"

    def test_a_bad_certificate_request_is_refused(self, me: WebCustomer) -> None:
        me.get("/security")
        me.submit("/security/ukey", csr="-----BEGIN CERTIFICATE REQUEST-----\nnope")
        assert me.page.status_code == 422
        assert "证书请求无效" in me.error

    def test_a_ukey_signs_the_payment_it_was_shown(
        self, me: WebCustomer, payee: WebCustomer, platform: Platform, tmp_path: Path
    ) -> None:
        key = tmp_path / "ukey.pem"
        csr = device("ukey-new", "--key-file", str(key))
        me.get("/security")
        me.change("/security/ukey", csr=csr)
        assert "U盾已登记" in me.page.text
        get_token(me, tmp_path)

        me.transfer(payee.account, "6000.00")
        assert me.asked == "token"
        me.submit("/transfer/confirm", response="", press=("tool", "ukey"))
        assert me.asked == "ukey"
        shown = tmp_path / "payment-to-sign.txt"  # the text, downloaded as the page offers it
        shown.write_bytes(data_link(me.page.text, "challenge-text"))
        assert shown.read_text() == me.challenge["question"]
        signature = device("sign", "--key-file", str(key), "--text-file", str(shown))
        me.submit("/transfer/confirm", response=signature)
        assert "转账成功" in me.page.text
        assert payee.balance() == 6000_00


def test_pages_show_english_refusals_with_their_details(
    me: WebCustomer, payee: WebCustomer
) -> None:
    me.client.cookies.set("rb_lang", "en")
    me.transfer(payee.account, "6000.00")
    assert me.error == (
        "This payment needs a stronger authentication tool (Token, U盾 signing key). "
        "Get one under Security, or pay less."
    )
