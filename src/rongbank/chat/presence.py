"""Presence: who is online, shared by every gateway process through the database
(mixed into :class:`rongbank.chat.service.ChatService`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.chat.bus import Bus, queue_event
from rongbank.chat.members import Member
from rongbank.clock import Clock
from rongbank.db import advisory_key

if TYPE_CHECKING:
    from rongbank.chat.service import ChatConfig


LIVE_PRESENCE = (
    "SELECT 1 FROM chat_presence pr JOIN chat_gateway g ON g.id = pr.gateway_id "
    "AND g.lease_until > :now WHERE pr.member_kind = {kind} AND pr.member_id = {id}"
)
"""The member's connections to gateways that are alive (whose lease holds)."""
_VISIBLE = (
    "coalesce((SELECT presence_visible FROM chat_profile WHERE member_kind = :k "
    "AND member_id = :m), true)"
)
"""Whether the member :k :m lets their contacts see when they are online."""
_PRESENCE_LOCK = advisory_key("'chat_presence_' || {kind}", "{id}")
"""The two keys of a member's presence lock (:meth:`ChatService._lock_presence`); also
the order in which several are taken, so that no two transactions deadlock."""


@dataclass(frozen=True, slots=True)
class OpenHere:
    """The sockets this gateway process has open, as the gateway knows them (see
    :meth:`ChatService.reconcile_presence`)."""

    counted: Mapping[Member, int]
    """Per member, the sockets whose connect committed and whose disconnect has not
    begun."""
    changing: frozenset[Member]


class Presence:
    """The presence of :class:`~rongbank.chat.service.ChatService`, which sets what it
    uses."""

    clock: Clock
    bus: Bus
    config: ChatConfig
    gateway_id: uuid.UUID
    _gateway_name: str
    presence_suspect: bool
    _reconciled_at: datetime | None

    def set_presence_visible(self, session: Session, member: Member, *, visible: bool) -> None:
        self._lock_presence(session, member)
        session.execute(
            text(
                "INSERT INTO chat_profile (member_kind, member_id, presence_visible) "
                "VALUES (:k, :m, :v) ON CONFLICT (member_kind, member_id) "
                "DO UPDATE SET presence_visible = :v"
            ),
            {"k": member.kind, "m": member.id, "v": visible},
        )
        if self.is_connected(session, member):
            self._announce(session, member, online=visible)

    def presence_visible(self, session: Session, member: Member) -> bool:
        row = session.execute(
            text(
                "SELECT presence_visible FROM chat_profile WHERE member_kind = :k "
                "AND member_id = :m"
            ),
            {"k": member.kind, "m": member.id},
        ).first()
        return True if row is None else bool(row[0])

    # Presence is shared by every gateway process through the database: each one
    # counts its connections per member in ``chat_presence`` under a lease it renews
    # (:meth:`renew_lease`); a member is online while a row of theirs belongs to a
    # gateway whose lease holds. Connect and disconnect take the member's advisory
    # lock and then make one statement, so that of two gateways connecting or
    # disconnecting the same member at once, one sees the other's row: exactly one
    # announces them online, and the last to let go announces them offline. What a
    # failed transaction leaves wrong, the gateway's next renewal puts right
    # (reconcile_presence). The locks are keyed by namespace and member id for any
    # bigint id (rongbank.db.advisory_key).

    def is_connected(self, session: Session, member: Member) -> bool:
        """Whether the member has a live connection to any gateway."""
        return bool(
            session.execute(
                text(f"SELECT EXISTS ({LIVE_PRESENCE.format(kind=':k', id=':m')})"),
                {"k": member.kind, "m": member.id, "now": self.clock.now()},
            ).scalar_one()
        )

    def connected(self, session: Session, member: Member) -> None:
        """A connection of ``member``'s opened on this gateway; announced when it is
        their first anywhere."""
        now = self.clock.now()
        self._lock_presence(session, member)
        first, visible = session.execute(
            text(
                # The gateway's row is written by its first connection (and then by
                # renew_lease); DO NOTHING takes no lock, so connections do not queue
                # on it.
                "WITH gateway AS (INSERT INTO chat_gateway (id, name, started_at, lease_until) "  # noqa: S608
                "VALUES (:g, :name, :now, :until) ON CONFLICT (id) DO NOTHING), "
                "here AS (INSERT INTO chat_presence (member_kind, member_id, gateway_id, "
                "connections) VALUES (:k, :m, :g, 1) ON CONFLICT (member_kind, member_id, "
                "gateway_id) DO UPDATE SET connections = chat_presence.connections + 1 "
                "RETURNING connections) "
                "SELECT (SELECT connections FROM here) = 1 AND NOT EXISTS "
                f"({LIVE_PRESENCE.format(kind=':k', id=':m')} AND pr.gateway_id <> :g), "
                f"{_VISIBLE}"
            ),
            {
                **self._presence_keys(member),
                "name": self._gateway_name,
                "now": now,
                "until": now + self.config.presence_lease,
            },
        ).one()
        if first and visible:
            self._announce(session, member, online=True)

    def disconnected(self, session: Session, member: Member) -> None:
        """A connection of ``member``'s to this gateway closed; announced when it was
        their last anywhere."""
        self._lock_presence(session, member)
        last, visible = session.execute(
            text(
                # Each row matches one of the two: its last connection goes, or one less.
                "WITH gone AS (DELETE FROM chat_presence WHERE member_kind = :k "  # noqa: S608
                "AND member_id = :m AND gateway_id = :g AND connections = 1), "
                "fewer AS (UPDATE chat_presence SET connections = connections - 1 "
                "WHERE member_kind = :k AND member_id = :m AND gateway_id = :g "
                "AND connections > 1 RETURNING 1) "
                "SELECT NOT EXISTS (SELECT 1 FROM fewer) AND NOT EXISTS "
                f"({LIVE_PRESENCE.format(kind=':k', id=':m')} AND pr.gateway_id <> :g), "
                f"{_VISIBLE}"
            ),
            {**self._presence_keys(member), "now": self.clock.now()},
        ).one()
        if last and visible:
            self._announce(session, member, online=False)

    def renew_lease(self, session: Session) -> None:
        """Keep this gateway's connections counting for another lease; run every
        third of the lease (:meth:`rongbank.platform.Platform.start`). A lease found
        lapsed (this gateway was cut off; its rows may have been swept) makes the
        rows suspect."""
        now = self.clock.now()
        before = session.execute(
            text(
                # The CTE reads the row as it was before this statement's write.
                "WITH before AS (SELECT lease_until FROM chat_gateway WHERE id = :g) "
                "INSERT INTO chat_gateway (id, name, started_at, lease_until) "
                "VALUES (:g, :name, :now, :until) "
                "ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until "
                "RETURNING (SELECT lease_until FROM before)"
            ),
            {
                "g": self.gateway_id,
                "name": self._gateway_name,
                "now": now,
                "until": now + self.config.presence_lease,
            },
        ).scalar_one()
        if before is None or before <= now:
            self.presence_suspect = True

    def presence_due(self) -> bool:
        """Whether the next renewal should also reconcile: the rows are suspect, or
        ``presence_recheck`` has passed since the last time (a backstop)."""
        return (
            self.presence_suspect
            or self._reconciled_at is None
            or self.clock.now() - self._reconciled_at >= self.config.presence_recheck
        )

    def reconcile_presence(self, session: Session, here: Callable[[], OpenHere]) -> None:
        """Make this gateway's rows match the sockets it has open (``here``), announcing
        those whose being online anywhere changes: a disconnect whose transaction
        failed (the database went away as the socket closed) left a count one too
        high, a member whose rows were swept while this gateway was cut off from the
        database is still connected. Run after each :meth:`renew_lease`.

        Two statements however many are connected: one locks every member this
        gateway has a row or a counted socket for, the next writes the difference.
        ``here`` is asked again once the locks are held: a member's connect or
        disconnect that commits after that waits for this transaction and then
        counts from what it wrote; one that committed before is seen by both the
        database and ``here``, or its member is ``changing`` and left for the next
        run, as are members who connected in between (not locked). A failure that
        comes after this begins makes the rows suspect again."""
        self.presence_suspect = False
        self._reconciled_at = self.clock.now()
        seen = here()
        key = _PRESENCE_LOCK.format(kind="kind", id="id")
        locked = session.execute(
            text(
                # Sorted in a subquery (never flattened), locked in that order.
                f"SELECT kind, id, pg_advisory_xact_lock({key}) "  # noqa: S608
                "FROM (SELECT kind, id FROM (SELECT member_kind AS kind, member_id AS id "
                "FROM chat_presence WHERE gateway_id = :g UNION SELECT kind, id "
                "FROM jsonb_to_recordset(CAST(:seen AS jsonb)) AS s(kind text, id bigint)) m "
                f"ORDER BY {key}, kind, id) m"
            ),
            {
                "g": self.gateway_id,
                "seen": orjson.dumps([{"kind": m.kind, "id": m.id} for m in seen.counted]).decode(),
            },
        ).all()
        now = here()
        truth = [
            {"kind": kind, "id": member_id, "n": now.counted.get(member, 0)}
            for kind, member_id, _ in locked
            if (member := Member(kind, int(member_id))) not in now.changing
        ]
        if not truth:
            return
        changed = session.execute(
            text(
                "WITH truth AS (SELECT kind, id, n FROM jsonb_to_recordset(CAST(:truth AS jsonb)) "  # noqa: S608
                "AS t(kind text, id bigint, n integer)), "
                "gone AS (DELETE FROM chat_presence pr USING truth t WHERE pr.gateway_id = :g "
                "AND pr.member_kind = t.kind AND pr.member_id = t.id AND t.n = 0), "
                "counted AS (INSERT INTO chat_presence (member_kind, member_id, gateway_id, "
                "connections) SELECT kind, id, :g, n FROM truth WHERE n > 0 "
                "ON CONFLICT (member_kind, member_id, gateway_id) DO UPDATE "
                "SET connections = excluded.connections "
                "WHERE chat_presence.connections <> excluded.connections) "
                # Online after: counted here, or live elsewhere; before: live anywhere
                # (this statement's snapshot is from before its writes).
                "SELECT kind, id, online FROM (SELECT t.kind, t.id, (t.n > 0 OR EXISTS "
                f"({LIVE_PRESENCE.format(kind='t.kind', id='t.id')} AND pr.gateway_id <> :g)) "
                f"AS online, EXISTS ({LIVE_PRESENCE.format(kind='t.kind', id='t.id')}) AS was, "
                "coalesce((SELECT presence_visible FROM chat_profile p "
                "WHERE p.member_kind = t.kind AND p.member_id = t.id), true) AS visible "
                "FROM truth t) c WHERE online <> was AND visible"
            ),
            {"truth": orjson.dumps(truth).decode(), "g": self.gateway_id, "now": self.clock.now()},
        ).all()
        for kind, member_id, online in changed:
            self._announce(session, Member(kind, int(member_id)), online=bool(online))

    def sweep_presence(self, session: Session, *, limit: int = 200) -> bool:
        """Clear up to ``limit`` members' rows of one gateway whose lease ran out,
        announcing offline those connected nowhere else; the gateway's row goes with
        its last. False when no such gateway is left. Bounded, because each member
        holds an advisory lock until the commit."""
        dead = session.execute(
            text(
                # SKIP LOCKED: of several live gateways, each sweeps a different one.
                "SELECT id FROM chat_gateway WHERE lease_until <= :now AND id <> :g "
                "ORDER BY lease_until LIMIT 1 FOR UPDATE SKIP LOCKED"
            ),
            {"now": self.clock.now(), "g": self.gateway_id},
        ).scalar()
        if dead is None:
            return False
        rows = session.execute(
            text(
                # Locked in the order of their keys, as by every other taker of several
                # (reconcile_presence), so that no two deadlock.
                "SELECT member_kind, member_id FROM chat_presence WHERE gateway_id = :d "  # noqa: S608
                f"ORDER BY {_PRESENCE_LOCK.format(kind='member_kind', id='member_id')}, "
                "member_kind, member_id LIMIT :limit"
            ),
            {"d": dead, "limit": limit},
        ).all()
        for kind, member_id in rows:
            member = Member(kind, int(member_id))
            self._lock_presence(session, member)
            gone, visible = session.execute(
                text(
                    "WITH gone AS (DELETE FROM chat_presence WHERE member_kind = :k "  # noqa: S608
                    "AND member_id = :m AND gateway_id = :d RETURNING 1) "
                    "SELECT EXISTS (SELECT 1 FROM gone) AND NOT EXISTS "
                    f"({LIVE_PRESENCE.format(kind=':k', id=':m')}), {_VISIBLE}"
                ),
                {**self._presence_keys(member), "d": dead, "now": self.clock.now()},
            ).one()
            if gone and visible:
                self._announce(session, member, online=False)
        if len(rows) < limit:
            session.execute(text("DELETE FROM chat_gateway WHERE id = :d"), {"d": dead})
        return True

    def _presence_keys(self, member: Member) -> dict[str, Any]:
        return {"k": member.kind, "m": member.id, "g": self.gateway_id}

    def _lock_presence(self, session: Session, member: Member) -> None:
        """Serialise the presence changes of one member until the commit. A separate
        statement: the one that follows must see what the lock's holder committed."""
        session.execute(
            text(f"SELECT pg_advisory_xact_lock({_PRESENCE_LOCK.format(kind=':k', id=':m')})"),
            {"k": member.kind, "m": member.id},
        )

    def _announce(self, session: Session, member: Member, *, online: bool) -> None:
        """Tell those who may see the member's presence that they came or went: staff
        and the customers they share a bank or group chat with, and a customer's
        contacts (an accepted direct chat); never a stranger in a group or a request
        (see :mod:`rongbank.chat.contacts`)."""
        rows = session.execute(
            text(
                "SELECT DISTINCT o.member_kind, o.member_id FROM chat_member m "
                "JOIN chat_conversation c ON c.id = m.conversation_id AND c.kind <> 'channel' "
                "JOIN chat_member o ON o.conversation_id = m.conversation_id AND o.active "
                "WHERE m.member_kind = :k AND m.member_id = :m AND m.active "
                "AND (o.member_kind, o.member_id) <> (:k, :m) "
                "AND (:k = 'staff' OR o.member_kind = 'staff' "
                "OR (c.kind = 'direct' AND c.request = 'accepted'))"
            ),
            {"k": member.kind, "m": member.id},
        ).all()
        self._tell_presence(
            session, member, [Member(kind, int(other)) for kind, other in rows], online=online
        )

    def _tell_presence(
        self, session: Session, member: Member, others: list[Member], *, online: bool
    ) -> None:
        event = {
            "type": "presence",
            "member": {"kind": member.kind, "id": member.id},
            "online": online,
        }
        for other in others:
            queue_event(session, self.bus, other.topic, event)

    def now_contacts(self, session: Session, one: Member, other: Member) -> None:
        """Two customers have just become contacts (a request accepted): each is told
        whether the other is online now, as a contact who connects would be."""
        for member, told in ((one, other), (other, one)):
            self._lock_presence(session, member)
            if self.is_connected(session, member) and self.presence_visible(session, member):
                self._tell_presence(session, member, [told], online=True)
