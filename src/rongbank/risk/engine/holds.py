"""Review holds: released (posted) or voided exactly once.

A held payment is a pending ledger transfer and a ``risk_hold`` row. What decides it:
a case decision or the customer's answer (``RiskCaseDecided``, read from the outbox
by the ``risk.engine`` reader), or its timeout, by policy (``risk_hold_timeout_*``
settings). Whatever comes first wins: the row moves out of ``held`` in the statement
that claims it, so a decision delivered twice, or one racing the timeout, acts once;
and the ledger's client ids (``risk-hold:post:<entry>``) would answer a second post
with the first anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.db import run, statement
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.service import LedgerService, PostPending, VoidPending
from rongbank.risk.events import RiskCaseDecided

READER = outbox.Reader("risk.engine", (RiskCaseDecided,))

Resolved = Callable[[Session, int, bool], None]
"""Told, in the transaction that posts or voids it, of each held entry and whether it
was released (the accounts announce the transfer then, a chat card closes)."""

_CLAIM = statement(
    "UPDATE risk_hold SET state = :state, resolved_at = :now, resolved_by = :by "
    "WHERE hold_ref = :ref AND state = 'held' RETURNING entry_id, keep_pending"
)
_DUE = statement(
    "SELECT hold_ref FROM risk_hold WHERE state = 'held' AND expires_at <= :now "
    "ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED"
)


@dataclass(frozen=True, slots=True)
class HoldsResolved:
    released: int = 0
    voided: int = 0

    def __add__(self, other: HoldsResolved) -> HoldsResolved:
        return HoldsResolved(self.released + other.released, self.voided + other.voided)


def resolve(
    session: Session,
    ledger: LedgerService,
    hold_ref: str,
    *,
    release: bool,
    by: str,
    now: datetime,
    resolved: Resolved | None = None,
) -> bool:
    """Post (``release``) or void the hold, if it is still held; whether it was. A
    hold that keeps its transfer pending (an e-Pay authorisation) is released by
    leaving it to its owner."""
    state = "released" if release else "voided"
    row = run(session, _CLAIM, {"state": state, "now": now, "by": by, "ref": hold_ref}).fetchone()
    if row is None:
        return False
    entry_id, keep_pending = int(row[0]), bool(row[1])
    command: PostPending | VoidPending | None = None
    if release and not keep_pending:
        command = PostPending(
            client_id=Namespace.RISK_HOLD.client_id("post", entry_id),
            pending=entry_id,
            description="released after review",
            metadata={"by": by},
        )
    elif not release:
        command = VoidPending(
            client_id=Namespace.RISK_HOLD.client_id("void", entry_id),
            pending=entry_id,
            description="voided after review",
            metadata={"by": by},
        )
    if command is not None:
        ledger.transfer(session, command).entry_id_or_raise()
    if resolved is not None:
        resolved(session, entry_id, release)
    return True


def decided(
    session: Session,
    ledger: LedgerService,
    now: datetime,
    *,
    limit: int = 200,
    resolved: Resolved | None = None,
) -> HoldsResolved:
    """Act on the case decisions in the reader's queue: ``genuine`` releases,
    ``fraud`` voids; other outcomes leave the hold to its timeout."""
    taken = outbox.take(session, READER, limit=limit)
    done = HoldsResolved()
    for item in taken:
        event = item.event
        if not isinstance(event, RiskCaseDecided) or event.hold_ref is None:
            continue
        if event.outcome not in ("genuine", "fraud"):
            continue
        release = event.outcome == "genuine"
        by = f"decision:{event.decision_ref}"
        if resolve(
            session, ledger, event.hold_ref, release=release, by=by, now=now, resolved=resolved
        ):
            done += HoldsResolved(1, 0) if release else HoldsResolved(0, 1)
    outbox.acknowledge(session, READER, taken)
    return done


def timed_out(
    session: Session,
    ledger: LedgerService,
    now: datetime,
    *,
    release: bool,
    limit: int = 200,
    resolved: Resolved | None = None,
) -> HoldsResolved:
    """Release or void (by policy) the holds nobody decided in time."""
    refs = [str(r[0]) for r in run(session, _DUE, {"now": now, "limit": limit}).fetchall()]
    for ref in refs:
        resolve(session, ledger, ref, release=release, by="timeout", now=now, resolved=resolved)
    return HoldsResolved(len(refs), 0) if release else HoldsResolved(0, len(refs))
