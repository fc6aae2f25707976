"""The bank's public address: what payment links and QR codes point at."""

from __future__ import annotations

import socket

from pydantic import SecretStr
from sqlalchemy import Connection

from rongbank.cli.main import serving_settings
from rongbank.clock import FrozenClock
from rongbank.ledger.service import LedgerService
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.conftest import session_factory_on


def test_unset_it_is_where_the_server_listens() -> None:
    assert Settings(port=8123).public_address == "http://127.0.0.1:8123"
    assert Settings(host="bank.internal", port=80).public_address == "http://bank.internal:80"
    assert Settings(host="::1", port=8000).public_address == "http://[::1]:8000"


def test_a_server_on_every_interface_is_named_by_its_host_name() -> None:
    assert Settings(host="0.0.0.0", port=9000).public_address == (  # noqa: S104
        f"http://{socket.gethostname()}:9000"
    )


def test_the_setting_wins_over_where_it_listens() -> None:
    settings = Settings(public_url="https://ebank.example.cn/", port=8123)
    assert settings.public_address == "https://ebank.example.cn"


def test_rongbank_up_points_links_at_its_own_host_and_port() -> None:
    """``rongbank up --host --port`` without RONGBANK_PUBLIC_URL: its own address."""
    served = serving_settings(Settings(), host="192.0.2.10", port=8080)
    assert served.public_address == "http://192.0.2.10:8080"
    served = serving_settings(Settings(port=9001), host=None, port=None)
    assert served.public_address == "http://127.0.0.1:9001"
    fixed = Settings(public_url="https://ebank.example.cn")
    assert serving_settings(fixed, host="0.0.0.0", port=8080).public_address == (  # noqa: S104
        "https://ebank.example.cn"
    )


def test_qr_codes_and_payment_links_point_at_the_public_address(
    connection: Connection, clock: FrozenClock
) -> None:
    settings = Settings(operator_token=SecretStr("t"), port=8123)
    platform = Platform(
        settings=settings,
        session_factory=session_factory_on(connection),
        clock=clock,
        ledger=LedgerService(clock),
    )
    assert platform.payments.qr_content("S1") == "http://127.0.0.1:8123/pay/S1"
