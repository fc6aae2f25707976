"""Merchants cannot aim the bank's servers at its own network (SSRF): notify and
return URLs at private, loopback or link-local addresses are refused at order
creation, and a name that resolves to one by the time a notification is due is not
called."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from pydantic import SecretStr
from sqlalchemy import Connection, text

from rongbank.clock import FrozenClock
from rongbank.ledger.service import LedgerService
from rongbank.payments import rules
from rongbank.payments.errors import CallbackUrlNotAllowed
from rongbank.payments.notify import deliver_due
from rongbank.payments.urls import check_url
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.conftest import OPERATOR_TOKEN, session_factory_on
from tests.payments.helpers import V1, Shop, client, shop

__all__ = ["client", "shop"]


class FakeResolver:
    """DNS as the test says it is; names it does not know do not resolve."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def __call__(self, host: str, port: int) -> list[IPv4Address | IPv6Address]:
        if host not in self.names:
            raise OSError(f"no such name {host}")
        return [ip_address(self.names[host])]


@pytest.fixture
def platform(connection: Connection, clock: FrozenClock) -> Platform:
    """As in production: private notification addresses are not allowed."""
    settings = Settings(operator_token=SecretStr(OPERATOR_TOKEN))
    assert settings.payments_allow_private_notify is False
    built = Platform(
        settings=settings,
        session_factory=session_factory_on(connection),
        clock=clock,
        ledger=LedgerService(clock),
    )
    built.payments.resolver = FakeResolver(
        {"shop.example.com": "93.184.216.34", "intranet.example.com": "10.0.0.8"}
    )
    return built


NON_PUBLIC = [
    ("notify_url", "http://127.0.0.1:8000/api/v1/staff/merchants"),
    ("notify_url", "http://10.1.2.3/notify"),
    ("notify_url", "http://169.254.169.254/latest/meta-data/"),
    ("notify_url", "http://[::1]:5432/"),
    ("notify_url", "http://[::ffff:127.0.0.1]/"),
    ("notify_url", "http://100.64.0.1/"),
    ("notify_url", "http://localhost/notify"),
    ("notify_url", "http://db.localhost/notify"),
    ("notify_url", "http://intranet.example.com/notify"),  # resolves to 10.0.0.8
    ("return_url", "http://192.168.1.1/done"),
    ("return_url", "https://[fe80::1]/done"),
]


def test_an_order_with_a_non_public_url_is_refused_and_not_made(shop: Shop) -> None:
    for n, (field, url) in enumerate(NON_PUBLIC):
        refused = shop.order(f"U-{n}", "10.00", **{field: url})
        assert refused.status_code == 422, (url, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "callback_url_not_allowed"
        assert error["details"] == {"field": field}
        missing = shop.client.get(f"{V1}/merchant/orders/U-{n}", headers=shop.api)
        assert missing.status_code == 404


def test_a_public_url_and_a_name_not_resolvable_yet_are_accepted(shop: Shop) -> None:
    made = shop.order(
        "P-1",
        "10.00",
        notify_url="https://shop.example.com/notify",
        return_url="https://new-shop.example/orders/P-1",
    )
    assert made.status_code == 201, made.text


def test_a_name_rebound_to_a_private_address_is_not_called_at_delivery(
    shop: Shop, platform: Platform
) -> None:
    alice = shop.customer()
    token = shop.token(shop.order("P-2", "20.00", notify_url="http://shop.example.com/notify"))
    assert shop.pay(alice, token).status_code == 200
    # Between order and delivery the merchant's DNS now answers the loopback address.
    platform.payments.resolver = FakeResolver({"shop.example.com": "127.0.0.1"})
    delivered = deliver_due(platform.session_factory, platform.payments, platform.clock)
    assert (delivered.acknowledged, delivered.failed) == (0, 1)
    with platform.transaction() as session:
        attempts = session.execute(
            text("SELECT acknowledged, error FROM payment_notification_attempt")
        ).all()
    assert [tuple(a) for a in attempts] == [(False, "AddressNotAllowed")]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1::1", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, not a bind
        ("224.0.0.1", False),
        ("192.88.99.1", False),  # 6to4 relay anycast
        ("::1", False),
        ("::", False),
        ("fe80::1", False),  # link-local
        ("fd00::1", False),  # unique-local
        ("fc00::1", False),
        ("fec0::1", False),  # site-local (deprecated, still routed inside sites)
        ("fec0:0:0:1::a00:1", False),
        ("ff02::1", False),  # multicast, link scope
        ("ff0e::1", False),  # multicast, global scope
        ("100::1", False),  # discard
        ("2001:db8::1", False),  # documentation
        ("3fff::1", False),  # documentation (RFC 9637)
        ("5f00::1", False),  # SRv6 SIDs
        ("2001:4860:4860::8888", True),
        # IPv4-mapped: the IPv4 address decides.
        ("::ffff:10.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.216.34", True),
        # IPv4-translated (SIIT).
        ("::ffff:0:127.0.0.1", False),
        ("::ffff:0:93.184.216.34", True),
        # IPv4-compatible (deprecated).
        ("::127.0.0.1", False),
        ("::10.0.0.1", False),
        ("::93.184.216.34", True),
        # NAT64, well-known prefix: the gateway connects to the IPv4 address.
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b::c0a8:1", False),
        ("64:ff9b::5db8:d822", True),
        # NAT64, local-use prefix: where the IPv4 address sits cannot be known.
        ("64:ff9b:1::a00:1", False),
        ("64:ff9b:1:5db8:d8:2200::", False),
        # 6to4: the relay sends to the site's IPv4 router.
        ("2002:7f00:1::1", False),
        ("2002:a00:1::1", False),
        ("2002:a9fe:a9fe::", False),
        ("2002:5db8:d822::1", True),
        # Teredo: refused whatever it carries (127.0.0.1 as client, then 8.8.8.8).
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),
        ("2001:0:808:808::f7f7:f7f7", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert rules.is_public_address(ip_address(address)) is public


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "[64:ff9b::a9fe:a9fe]",
        "[64:ff9b:1::a00:1]",
        "[2002:a00:1::1]",
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
        "[fec0::1]",
        "[ff0e::1]",
    ],
)
def test_an_ipv6_literal_carrying_an_internal_address_is_refused(host: str) -> None:
    with pytest.raises(CallbackUrlNotAllowed):
        check_url(f"http://{host}/notify", field="notify_url", allow_private=False)


@pytest.mark.parametrize("address", ["64:ff9b::a00:8", "2002:7f00:1::1", "::ffff:0:a00:8"])
def test_a_name_rebound_to_an_ipv6_form_of_an_internal_address_is_not_called(
    shop: Shop, platform: Platform, address: str
) -> None:
    """Decided on what the name resolves to when the notification is sent."""
    alice = shop.customer()
    token = shop.token(shop.order("P-6", "20.00", notify_url="http://shop.example.com/n"))
    assert shop.pay(alice, token).status_code == 200
    platform.payments.resolver = FakeResolver({"shop.example.com": address})
    delivered = deliver_due(platform.session_factory, platform.payments, platform.clock)
    assert (delivered.acknowledged, delivered.failed) == (0, 1)
    with platform.transaction() as session:
        errors = session.execute(text("SELECT error FROM payment_notification_attempt")).all()
    assert [e for (e,) in errors] == ["AddressNotAllowed"]


def test_numeric_spellings_of_loopback_are_resolved_and_refused() -> None:
    """``http://2130706433/`` is 127.0.0.1 to the system resolver (no DNS asked)."""
    for url in ("http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/"):
        with pytest.raises(CallbackUrlNotAllowed):
            check_url(url, field="notify_url", allow_private=False)
        check_url(url, field="notify_url", allow_private=True)  # development: allowed


def test_only_http_and_https_are_urls() -> None:
    for url in ("ftp://shop.example.com/", "file:///etc/passwd", "http:///nohost"):
        with pytest.raises(CallbackUrlNotAllowed):
            check_url(url, field="return_url", allow_private=True)
