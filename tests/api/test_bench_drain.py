"""Before a benchmark window, the outbox's readers are waited for: until no reader has
an event queued, or the bound has passed (then what is left is said)."""

from __future__ import annotations

from datetime import UTC, datetime

from rongbank import outbox
from rongbank.api.bench_drain import drain
from rongbank.chat.push import OUTBOX_READER
from rongbank.platform import Platform
from rongbank.risk.engine import holds
from rongbank.risk.events import RiskCaseDecided

AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


class Time:
    """A clock that moves only when the drain sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def decided(n: int) -> RiskCaseDecided:
    return RiskCaseDecided(
        decision_ref=f"drain:{n}",
        customer_id=1,
        outcome="no_action",
        source="engine",
        source_ref=str(n),
        occurred_at=AT,
    )


def clear_queues(platform: Platform) -> None:
    """The readers' part, as their jobs do it."""
    for reader in (OUTBOX_READER, holds.READER):
        with platform.transaction() as session:
            outbox.acknowledge(session, reader, outbox.take(session, reader, limit=10_000))


def test_nothing_queued_is_no_wait(platform: Platform) -> None:
    clear_queues(platform)
    time = Time()
    done = drain(platform.transaction, clock=time.clock, sleep=time.sleep)
    assert (done.done, done.waited_s, done.left, time.sleeps) == (True, 0.0, {}, 0)
    assert done.render() == "0.0 s"


def test_the_wait_lasts_until_the_readers_have_caught_up(platform: Platform) -> None:
    clear_queues(platform)
    with platform.transaction() as session:
        outbox.record(session, decided(1))
    time = Time()

    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        if time.sleeps == 3:  # the reader's job runs
            clear_queues(platform)

    done = drain(platform.transaction, poll_s=0.5, clock=time.clock, sleep=sleep)
    assert done.done
    assert done.waited_s == 1.5
    assert time.sleeps == 3


def test_a_reader_that_does_not_catch_up_is_waited_for_until_the_bound(
    platform: Platform,
) -> None:
    clear_queues(platform)
    with platform.transaction() as session:
        for n in (1, 2):
            outbox.record(session, decided(n))
    time = Time()
    done = drain(platform.transaction, bound_s=3.0, poll_s=1.0, clock=time.clock, sleep=time.sleep)
    assert not done.done
    assert done.left == {holds.READER.name: 2}
    assert done.waited_s == 3.0
    assert done.render() == "3.0 s, NOT caught up (risk.engine 2 events left)"
