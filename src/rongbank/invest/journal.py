"""The e-Invest journal: every input (orders, cancellations, trades, ticks) and
every engine output, in order.

The journal is written by one writer at a time (an advisory lock held to commit), so
its order is the commit order and the engine (:mod:`rongbank.invest.engine`) folds it.
:class:`Journal` is mixed into :class:`~rongbank.invest.service.InvestService`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.db import advisory_lock

_JOURNAL_LOCK = 0
INPUTS = ("order", "cancel", "trade", "tick")


class Journal:
    """The journal's writer and reader, mixed into ``InvestService``."""

    clock: Clock

    def journal_lock(self, session: Session) -> None:
        advisory_lock(session, "invest_journal", _JOURNAL_LOCK)

    def append_journal(self, session: Session, kind: str, payload: Mapping[str, Any]) -> int:
        return int(
            session.execute(
                text(
                    "INSERT INTO invest_journal (kind, input, payload, at) "
                    "VALUES (:k, :i, CAST(:p AS jsonb), :at) RETURNING seq"
                ),
                {"k": kind, "i": kind in INPUTS, "p": json.dumps(payload), "at": self.clock.now()},
            ).scalar_one()
        )

    def journal(
        self, session: Session, *, inputs: bool, after: int = 0
    ) -> list[tuple[int, dict[str, Any]]]:
        rows = session.execute(
            text(
                "SELECT seq, payload FROM invest_journal WHERE input = :i AND seq > :s ORDER BY seq"
            ),
            {"i": inputs, "s": after},
        ).all()
        return [(int(s), p) for s, p in rows]
