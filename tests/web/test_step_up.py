"""Step-up authentication in the web bank, in a real browser: a customer gets a token
under Security, and confirms a transfer over the SMS code's limit with it, keying the
bank's question into the ``rongbank device token`` stand-in."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.platform import Platform
from tests.web.conftest import deposit, needs_chromium, register_and_login, sms_code

pytestmark = needs_chromium


def token_code(key_file: Path, question: str, platform: Platform) -> str:
    """What the customer reads off the token: the stand-in's answer, at the bank's time."""
    result = CliRunner().invoke(
        cli,
        [
            "device",
            "token",
            "--key-file",
            str(key_file),
            "--question",
            question,
            "--at",
            str(int(platform.clock.now().timestamp())),
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_a_customer_gets_a_token_and_confirms_a_large_transfer_with_it(
    server: tuple[str, Platform], page: Page, browser: Browser, tmp_path: Path
) -> None:
    base, platform = server
    payee_page = browser.new_page()
    payee = register_and_login(payee_page, base, "李雷", "13900000301", 301)
    payer = register_and_login(page, base, "韩梅梅", "13900000302", 302)
    deposit(platform, payer, 10_000_00)

    page.click("nav >> text=安全中心")
    expect(page.locator("tr.tool[data-kind=sms]")).to_contain_text("139****0302")
    page.click("#get-token")
    # A new tool is confirmed with a code sent to the registered mobile.
    expect(page.locator("#confirm-change")).to_contain_text("139****0302")
    page.fill("#confirm-change input[name=response]", sms_code(platform, "13900000302"))
    page.click("#confirm-change-submit")
    expect(page.locator("h1")).to_have_text("您的新电子密码器")
    key_file = tmp_path / "token.json"
    key_file.write_text(page.locator("#token-key-file").inner_text())
    page.click("text=返回安全中心")
    expect(page.locator("tr.tool[data-kind=token] .status")).to_have_text("正常")

    # 6,000.00: over the 5,000.00 an SMS code may authorise, so the token is asked.
    page.click("nav >> text=转账")
    page.fill("input[name=destination]", payee)
    page.fill("input[name=amount]", "6000")
    page.click("button:has-text('下一步')")
    expect(page.locator("#confirm-amount")).to_have_text("¥ 6,000.00")
    page.click("button:has-text('确认转账')")
    expect(page.locator("#challenge")).to_have_attribute("data-tool", "token")
    question = page.locator("#challenge-question").inner_text()
    assert question == payee[-6:] + "0000600000"  # payee's last 6 digits, amount in fen
    page.fill("input[name=response]", token_code(key_file, question, platform))
    page.click("button:has-text('确认转账')")
    expect(page.locator("h1")).to_contain_text("转账成功")

    page.click("nav >> text=我的账户")
    expect(page.locator(".account .amount").first).to_have_text("¥ 4,000.00")
    payee_page.reload()  # their home dashboard
    expect(payee_page.locator(".asset-account .balance").first).to_have_text("¥ 6,000.00")
    payee_page.close()
