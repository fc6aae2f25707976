"""Which open sockets have their login re-checked at each slice of the period."""

from __future__ import annotations

from dataclasses import dataclass

from rongbank.chat.gateway import RECHECK_SECONDS, RECHECK_SLICES, turn_of


@dataclass(eq=False)
class Socket:
    checked_at: float


def test_sockets_opened_together_are_checked_over_the_period_not_at_once() -> None:
    sockets = [Socket(checked_at=0.0) for _ in range(300)]
    now = RECHECK_SECONDS
    seen: set[int] = set()
    slices = 0
    while len(seen) < len(sockets):
        turn = turn_of(sockets, now)
        assert len(turn) == 2 * 300 // RECHECK_SLICES
        for socket in turn:
            seen.add(id(socket))
            socket.checked_at = now
        now += RECHECK_SECONDS / RECHECK_SLICES
        slices += 1
    # All checked within half a period of falling due, a slice's share at a time.
    assert slices == RECHECK_SLICES // 2
    # Then each comes round again a period after its own check: spread out.
    sizes = []
    for _ in range(RECHECK_SLICES):
        turn = turn_of(sockets, now)
        sizes.append(len(turn))
        for socket in turn:
            socket.checked_at = now
        now += RECHECK_SECONDS / RECHECK_SLICES
    assert max(sizes) <= 2 * 300 // RECHECK_SLICES
    assert sum(sizes) == 300


def test_the_longest_unchecked_go_first_and_recent_ones_wait() -> None:
    old, older, fresh = Socket(5.0), Socket(1.0), Socket(RECHECK_SECONDS)
    assert turn_of([old, older, fresh], now=RECHECK_SECONDS + 5.0) == [older, old]
    assert turn_of([fresh], now=RECHECK_SECONDS + 1.0) == []
