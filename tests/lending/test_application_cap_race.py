"""The 200,000-yuan cap under concurrent applications, on real connections: each
application of a customer is decided under the customer's lock and counts what the
bank has already offered, so however many arrive at once the offers stay within it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.lending.applications import Ask
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.identity import resident_id
from tests.support.lending import STRONG_FORM, FakeScorecard, decide_with

pytestmark = pytest.mark.slow

THREADS = 8


@pytest.fixture
def platform(fresh_db: str, clock: FrozenClock) -> Iterator[Platform]:
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    decide_with(platform, FakeScorecard(points=700))  # grade A: 200,000 yuan on its own
    try:
        yield platform
    finally:
        platform.close()


def test_concurrent_applications_never_offer_past_the_cap(platform: Platform) -> None:
    with platform.transaction() as session:
        customer, _ = platform.accounts.register_person(
            session, name="王五", mobile="13900000001", resident_id=resident_id(1)
        )
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def apply(n: int) -> None:
        barrier.wait()
        try:
            with platform.transaction() as session:
                application, _ = platform.credit.applications.apply(
                    session,
                    customer_id=customer.id,
                    ask=Ask("personal_credit", 60_000_00, 12, "equal_instalment"),
                    form=STRONG_FORM,
                    client_id=f"race-{n}",
                )
                outcomes.append(application.status)
        except DomainError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=apply, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["declined"] * 5 + ["offered"] * 3  # 3 x 60,000 <= 200,000
    with platform.transaction() as session:
        offered = sum(o.amount for o in platform.credit.offers.open_offers(session, customer.id))
    assert offered == 180_000_00
