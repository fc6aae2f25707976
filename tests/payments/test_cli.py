"""``rongbank payments settle | transactions | reconcile`` as an operator runs them,
against a database whose business day has payments in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.clock import BUSINESS_TIME_ZONE, FrozenClock
from rongbank.payments import rules
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings
from tests.payments.helpers import CommittedShop, break_settlement_of, mend_settlement

pytestmark = pytest.mark.slow


@pytest.fixture
def shop(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CommittedShop]:
    """Two payments and a refund two days ago (so the day is over by the real clock
    the command uses), committed in a database the command is pointed at."""
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    clock = FrozenClock(datetime.now(UTC) - timedelta(days=2))
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    try:
        shop = CommittedShop.open(platform, funds=100_000)
        shop.pay("T-1", 10_000)
        shop.pay("T-2", 3_333)
        with platform.transaction() as session:
            platform.payments.refund(
                session, merchant_id=shop.merchant_id, order_no="T-1", refund_no="r1", amount=1_000
            )
        yield shop
    finally:
        platform.close()
        get_settings.cache_clear()


def day_of(shop: CommittedShop) -> date:
    return shop.platform.accounts.business_day()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["payments", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_settle_pays_the_net_once_and_writes_the_report(
    shop: CommittedShop, tmp_path: Path
) -> None:
    day = day_of(shop).isoformat()
    before = shop.available(shop.seller_account)
    # T-1's fee is on what it kept (9,000): it was refunded before settlement.
    net = 10_000 + 3_333 - 1_000 - rules.fee(9_000, 60) - rules.fee(3_333, 60)

    code, output = run("settle", "--date", day, "--reports", str(tmp_path / "reports"))
    assert code == 0, output
    assert f"Settled {day} for 1 merchants." in output
    assert f"{net / 100:.2f}" in output
    assert shop.available(shop.seller_account) == before + net
    report = (tmp_path / "reports" / f"settlement-{shop.merchant_id}-{day}.csv").read_text()
    assert f"{shop.merchant_id},paid,,,{net / 100:.2f}" in report

    code, again = run("settle", "--date", day)
    assert code == 0, again
    assert shop.available(shop.seller_account) == before + net  # paid once


def test_settle_goes_on_past_a_merchant_that_fails_and_exits_1(shop: CommittedShop) -> None:
    day = day_of(shop).isoformat()
    other = CommittedShop.open(shop.platform, funds=100_000, number=2)
    other.pay("O-1", 5_000)
    with shop.platform.transaction() as session:
        break_settlement_of(session, shop.merchant_id)
    before = shop.available(shop.seller_account)

    code, output = run("settle", "--date", day)
    assert code == 1, output
    assert f"Settled {day} for 1 merchants." in output
    assert "1 merchants not settled" in output
    assert f"{shop.merchant_id} " in output.split("Not settled")[1]
    assert other.available(other.seller_account) == 5_000 - rules.fee(5_000, 60)
    assert shop.available(shop.seller_account) == before

    with shop.platform.transaction() as session:
        mend_settlement(session)
    code, output = run("settle", "--date", day)
    assert code == 0, output
    assert f"Settled {day} for 2 merchants." in output
    assert shop.available(shop.seller_account) > before
    assert other.available(other.seller_account) == 5_000 - rules.fee(5_000, 60)  # once


def test_settle_refuses_a_day_that_is_not_over(shop: CommittedShop) -> None:
    today = datetime.now(BUSINESS_TIME_ZONE).date().isoformat()
    before = shop.available(shop.seller_account)
    code, output = run("settle", "--date", today)
    assert code == 1
    assert "can be settled only after it has ended" in output
    assert shop.available(shop.seller_account) == before


def test_the_transaction_file_reconciles_and_an_edited_one_does_not(
    shop: CommittedShop, tmp_path: Path
) -> None:
    day = day_of(shop).isoformat()
    file = tmp_path / "transactions.csv"
    code, output = run("transactions", "--output", str(file), "--date", day)
    assert code == 0, output
    lines = file.read_text().splitlines()
    assert lines[0] == "merchant,kind,order_no,refund_no,amount,fee,entry_id,at"
    assert [line.split(",")[1:5] for line in lines[1:]] == [
        ["payment", "T-1", "", "100.00"],
        ["payment", "T-2", "", "33.33"],
        ["refund", "T-1", "r1", "10.00"],
    ]

    code, output = run("reconcile", str(file), "--date", day)
    assert code == 0, output
    assert "agrees with the ledger" in output

    edited = tmp_path / "edited.csv"
    edited.write_text("\n".join([lines[0], lines[1].replace("100.00", "100.01"), lines[3]]))
    code, output = run("reconcile", str(edited), "--date", day, "--merchant", str(shop.merchant_id))
    assert code == 1
    assert "amount_differs" in output
    assert "missing_in_file" in output  # T-2 left out

    garbage = tmp_path / "garbage.csv"
    garbage.write_text("merchant,kind,order_no,amount\nx,payment,T-1,abc\n")
    code, output = run("reconcile", str(garbage), "--date", day)
    assert code == 2
    assert "cannot be read" in output


def test_bench_pay_is_a_command() -> None:
    result = CliRunner().invoke(cli, ["bench", "pay", "--help"])
    assert result.exit_code == 0
    assert "--customers" in result.output
