"""The bank's staff: who they are, their role, and deactivation by an administrator.

A member of staff who leaves (or whose password may be known to someone else) is
deactivated: their login is disabled and every session of theirs ends at once
(``AuthService.disable``), their role answers nothing (``staff_role``), and no new
customer is assigned to them. Reactivation lets them log in again with the password
they had. An administrator cannot deactivate themselves nor the last active
administrator: the bank would be left with no one to manage its staff.

:class:`StaffMembers` is mixed into :class:`~rongbank.accounts.service.AccountsService`
(as ``Merchants`` is into ``PaymentsService``): callers keep one service.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.errors import LastAdministrator, OwnLoginNotDeactivatable, StaffNotFound
from rongbank.auth.service import AuthService, PrincipalKind
from rongbank.clock import Clock

ADMINISTRATOR = "administrator"


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    username: str
    name: str
    role: str
    active: bool
    """False once deactivated: no login, no session, no role, no new customers."""
    created_at: datetime


_MEMBER = ", ".join(f.name for f in fields(StaffMember))


class StaffMembers:
    """Staff use cases, mixed into ``AccountsService``; every method takes the
    caller's session and never commits."""

    auth: AuthService
    clock: Clock

    def create_staff(self, session: Session, *, username: str, name: str, role: str) -> int:
        row = session.execute(
            text(
                "INSERT INTO staff (username, name, role, created_at) "
                "VALUES (:u, :n, :r, :at) RETURNING id"
            ),
            {"u": username.strip().lower(), "n": name, "r": role, "at": self.clock.now()},
        ).one()
        return int(row[0])

    def staff_role(self, session: Session, staff_id: int) -> str | None:
        """The role of an active staff member; None if inactive or unknown."""
        row = session.execute(
            text("SELECT role FROM staff WHERE id = :id AND active"), {"id": staff_id}
        ).first()
        return None if row is None else str(row[0])

    def staff_members(self, session: Session) -> list[StaffMember]:
        rows = session.execute(text(f"SELECT {_MEMBER} FROM staff ORDER BY id")).all()  # noqa: S608
        return [StaffMember(*row) for row in rows]

    def staff_member(self, session: Session, staff_id: int) -> StaffMember:
        row = session.execute(
            text(f"SELECT {_MEMBER} FROM staff WHERE id = :id"),  # noqa: S608
            {"id": staff_id},
        ).first()
        if row is None:
            raise StaffNotFound(staff_id=staff_id)
        return StaffMember(*row)

    def staff_member_named(self, session: Session, username: str) -> StaffMember:
        """The member of staff with this login name (as ``create_staff`` stores it)."""
        row = session.execute(
            text("SELECT id FROM staff WHERE username = :u"),
            {"u": username.strip().lower()},
        ).first()
        if row is None:
            raise StaffNotFound(username=username)
        return self.staff_member(session, int(row[0]))

    def deactivate_staff(
        self, session: Session, *, staff_id: int, by: int | None = None
    ) -> StaffMember:
        """Deactivate a member of staff: their login disabled and their sessions ended
        in this transaction. ``by``: the administrator doing it (None: the operator at
        the command line), who may not be the one deactivated. A repeat answers the
        deactivated member.

        Raises :class:`StaffNotFound`, :class:`OwnLoginNotDeactivatable` or
        :class:`LastAdministrator`."""
        if staff_id == by:
            raise OwnLoginNotDeactivatable()
        # Every active administrator is locked before counting them, in id order: two
        # administrators deactivating each other at once are then taken one after the
        # other, and the second finds the first's target gone from the count.
        administrators = (
            session.execute(
                text("SELECT id FROM staff WHERE role = :admin AND active ORDER BY id FOR UPDATE"),
                {"admin": ADMINISTRATOR},
            )
            .scalars()
            .all()
        )
        if list(administrators) == [staff_id]:
            raise LastAdministrator()
        row = session.execute(
            text(
                f"UPDATE staff SET active = false WHERE id = :id RETURNING {_MEMBER}"  # noqa: S608
            ),
            {"id": staff_id},
        ).first()
        if row is None:
            raise StaffNotFound(staff_id=staff_id)
        self.auth.disable(session, kind=PrincipalKind.STAFF, principal_id=staff_id)
        return StaffMember(*row)

    def reactivate_staff(self, session: Session, *, staff_id: int) -> StaffMember:
        """Let a deactivated member of staff log in again, with the role and password
        they had. A repeat answers the active member."""
        row = session.execute(
            text(
                f"UPDATE staff SET active = true WHERE id = :id RETURNING {_MEMBER}"  # noqa: S608
            ),
            {"id": staff_id},
        ).first()
        if row is None:
            raise StaffNotFound(staff_id=staff_id)
        self.auth.enable(session, kind=PrincipalKind.STAFF, principal_id=staff_id)
        return StaffMember(*row)
