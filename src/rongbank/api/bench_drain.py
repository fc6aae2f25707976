"""Waiting for the outbox's readers to catch up between two benchmark windows.

The API's background jobs read the outbox (``rongbank.outbox``): the push job tells
the customer of each payment, risk screens registrations, files alerts... A window
of load leaves them a backlog that they work through in the same API processes
while the next window runs, and that window's rate and CPU per payment would carry
it. So before each window the benchmark waits until every reader's queue is empty
(``outbox_pending``), up to a bound, and reports how long it waited and what was
left if it gave up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

BOUND_S = 120.0
"""The longest wait before a window: a reader that is stuck must not hang the run."""
POLL_S = 0.1

_QUEUED = text("SELECT reader, count(*) FROM outbox_pending GROUP BY reader ORDER BY reader")


@dataclass(frozen=True, kw_only=True)
class Drained:
    """The wait for the readers before one window."""

    waited_s: float
    left: dict[str, int] = field(default_factory=dict)
    """Events still queued when the wait ended, by reader (none: every reader caught up)."""

    @property
    def done(self) -> bool:
        return not self.left

    def render(self) -> str:
        if self.done:
            return f"{self.waited_s:.1f} s"
        queued = ", ".join(f"{reader} {count:,}" for reader, count in self.left.items())
        return f"{self.waited_s:.1f} s, NOT caught up ({queued} events left)"


def drain(
    transaction: Callable[[], AbstractContextManager[Session]],
    *,
    bound_s: float = BOUND_S,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Drained:
    """Wait until no reader of the outbox has an event queued, or ``bound_s`` passed."""
    start = clock()
    while True:
        with transaction() as session:
            left = {str(reader): int(n) for reader, n in session.execute(_QUEUED)}
        waited = clock() - start
        if not left or waited >= bound_s:
            return Drained(waited_s=waited, left=left)
        sleep(poll_s)
