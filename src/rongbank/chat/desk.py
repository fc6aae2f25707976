"""The account managers' desk: who serves a customer's chat with the bank.

A customer's conversation with the bank goes to their own account manager while
that manager is on duty within business hours. Otherwise it goes to the least
loaded colleague on duty (load: chats assigned to them still waiting for an
answer), or, when no one is on duty or the bank is closed, it waits in the queue
and the customer gets the away message once per wait. When a manager comes back on
duty their customers' chats are handed back to them, and queued chats are shared
out. A manager can transfer a chat to a colleague with a note (the colleague sees
the note, the customer sees only that they were transferred).

The customer's own manager stays a member of the conversation throughout (to read
it); a colleague is a member while the chat is assigned to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.errors import CustomerNotFound
from rongbank.accounts.search import (
    FOUND_COLUMNS,
    FoundCustomer,
    customer_search,
    found_customer,
)
from rongbank.chat.errors import (
    ConversationNotFound,
    CustomerNotServed,
    NotServing,
    SharedRepliesBySupervisors,
    StaffNotFound,
)
from rongbank.chat.members import STAFF, Member
from rongbank.pii import opened

if TYPE_CHECKING:
    from rongbank.chat.records import Conversation, Message
    from rongbank.chat.service import ChatService


SEES_EVERY_CUSTOMER = frozenset({"operations", "administrator", "credit_officer", "risk_analyst"})
"""Staff roles that may look at any customer; what each may do is the route's own role
list. Account managers see the customers they serve (:meth:`Desk.check_customer`); a
supervisor, who publishes the team's shared replies, sees none for that alone."""
_SEES = (
    "EXISTS (SELECT 1 FROM staff s WHERE s.id = :sees_staff AND s.active AND (s.role = ANY("
    ":sees_every) OR (s.role = 'account_manager' AND (c.manager_id = s.id OR EXISTS (SELECT 1 "
    "FROM chat_conversation v WHERE v.kind = 'bank' AND v.customer_id = c.id "
    "AND v.assigned_staff_id = s.id)))))"
)
"""Whether the member of staff ``:sees_staff`` may look at the customer ``c``: the rule
of :meth:`Desk.customers_seen`, as a condition for any query over ``customer c``."""


def _sees(staff_id: int) -> dict[str, Any]:
    return {"sees_staff": staff_id, "sees_every": sorted(SEES_EVERY_CUSTOMER)}


SUPERVISOR = "supervisor"
"""The role that publishes canned replies shared by every account manager (made with
``rongbank staff create --role supervisor``)."""


@dataclass(frozen=True, slots=True)
class DeskItem:
    """A bank conversation on a manager's desk."""

    conversation_id: int
    customer_id: int
    customer_name: str
    assigned_staff_id: int | None
    routing: str
    waiting_since: datetime | None
    waiting_seconds: int | None
    unread: int
    own_customer: bool


@dataclass(frozen=True, slots=True)
class MyCustomer:
    """One of an account manager's own customers."""

    customer_id: int
    name: str
    mobile: str
    conversation_id: int | None
    """Their chat with the bank; None until they open it."""
    unread: int


@dataclass(frozen=True, slots=True)
class TransferNote:
    """A chat handed from one manager to another, with the note for the colleague."""

    from_name: str
    to_name: str
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ResponseTime:
    staff_id: int
    name: str
    answered: int
    average_seconds: float
    p90_seconds: float


class Desk:
    def __init__(self, chat: ChatService) -> None:
        self.chat = chat

    # -- routing ---------------------------------------------------------------------

    def opened(self, session: Session, conversation: Conversation) -> None:
        """A new bank conversation: the customer's manager joins it to read it, and
        it is routed."""
        manager = self._manager_of(session, conversation)
        if manager is not None:
            self.chat.add_member(session, conversation.id, Member(STAFF, manager))
        self.route(session, conversation)

    def message_added(self, session: Session, conversation: Conversation, message: Message) -> None:
        """Keep waiting times and routing up to date after a message in a bank
        conversation."""
        conversation = self.chat.conversation(session, conversation.id)
        now = message.at
        if message.sender_kind == "customer":
            if conversation.waiting_since is None:
                self._set(session, conversation.id, waiting_since=now)
            self.route(session, self.chat.conversation(session, conversation.id))
        elif message.sender_kind == "staff" and conversation.waiting_since is not None:
            waited = now - conversation.waiting_since
            session.execute(
                text(
                    "INSERT INTO chat_response (conversation_id, staff_id, waited_ms, at) "
                    "VALUES (:c, :s, :ms, :at)"
                ),
                {
                    "c": conversation.id,
                    "s": message.sender_id,
                    "ms": max(0, int(waited.total_seconds() * 1000)),
                    "at": now,
                },
            )
            self._set(session, conversation.id, waiting_since=None, away_sent=False)

    def route(self, session: Session, conversation: Conversation) -> None:
        """Assign the conversation as the module docstring says; post the away
        message when it has to wait in the queue."""
        now = self.chat.clock.now()
        open_now = self.chat.config.business_hours.open_at(now)
        manager = self._manager_of(session, conversation)
        if open_now and manager is not None and self.on_duty(session, manager):
            self._assign(session, conversation, manager, "manager")
        elif (
            open_now
            and conversation.assigned_staff_id is not None
            and self.on_duty(session, conversation.assigned_staff_id)
        ):
            pass  # a colleague on duty keeps the chat until the manager is back
        else:
            colleague = self._least_loaded(session) if open_now else None
            if colleague is not None:
                self._assign(session, conversation, colleague, "colleague")
            else:
                self._assign(session, conversation, None, "queued")
                current = self.chat.conversation(session, conversation.id, lock=True)
                if current.waiting_since is not None and not current.away_sent:
                    # A customer now waits in the shared queue.
                    self._queue_changed(session, current.id, queued=True)
                    self._set(session, conversation.id, away_sent=True)
                    self.chat.append(
                        session,
                        current,
                        sender=None,
                        client_id=f"away:{current.last_seq + 1}",
                        kind="system",
                        body=self.chat.config.away_message,
                    )

    def set_on_duty(self, session: Session, *, staff_id: int, on_duty: bool) -> None:
        """A manager starts or ends their duty. Ending it sends their waiting chats
        to colleagues or the queue; starting it takes their customers' chats back and
        shares out the queue."""
        updated = session.execute(
            text(
                "UPDATE staff SET on_duty = :d WHERE id = :id AND active "
                "AND role = 'account_manager'"
            ),
            {"d": on_duty, "id": staff_id},
        ).rowcount  # type: ignore[attr-defined]
        if not updated:
            raise NotServing()
        if on_duty:
            ids = session.execute(
                text(
                    "SELECT c.id FROM chat_conversation c "
                    "JOIN customer cu ON cu.id = c.customer_id "
                    "WHERE c.kind = 'bank' AND (c.routing = 'queued' OR (cu.manager_id = :s "
                    "AND c.assigned_staff_id IS DISTINCT FROM :s)) ORDER BY c.id"
                ),
                {"s": staff_id},
            ).scalars()
        else:
            ids = session.execute(
                text(
                    "SELECT id FROM chat_conversation WHERE kind = 'bank' "
                    "AND assigned_staff_id = :s ORDER BY id"
                ),
                {"s": staff_id},
            ).scalars()
        for conversation_id in list(ids):
            self.route(session, self.chat.conversation(session, int(conversation_id), lock=True))

    def claim(self, session: Session, *, staff_id: int, conversation_id: int) -> None:
        """An account manager takes a chat from the queue (or from a colleague)."""
        conversation = self._bank(session, conversation_id, staff_id, allow_queued=True)
        self._require_manager(session, staff_id)
        self._assign(
            session, conversation, staff_id, self._routing_for(session, conversation, staff_id)
        )

    def transfer(
        self, session: Session, *, staff_id: int, conversation_id: int, to_staff_id: int, note: str
    ) -> None:
        """Hand a chat to a colleague with a note for them."""
        conversation = self._bank(session, conversation_id, staff_id)
        self._require_manager(session, to_staff_id)
        session.execute(
            text(
                "INSERT INTO chat_transfer (conversation_id, from_staff_id, to_staff_id, note, at) "
                "VALUES (:c, :f, :t, :n, :at)"
            ),
            {
                "c": conversation_id,
                "f": staff_id,
                "t": to_staff_id,
                "n": note.strip()[:500],
                "at": self.chat.clock.now(),
            },
        )
        self._assign(
            session,
            conversation,
            to_staff_id,
            self._routing_for(session, conversation, to_staff_id),
            note=note.strip()[:500],
        )

    def _routing_for(self, session: Session, conversation: Conversation, staff_id: int) -> str:
        return "manager" if self._manager_of(session, conversation) == staff_id else "colleague"

    def _assign(
        self,
        session: Session,
        conversation: Conversation,
        staff_id: int | None,
        routing: str,
        *,
        note: str = "",
    ) -> None:
        current = self.chat.conversation(session, conversation.id, lock=True)
        if (current.assigned_staff_id, current.routing) == (staff_id, routing):
            return
        self._set(session, current.id, assigned_staff_id=staff_id, routing=routing)
        if "queued" in (routing, current.routing):
            self._queue_changed(session, current.id, queued=routing == "queued")
        previous = current.assigned_staff_id
        manager = self._manager_of(session, current)
        if previous is not None and previous not in (staff_id, manager):
            self.chat.remove_member(session, current.id, Member(STAFF, previous))
        if staff_id is None:
            return
        self.chat.add_member(session, current.id, Member(STAFF, staff_id))
        self.chat.notify_member(
            session,
            Member(STAFF, staff_id),
            {"type": "assigned", "conversation_id": current.id, "routing": routing, "note": note},
        )
        # The customer is told who serves them when that changes from someone to
        # someone else (a transfer or a hand-back), not on the first assignment.
        if previous is not None and previous != staff_id:
            name = session.execute(
                text("SELECT name FROM staff WHERE id = :id"), {"id": staff_id}
            ).scalar_one()
            self.chat.append(
                session,
                self.chat.conversation(session, current.id, lock=True),
                sender=None,
                client_id=f"assign:{current.last_seq + 1}",
                kind="system",
                body=f"{name} 将为您服务。{name} will serve you now.",
            )

    # -- the workspace -----------------------------------------------------------------

    def workspace(self, session: Session, *, staff_id: int) -> list[DeskItem]:
        """Chats on the manager's desk: assigned to them, of their own customers, and
        the queue; waiting ones first, longest waiting first."""
        now = self.chat.clock.now()
        rows = session.execute(
            text(
                "SELECT c.id, c.customer_id, cu.name, c.assigned_staff_id, c.routing, "
                "c.waiting_since, c.last_seq - coalesce(m.last_read_seq, 0), "
                "cu.manager_id = :s "
                "FROM chat_conversation c JOIN customer cu ON cu.id = c.customer_id "
                "LEFT JOIN chat_member m ON m.conversation_id = c.id AND m.member_kind = 'staff' "
                "AND m.member_id = :s AND m.active "
                "WHERE c.kind = 'bank' AND (c.assigned_staff_id = :s OR cu.manager_id = :s "
                "OR c.routing = 'queued') "
                "ORDER BY c.waiting_since NULLS LAST, c.id"
            ),
            {"s": staff_id},
        ).all()
        return [
            DeskItem(
                conversation_id=int(r[0]),
                customer_id=int(r[1]),
                customer_name=r[2],
                assigned_staff_id=r[3],
                routing=r[4],
                waiting_since=r[5],
                waiting_seconds=None if r[5] is None else int((now - r[5]).total_seconds()),
                unread=max(0, int(r[6])),
                own_customer=bool(r[7]),
            )
            for r in rows
        ]

    def waiting(self, session: Session, *, staff_id: int) -> tuple[int, int]:
        """How many customers wait for this manager's answer, and how many wait in the
        queue for anyone's (the workspace's first lines, counted over waiting chats
        only: few at any time, and indexed)."""
        row = session.execute(
            text(
                "SELECT count(*) FILTER (WHERE assigned_staff_id = :s), "
                "count(*) FILTER (WHERE routing = 'queued') FROM chat_conversation "
                "WHERE kind = 'bank' AND waiting_since IS NOT NULL"
            ),
            {"s": staff_id},
        ).one()
        return int(row[0]), int(row[1])

    def customers(self, session: Session, *, staff_id: int) -> list[MyCustomer]:
        """The manager's own customers, with their chat with the bank if they have
        one and what of it the manager has not read."""
        rows = session.execute(
            text(
                "SELECT cu.id, cu.name, cu.mobile, cu.mobile_enc, c.id, "
                "c.last_seq - coalesce(m.last_read_seq, 0) "
                "FROM customer cu LEFT JOIN chat_conversation c ON c.customer_id = cu.id "
                "AND c.kind = 'bank' "
                "LEFT JOIN chat_member m ON m.conversation_id = c.id AND m.member_kind = 'staff' "
                "AND m.member_id = :s AND m.active "
                "WHERE cu.manager_id = :s ORDER BY cu.name, cu.id"
            ),
            {"s": staff_id},
        ).all()
        return [
            MyCustomer(
                customer_id=int(r[0]),
                name=r[1],
                mobile=str(opened(self.chat.pii, int(r[0]), "mobile", r[2], r[3])),
                conversation_id=None if r[4] is None else int(r[4]),
                unread=max(0, int(r[5] or 0)),
            )
            for r in rows
        ]

    def transfers(self, session: Session, *, conversation_id: int) -> list[TransferNote]:
        """The chat's transfers between colleagues with their notes, oldest first:
        for whoever serves it now (the customer never sees the notes)."""
        rows = session.execute(
            text(
                "SELECT coalesce(f.name, ''), t.name, x.note, x.at FROM chat_transfer x "
                "LEFT JOIN staff f ON f.id = x.from_staff_id JOIN staff t ON t.id = x.to_staff_id "
                "WHERE x.conversation_id = :c ORDER BY x.at, x.id"
            ),
            {"c": conversation_id},
        ).all()
        return [TransferNote(r[0], r[1], r[2], r[3]) for r in rows]

    # -- who sees which customer ---------------------------------------------------------

    def customers_seen(
        self, session: Session, *, staff_id: int, customer_ids: list[int]
    ) -> set[int]:
        """Which of ``customer_ids`` this member of staff may look at (their profile,
        accounts, authentication tools, risk assessments): the one rule for the API
        and the console. An account manager sees the customers assigned to them
        (``customer.manager_id``) and those whose chat with the bank the desk has
        assigned to them now (a colleague covering, a claimed or transferred chat);
        the roles of :data:`SEES_EVERY_CUSTOMER` see any; everyone else none."""
        rows = session.execute(
            text(f"SELECT c.id FROM customer c WHERE c.id = ANY(:ids) AND {_SEES}"),  # noqa: S608
            {"ids": customer_ids, **_sees(staff_id)},
        ).scalars()
        return {int(c) for c in rows}

    def find_customers(
        self, session: Session, *, staff_id: int, query: str, limit: int = 20
    ) -> list[FoundCustomer]:
        """The customers matching a search (:func:`customer_search`) that this member
        of staff may look at (:meth:`customers_seen`, in the same query: a manager
        finds their own customers however many others match), by name."""
        search = customer_search(query, self.chat.pii)
        if search is None:
            return []
        rows = session.execute(
            text(
                f"SELECT {FOUND_COLUMNS} FROM customer c "  # noqa: S608
                f"WHERE c.id IN ({search.ids}) AND {_SEES} ORDER BY c.name, c.id LIMIT :limit"
            ),
            {**search.params, **_sees(staff_id), "limit": limit},
        ).all()
        return [found_customer(self.chat.pii, row) for row in rows]

    def check_customer(self, session: Session, *, staff_id: int, customer_id: int) -> None:
        """Raise :class:`CustomerNotServed` unless this member of staff may look at
        the customer (:meth:`customers_seen`); ``CustomerNotFound`` for an id no
        customer has, whoever asks."""
        if self.customers_seen(session, staff_id=staff_id, customer_ids=[customer_id]):
            return
        if session.execute(
            text("SELECT 1 FROM customer WHERE id = :c"), {"c": customer_id}
        ).first():
            raise CustomerNotServed()
        raise CustomerNotFound(customer_id=customer_id)

    # -- canned replies -------------------------------------------------------------------

    def canned_replies(self, session: Session, *, staff_id: int) -> list[dict[str, Any]]:
        rows = session.execute(
            text(
                "SELECT id, title, body, staff_id IS NULL FROM chat_canned_reply "
                "WHERE staff_id IS NULL OR staff_id = :s ORDER BY staff_id NULLS FIRST, id"
            ),
            {"s": staff_id},
        ).all()
        return [{"id": r[0], "title": r[1], "body": r[2], "shared": r[3]} for r in rows]

    def add_canned_reply(
        self, session: Session, *, staff_id: int, title: str, body: str, shared: bool = False
    ) -> int:
        """A reply of ``staff_id``'s own, or (``shared``) one every account manager
        sees, which only a supervisor publishes: a reply shared by all speaks for the
        bank to every customer, so it is not any one manager's to publish."""
        if shared:
            role = session.execute(
                text("SELECT role FROM staff WHERE id = :id AND active"), {"id": staff_id}
            ).scalar()
            if role != SUPERVISOR:
                raise SharedRepliesBySupervisors()
        return int(
            session.execute(
                text(
                    "INSERT INTO chat_canned_reply (staff_id, title, body, created_at) "
                    "VALUES (:s, :t, :b, :at) RETURNING id"
                ),
                {
                    "s": None if shared else staff_id,
                    "t": title.strip(),
                    "b": body.strip(),
                    "at": self.chat.clock.now(),
                },
            ).scalar_one()
        )

    def response_times(
        self, session: Session, *, start: datetime, end: datetime, staff_id: int | None = None
    ) -> list[ResponseTime]:
        """How long customers waited for each manager's first answer in ``[start,
        end)``: the count, the mean and the 90th percentile."""
        rows = session.execute(
            text(
                "SELECT s.id, s.name, count(*), avg(r.waited_ms), "
                "percentile_cont(0.9) WITHIN GROUP (ORDER BY r.waited_ms) "
                "FROM chat_response r JOIN staff s ON s.id = r.staff_id "
                "WHERE r.at >= :start AND r.at < :end "
                "AND (CAST(:s AS bigint) IS NULL OR s.id = :s) "
                "GROUP BY s.id, s.name ORDER BY s.id"
            ),
            {"start": start, "end": end, "s": staff_id},
        ).all()
        return [
            ResponseTime(int(r[0]), r[1], int(r[2]), float(r[3]) / 1000, float(r[4]) / 1000)
            for r in rows
        ]

    # -- helpers -------------------------------------------------------------------------

    def _bank(
        self, session: Session, conversation_id: int, staff_id: int, *, allow_queued: bool = False
    ) -> Conversation:
        """A bank conversation this staff member serves (is a member of), or, with
        ``allow_queued``, one waiting in the queue."""
        conversation = self.chat.conversation(session, conversation_id, lock=True)
        if conversation.kind != "bank":
            raise ConversationNotFound()
        if allow_queued and conversation.routing == "queued":
            return conversation
        self.chat.membership(session, Member(STAFF, staff_id), conversation_id)
        return conversation

    def _require_manager(self, session: Session, staff_id: int) -> None:
        if not session.execute(
            text("SELECT 1 FROM staff WHERE id = :id AND active AND role = 'account_manager'"),
            {"id": staff_id},
        ).first():
            raise StaffNotFound()

    def _manager_of(self, session: Session, conversation: Conversation) -> int | None:
        manager = session.execute(
            text(
                "SELECT s.id FROM customer c JOIN staff s ON s.id = c.manager_id "
                "WHERE c.id = :c AND s.active AND s.role = 'account_manager'"
            ),
            {"c": conversation.customer_id},
        ).scalar()
        return None if manager is None else int(manager)

    def on_duty(self, session: Session, staff_id: int) -> bool:
        """Whether this account manager is on duty (serving chats) now."""
        return bool(
            session.execute(
                text(
                    "SELECT on_duty FROM staff WHERE id = :id AND active "
                    "AND role = 'account_manager'"
                ),
                {"id": staff_id},
            ).scalar()
        )

    def _queue_changed(self, session: Session, conversation_id: int, *, queued: bool) -> None:
        """Tell every account manager's open desk that a chat entered or left the
        shared queue, so that it appears (or goes) without a reload."""
        managers = session.execute(
            text("SELECT id FROM staff WHERE role = 'account_manager' AND active")
        ).scalars()
        event = {"type": "queue", "conversation_id": conversation_id, "queued": queued}
        for staff_id in managers:
            self.chat.notify_member(session, Member(STAFF, int(staff_id)), event)

    def _least_loaded(self, session: Session) -> int | None:
        # One router at a time picks, so that a burst of chats is spread out instead
        # of all landing on whoever was least loaded when the burst began.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('chat_route'))"))
        row = session.execute(
            text(
                "SELECT s.id FROM staff s LEFT JOIN chat_conversation c "
                "ON c.assigned_staff_id = s.id AND c.kind = 'bank' AND c.waiting_since IS NOT NULL "
                "WHERE s.role = 'account_manager' AND s.active AND s.on_duty "
                "GROUP BY s.id ORDER BY count(c.id), s.id LIMIT 1"
            )
        ).first()
        return None if row is None else int(row[0])

    def _set(self, session: Session, conversation_id: int, **values: Any) -> None:
        allowed = {"waiting_since", "away_sent", "assigned_staff_id", "routing"}
        if not values.keys() <= allowed:
            raise ValueError(f"not a routing column: {set(values) - allowed}")
        assignments = ", ".join(f"{k} = :{k}" for k in values)
        session.execute(
            text(f"UPDATE chat_conversation SET {assignments} WHERE id = :id"),  # noqa: S608
            {**values, "id": conversation_id},
        )
