"""Risk cases: the analysts' queue, assignment, notes and decisions.

**One case per customer.** An alert joins its customer's case while that case is
``open`` or ``assigned``; otherwise it opens a new one. An analyst deciding about a
customer needs every alert about them at once (a new device, then three new payees,
then an AML pattern are one story, not three), and a decision that blocks and
freezes acts on the customer, not on one payment. A case awaiting its second analyst
takes no new alerts: the second analyst confirms what the first saw.

**Assignment.** An analyst takes an open case; while it is assigned, only they can
note a decision on it; a supervisor reassigns it (to another risk analyst, or back
to the queue). Notes anyone on the risk desk may write.

**Decisions** (``fraud``, ``genuine``, ``suspicious``, ``no_action``). Four eyes where
a decision acts against the customer or releases much money: ``fraud`` (blocks the
customer's tools and freezes their accounts), ``suspicious`` (a report to the
regulator) and any release of held money of :data:`FOUR_EYES_RELEASE` or more wait
for a second analyst's confirmation (``awaiting_second``); the proposer cannot
confirm their own. The decision takes effect in the transaction that makes it final:
each of the case's alerts still open is marked and announced with
:class:`~rongbank.risk.events.RiskCaseDecided` (whoever holds the money releases or
voids it), and confirmed fraud blocks the customer's active authentication tools
and freezes their open e-accounts (:meth:`Cases.freeze`). The event names as
``decided_by`` the analyst whose word made it final (the second, under four eyes;
both are in the notes and the audit trail). What has been paid out
already is not reversed here: a posted transfer to another customer or bank is
recovered by operations (a reversal needs the other side's consent).

Every change is audited at the boundary (``Platform.audited``); what a decision froze
is audited here, a row per account and tool, so the trail says exactly what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.service import AccountsService
from rongbank.audit.service import AuditLog
from rongbank.auth.tools import ToolService
from rongbank.clock import Clock
from rongbank.risk.cases.errors import (
    AssigneeInvalid,
    CaseAssignedElsewhere,
    CaseAwaitingSecond,
    CaseClosed,
    CaseNotAwaitingSecond,
    CaseNotFound,
    CaseNotTaken,
    OutcomeInvalid,
    SecondAnalystRequired,
)
from rongbank.risk.events import RiskCaseDecided

OUTCOMES = ("fraud", "genuine", "suspicious", "no_action")
FOUR_EYES_OUTCOMES = frozenset({"fraud", "suspicious"})
"""Decisions that act against the customer (blocked, frozen) or report them."""
FOUR_EYES_RELEASE = 5_000_000
"""Fen (¥50,000): releasing this much held money or more needs a second analyst."""
ANALYST = "risk_analyst"

_CASE_COLUMNS = (
    "c.id, c.customer_id, c.status, c.assigned_to, c.customer_denied, c.proposed_outcome, "
    "c.proposed_by, c.outcome, c.decided_by, c.frozen, c.opened_at, c.closed_at"
)


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    customer_id: int
    status: str
    assigned_to: int | None
    customer_denied: bool
    """The customer answered "was this you?" with no: first in the queue."""
    proposed_outcome: str | None
    proposed_by: int | None
    outcome: str | None
    decided_by: int | None
    frozen: dict[str, Any]
    opened_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    source: str
    source_ref: str
    customer_id: int
    action: str
    score: float | None
    reasons: list[str]
    amount: int | None
    hold_ref: str | None
    features: dict[str, Any]
    case_id: int
    status: str
    outcome: str | None
    raised_at: datetime


ALERT_COLUMNS = (
    "a.id, a.source, a.source_ref, a.customer_id, a.action, a.score, a.reasons, a.amount, "
    "a.hold_ref, a.features, a.case_id, a.status, a.outcome, a.raised_at"
)


def alert_of(row: Any) -> Alert:
    values = list(row)[:14]
    values[6] = list(values[6])
    return Alert(*values)


@dataclass(frozen=True, slots=True)
class QueueItem:
    case: Case
    customer_name: str
    alerts: int
    open_alerts: int
    top_score: float | None
    held: int
    """Fen held by the case's open alerts."""
    last_alert_at: datetime | None


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    staff_id: int | None
    staff_name: str | None
    body: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseDetail:
    case: Case
    customer_name: str
    alerts: list[Alert]
    notes: list[Note]


@dataclass(frozen=True, slots=True)
class Decided:
    case: Case
    final: bool
    """False: it waits for a second analyst."""
    frozen: dict[str, list[str]] = field(default_factory=dict)


class Cases:
    def __init__(
        self, clock: Clock, *, accounts: AccountsService, tools: ToolService, audit: AuditLog
    ) -> None:
        self.clock = clock
        self.accounts = accounts
        self.tools = tools
        self.audit = audit

    # -- reading ---------------------------------------------------------------------

    def case(self, session: Session, case_id: int, *, lock: bool = False) -> Case:
        row = session.execute(
            text(
                f"SELECT {_CASE_COLUMNS} FROM risk_case c WHERE c.id = :id"  # noqa: S608
                + (" FOR UPDATE" if lock else "")
            ),
            {"id": case_id},
        ).first()
        if row is None:
            raise CaseNotFound(case_id=case_id)
        return Case(*row)

    def queue(self, session: Session, *, closed: bool = False, limit: int = 100) -> list[QueueItem]:
        """Cases not yet closed: those the customer denied first, then by the highest
        score, then the oldest; or (``closed``) the latest closed."""
        where, order = (
            ("c.status = 'closed'", "c.closed_at DESC")
            if closed
            else ("c.status <> 'closed'", "c.customer_denied DESC, top_score DESC NULLS LAST, c.id")
        )
        rows = session.execute(
            text(
                f"SELECT {_CASE_COLUMNS}, cu.name, count(a.id), "  # noqa: S608
                "count(a.id) FILTER (WHERE a.status = 'open'), max(a.score) AS top_score, "
                "coalesce(sum(a.amount) FILTER (WHERE a.status = 'open' "
                "AND a.hold_ref IS NOT NULL), 0), max(a.raised_at) "
                "FROM risk_case c JOIN customer cu ON cu.id = c.customer_id "
                "LEFT JOIN risk_alert a ON a.case_id = c.id "
                f"WHERE {where} GROUP BY c.id, cu.name ORDER BY {order} LIMIT :limit"
            ),
            {"limit": limit},
        ).all()
        return [
            QueueItem(Case(*r[:12]), str(r[12]), int(r[13]), int(r[14]), r[15], int(r[16]), r[17])
            for r in rows
        ]

    @staticmethod
    def open_count(session: Session) -> int:
        """Cases not yet closed (the console's day of work)."""
        count = session.execute(text("SELECT count(*) FROM risk_case WHERE status <> 'closed'"))
        return int(count.scalar_one())

    def alerts_of(self, session: Session, case_id: int) -> list[Alert]:
        rows = session.execute(
            text(
                f"SELECT {ALERT_COLUMNS} FROM risk_alert a WHERE a.case_id = :c ORDER BY a.id"  # noqa: S608
            ),
            {"c": case_id},
        ).all()
        return [alert_of(r) for r in rows]

    def recent_alerts(self, session: Session, *, limit: int = 50) -> list[tuple[Alert, str]]:
        """The latest alerts, newest first, with the customer's name."""
        rows = session.execute(
            text(
                f"SELECT {ALERT_COLUMNS}, cu.name FROM risk_alert a "  # noqa: S608
                "JOIN customer cu ON cu.id = a.customer_id ORDER BY a.id DESC LIMIT :l"
            ),
            {"l": limit},
        ).all()
        return [(alert_of(r), str(r[14])) for r in rows]

    def detail(self, session: Session, case_id: int) -> CaseDetail:
        case = self.case(session, case_id)
        name = session.execute(
            text("SELECT name FROM customer WHERE id = :id"), {"id": case.customer_id}
        ).scalar_one()
        notes = session.execute(
            text(
                "SELECT n.id, n.staff_id, s.name, n.body, n.at FROM risk_case_note n "
                "LEFT JOIN staff s ON s.id = n.staff_id WHERE n.case_id = :c ORDER BY n.id"
            ),
            {"c": case_id},
        ).all()
        return CaseDetail(
            case, str(name), self.alerts_of(session, case_id), [Note(*n) for n in notes]
        )

    # -- working a case --------------------------------------------------------------

    def take(self, session: Session, *, case_id: int, staff_id: int) -> Case:
        """Assign an open case to oneself; taking one's own again changes nothing."""
        case = self._working(session, case_id)
        if case.assigned_to == staff_id:
            return case
        if case.assigned_to is not None:
            raise CaseAssignedElsewhere(case_id=case_id)
        return self._assign(session, case, staff_id)

    def reassign(self, session: Session, *, case_id: int, to_staff_id: int | None) -> Case:
        """A supervisor gives the case to another risk analyst, or (None) back to the
        queue."""
        case = self._working(session, case_id)
        if to_staff_id is not None:
            role = session.execute(
                text("SELECT role FROM staff WHERE id = :id AND active"), {"id": to_staff_id}
            ).scalar_one_or_none()
            if role != ANALYST:
                raise AssigneeInvalid(staff_id=to_staff_id)
        return self._assign(session, case, to_staff_id)

    def _assign(self, session: Session, case: Case, staff_id: int | None) -> Case:
        return self._update(
            session,
            case.id,
            "status = :s, assigned_to = :a",
            s="open" if staff_id is None else "assigned",
            a=staff_id,
        )

    def note(self, session: Session, *, case_id: int, staff_id: int | None, body: str) -> Note:
        self.case(session, case_id)
        row = session.execute(
            text(
                "INSERT INTO risk_case_note (case_id, staff_id, body, at) "
                "VALUES (:c, :s, :b, :at) RETURNING id, staff_id, "
                "(SELECT name FROM staff WHERE id = :s), body, at"
            ),
            {"c": case_id, "s": staff_id, "b": body.strip(), "at": self.clock.now()},
        ).one()
        return Note(*row)

    def decide(
        self, session: Session, *, case_id: int, staff_id: int, outcome: str, note: str
    ) -> Decided:
        """The assigned analyst's decision: final at once, or (four eyes) proposed
        for a second analyst."""
        if outcome not in OUTCOMES:
            raise OutcomeInvalid(outcome=outcome)
        case = self._working(session, case_id)
        if case.assigned_to is None:
            raise CaseNotTaken(case_id=case_id)
        if case.assigned_to != staff_id:
            raise CaseAssignedElsewhere(case_id=case_id)
        self.note(session, case_id=case_id, staff_id=staff_id, body=note)
        if outcome in FOUR_EYES_OUTCOMES or self._held(session, case_id) >= FOUR_EYES_RELEASE:
            proposed = self._update(
                session,
                case_id,
                "status = 'awaiting_second', proposed_outcome = :o, proposed_by = :s",
                o=outcome,
                s=staff_id,
            )
            return Decided(proposed, final=False)
        return self._close(session, case, outcome, staff_id)

    def confirm(self, session: Session, *, case_id: int, staff_id: int, note: str) -> Decided:
        """A second analyst confirms the proposed decision: it takes effect."""
        case = self.case(session, case_id, lock=True)
        if case.status != "awaiting_second" or case.proposed_outcome is None:
            raise (
                CaseClosed(case_id=case_id)
                if case.status == "closed"
                else (CaseNotAwaitingSecond(case_id=case_id))
            )
        if case.proposed_by == staff_id:
            raise SecondAnalystRequired(case_id=case_id)
        self.note(session, case_id=case_id, staff_id=staff_id, body=note)
        return self._close(session, case, case.proposed_outcome, staff_id)

    def send_back(self, session: Session, *, case_id: int, staff_id: int, note: str) -> Case:
        """The second analyst disagrees: the case goes back to whoever proposed it."""
        case = self.case(session, case_id, lock=True)
        if case.status != "awaiting_second":
            raise CaseNotAwaitingSecond(case_id=case_id)
        if case.proposed_by == staff_id:
            raise SecondAnalystRequired(case_id=case_id)
        self.note(session, case_id=case_id, staff_id=staff_id, body=note)
        return self._update(
            session,
            case_id,
            "status = 'assigned', assigned_to = proposed_by, proposed_outcome = NULL, "
            "proposed_by = NULL",
        )

    # -- the effects -----------------------------------------------------------------

    def _close(self, session: Session, case: Case, outcome: str, staff_id: int | None) -> Decided:
        now = self.clock.now()
        for alert in self.alerts_of(session, case.id):
            if alert.status == "open":
                settle_alert(
                    session,
                    alert,
                    outcome=outcome,
                    decision_ref=f"case:{case.id}:{alert.id}",
                    decided_by=staff_id,
                    at=now,
                )
        frozen: dict[str, list[str]] = {}
        if outcome == "fraud":
            frozen = self.freeze(
                session, case.customer_id, reason=f"风险案件 #{case.id} 确认欺诈", staff_id=staff_id
            )
        closed = self._update(
            session,
            case.id,
            "status = 'closed', outcome = :o, decided_by = :s, closed_at = :at, "
            "proposed_outcome = NULL, frozen = CAST(:f AS jsonb)",
            o=outcome,
            s=staff_id,
            at=now,
            f=json.dumps(frozen),
        )
        return Decided(closed, final=True, frozen=frozen)

    def freeze(
        self, session: Session, customer_id: int, *, reason: str, staff_id: int | None
    ) -> dict[str, list[str]]:
        """What the bank can stop at once for a customer whose money is in others'
        hands: every active authentication tool blocked (no challenge can be
        answered, so no payment that needs one goes out) and every active e-account
        frozen (in the ledger too: no path debits it). Each is audited."""
        tools = self.tools.block_all(session, customer_id)
        numbers = [
            a.number
            for a, _ in self.accounts.accounts_of(session, customer_id)
            if a.status in ("active", "dormant")
        ]
        for number in numbers:
            self.accounts.set_status(session, number=number, status="frozen", reason=reason)
        for action, targets in (
            ("risk.freeze_account", numbers),
            ("risk.block_tool", [f"{t.kind.value} {t.serial}" for t in tools]),
        ):
            for target in targets:
                self.audit.record(
                    session,
                    actor_kind="staff" if staff_id is not None else "customer",
                    actor_id=staff_id if staff_id is not None else customer_id,
                    action=action,
                    target=target,
                    details={"reason": reason},
                )
        return {"accounts": numbers, "tools": [t.kind.value for t in tools]}

    # -- helpers ---------------------------------------------------------------------

    def _working(self, session: Session, case_id: int) -> Case:
        """The case, locked, that analysts may still work (take, assign, decide)."""
        case = self.case(session, case_id, lock=True)
        if case.status == "closed":
            raise CaseClosed(case_id=case_id)
        if case.status == "awaiting_second":
            raise CaseAwaitingSecond(case_id=case_id)
        return case

    @staticmethod
    def _held(session: Session, case_id: int) -> int:
        return int(
            session.execute(
                text(
                    "SELECT coalesce(sum(amount), 0) FROM risk_alert WHERE case_id = :c "
                    "AND status = 'open' AND hold_ref IS NOT NULL"
                ),
                {"c": case_id},
            ).scalar_one()
        )

    @staticmethod
    def _update(session: Session, case_id: int, assignments: str, **values: object) -> Case:
        row = session.execute(
            text(
                f"UPDATE risk_case c SET {assignments} WHERE c.id = :id "  # noqa: S608
                f"RETURNING {_CASE_COLUMNS}"
            ),
            {"id": case_id, **values},
        ).one()
        return Case(*row)


def settle_alert(
    session: Session,
    alert: Alert,
    *,
    outcome: str,
    decision_ref: str,
    decided_by: int | None,
    at: datetime,
    status: str = "decided",
) -> None:
    """Mark an open alert with its outcome and tell whoever holds its money, in the
    same transaction; close any "was this you?" still waiting on it."""
    session.execute(
        text("UPDATE risk_alert SET status = :s, outcome = :o WHERE id = :id"),
        {"s": status, "o": outcome, "id": alert.id},
    )
    if status == "decided":
        session.execute(
            text(
                "UPDATE risk_question SET status = 'closed', answered_at = :at "
                "WHERE alert_id = :a AND status = 'asked'"
            ),
            {"a": alert.id, "at": at},
        )
    outbox.record(
        session,
        RiskCaseDecided(
            occurred_at=at,
            decision_ref=decision_ref,
            customer_id=alert.customer_id,
            outcome=outcome,
            source=alert.source,
            source_ref=alert.source_ref,
            hold_ref=alert.hold_ref,
            decided_by=decided_by,
        ),
    )
