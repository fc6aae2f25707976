"""The rules as rows: versioned by name, switched on by one analyst, approved by
another (four eyes), disabled by anyone of them. Each change is audited by the
caller's transaction (``Platform.audited``).

A new version of a rule is added pending; when it is approved it becomes the one
active version of its name and the one before is superseded. Shadow rules are
active too, in mode ``shadow``: decisions record them, nothing enforces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import roles
from rongbank.errors import Conflict, Forbidden, NotFound
from rongbank.risk.engine.rules import Rule, RuleSpec


class RuleNotFound(NotFound):
    code = "risk_rule_not_found"
    message = "There is no such rule."


class RuleNotPending(Conflict):
    code = "risk_rule_not_pending"
    message = "Only a rule waiting for approval can be approved."


class SameAnalyst(Forbidden):
    code = "risk_rule_four_eyes"
    message = "A rule is approved by another analyst than the one who switched it on."


class NotAnAnalyst(Forbidden):
    code = "risk_rule_not_analyst"
    message = "Only an active risk analyst may change the fraud rules."


@dataclass(frozen=True, slots=True)
class StoredRule:
    id: int
    name: str
    version: int
    condition: str
    action: str
    reason: str
    score: int
    description: str
    mode: str
    status: str
    origin: str
    switched_on_by: int | None
    approved_by: int | None
    created_at: datetime


_COLUMNS = (
    "id, name, version, condition, action, reason, score, description, mode, status, "
    "origin, switched_on_by, approved_by, created_at"
)


def _analyst(session: Session, staff_id: int) -> None:
    ok = session.execute(
        text("SELECT EXISTS (SELECT 1 FROM staff WHERE id = :id AND role = :r AND active)"),
        {"id": staff_id, "r": roles.RISK_ANALYST},
    ).scalar_one()
    if not ok:
        raise NotAnAnalyst()


def as_rule(rule: StoredRule) -> Rule:
    return Rule(
        rule.id,
        rule.name,
        rule.version,
        rule.condition,
        rule.action,
        rule.reason,
        rule.score,
        rule.mode,
    )


def active(session: Session) -> list[Rule]:
    """The rules in force, live and shadow, in a fixed order."""
    rows = session.execute(
        text(
            "SELECT id, name, version, condition, action, reason, score, mode FROM risk_rule "
            "WHERE status = 'active' ORDER BY name"
        )
    ).all()
    return [Rule(*row) for row in rows]


def listed(session: Session, *, every: bool = False) -> list[StoredRule]:
    where = "" if every else "WHERE status IN ('pending', 'active')"
    rows = session.execute(
        text(f"SELECT {_COLUMNS} FROM risk_rule {where} ORDER BY name, version")  # noqa: S608
    ).all()
    return [StoredRule(*row) for row in rows]


def get(session: Session, rule_id: int, *, lock: bool = False) -> StoredRule:
    row = session.execute(
        text(f"SELECT {_COLUMNS} FROM risk_rule WHERE id = :id{' FOR UPDATE' if lock else ''}"),  # noqa: S608
        {"id": rule_id},
    ).first()
    if row is None:
        raise RuleNotFound(rule=rule_id)
    return StoredRule(*row)


def add(
    session: Session, spec: RuleSpec, *, by: int, now: datetime, mode: str = "live"
) -> StoredRule:
    """A new version of ``spec.name``, switched on by ``by`` in ``mode`` and waiting
    for another analyst's approval."""
    _analyst(session, by)
    row = session.execute(
        text(
            "INSERT INTO risk_rule (name, version, condition, action, reason, score, "
            "description, mode, status, created_by, created_at, switched_on_by) "
            "SELECT :name, coalesce(max(version), 0) + 1, :condition, :action, :reason, "
            ":score, :description, :mode, 'pending', :by, :now, :by "
            "FROM risk_rule WHERE name = :name RETURNING id"
        ),
        {
            "name": spec.name,
            "condition": spec.condition,
            "action": spec.action,
            "reason": spec.reason,
            "score": spec.score,
            "description": spec.description,
            "mode": mode,
            "by": by,
            "now": now,
        },
    ).scalar_one()
    return get(session, int(row))


def switch_on(session: Session, rule_id: int, *, mode: str, by: int) -> StoredRule:
    """Ask for ``rule_id`` to run in ``mode`` (``live``, or ``shadow`` to watch it
    first): pending, out of force, until another analyst approves."""
    _analyst(session, by)
    rule = get(session, rule_id, lock=True)
    if rule.status == "superseded":
        raise RuleNotPending(rule=rule_id, status=rule.status)
    # Out of force until approved: a rule never runs in a mode one analyst chose alone.
    session.execute(
        text(
            "UPDATE risk_rule SET mode = :mode, switched_on_by = :by, approved_by = NULL, "
            "approved_at = NULL, status = 'pending' WHERE id = :id"
        ),
        {"mode": mode, "by": by, "id": rule_id},
    )
    return get(session, rule_id)


def approve(session: Session, rule_id: int, *, by: int, now: datetime) -> StoredRule:
    """Put a pending rule in force, by an analyst other than the one who switched
    it on; the name's version in force before is superseded."""
    _analyst(session, by)
    rule = get(session, rule_id, lock=True)
    if rule.status != "pending":
        raise RuleNotPending(rule=rule_id, status=rule.status)
    if rule.switched_on_by == by:
        raise SameAnalyst(rule=rule_id)
    session.execute(
        text(
            "UPDATE risk_rule SET status = 'superseded' "
            "WHERE name = :name AND status = 'active' AND id <> :id"
        ),
        {"name": rule.name, "id": rule_id},
    )
    session.execute(
        text(
            "UPDATE risk_rule SET status = 'active', approved_by = :by, approved_at = :now "
            "WHERE id = :id"
        ),
        {"by": by, "now": now, "id": rule_id},
    )
    return get(session, rule_id)


def disable(session: Session, rule_id: int, *, by: int, now: datetime) -> StoredRule:
    """Take a rule out of force at once (one analyst: stopping is always safe)."""
    _analyst(session, by)
    get(session, rule_id, lock=True)
    session.execute(
        text(
            "UPDATE risk_rule SET status = 'disabled', disabled_by = :by, disabled_at = :now "
            "WHERE id = :id"
        ),
        {"by": by, "now": now, "id": rule_id},
    )
    return get(session, rule_id)
