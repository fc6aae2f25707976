"""Grid card challenges on real connections: two opened at once on one card never
share a position, and a card whose positions run out is refused, not asked again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from rongbank.auth import gridcard
from rongbank.auth.tools import GridCardUsedUp, PaymentRequest, Question, Tool
from rongbank.clock import FrozenClock
from rongbank.errors import DomainError
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.identity import resident_id

pytestmark = pytest.mark.slow

MOBILE = "13900000601"
PAYMENT = PaymentRequest(
    "transfer", "6288880000000000018", "6288880000000000026", 500_00, "CNY", "x"
)


@pytest.fixture
def platform(fresh_db: str, clock: FrozenClock) -> Iterator[Platform]:
    platform = Platform.connect(fresh_db, Settings(), clock=clock, group_commit=False)
    try:
        yield platform
    finally:
        platform.close()


def ask(platform: Platform, tool: Tool, nonce: str) -> Question:
    with platform.transaction() as session:
        return platform.tools.question(session, tool, PAYMENT, mobile=MOBILE, nonce=nonce)


def waiting_on_a_lock(platform: Platform) -> bool:
    with platform.transaction() as session:
        return bool(
            session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def test_two_challenges_opened_at_once_never_share_a_position(platform: Platform) -> None:
    with platform.transaction() as session:
        person, _ = platform.accounts.register_person(
            session, name="韩梅梅", mobile=MOBILE, resident_id=resident_id(601)
        )
        tool, _ = platform.tools.issue_grid_card(session, person.id)
    # 25 challenges ask 75 positions: 5 are left, enough for one more challenge and
    # not for two, so two that took their positions from the same view would share.
    asked = [p for n in range(25) for p in ask(platform, tool, f"n{n}").text.split(",")]
    assert len(set(asked)) == 75

    first_session = platform.session_factory()
    first = platform.tools.question(first_session, tool, PAYMENT, mobile=MOBILE, nonce="a")
    second: list[Question | DomainError] = []

    def open_second() -> None:
        try:
            second.append(ask(platform, tool, "b"))
        except DomainError as refused:
            second.append(refused)

    # The second starts while the first is open and uncommitted, and the first
    # commits only once the second has done all it can without waiting for it.
    thread = threading.Thread(target=open_second)
    thread.start()
    while thread.is_alive() and not waiting_on_a_lock(platform):
        time.sleep(0.01)
    first_session.commit()
    first_session.close()
    thread.join(60)

    assert not set(first.text.split(",")) & set(asked)
    assert first.left == 0  # the customer is told this was the card's last challenge
    assert len(second) == 1
    assert isinstance(second[0], GridCardUsedUp), second[0]
    with platform.transaction() as session:
        status = platform.tools.tool(session, tool.id).status
        asked_now = session.execute(
            text("SELECT count(*) FROM grid_card_code WHERE tool_id = :t AND asked_at IS NOT NULL"),
            {"t": tool.id},
        ).scalar_one()
    assert status == "expired"
    assert asked_now == gridcard.CHALLENGES_PER_CARD * gridcard.POSITIONS_PER_CHALLENGE
