"""Who a customer may know in 融e联: direct chats start as requests, and a mobile
number gives nothing away.

The vocabulary:

- a **request** is a direct chat a customer opened by the other's mobile number. The
  asker sees it titled with the number as they typed it (masked), may post a short
  greeting (:data:`GREETINGS` texts, nothing else) and sees nobody else in it: no
  name, no presence, no receipts, no typing. The customer asked sees it as a request
  from a masked name ("*小明") and accepts it (both then see each other) or declines
  it (the asker is not told: to them it stays a request for ever);
- **contacts** are two customers with an accepted direct chat: only they see each
  other's name and presence, in groups too; anyone else sees a customer's name
  masked and never online (:data:`KNOWN`). Staff see, and are seen by, the
  customers they share a chat with.

Opening a chat by number answers the same whatever the number is: a customer's, a
customer's who has blocked the caller, or nobody's. Each is a request in the caller's
list, made by the same statements (no early return), so neither the answer nor its
timing tells them apart; a request nobody can answer (``closed``) just never is. Each
opening costs one of the caller's lookup tokens (a bucket in the database, like the
send limit), which bounds how many numbers anyone can try, and how many strangers
they can ask.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.identity import mask_mobile, parse_mobile
from rongbank.chat import rules
from rongbank.chat.errors import (
    CannotChatWithSelf,
    LookupRateLimited,
    NotAContact,
    RequestNotYours,
)
from rongbank.chat.members import CUSTOMER, Member

if TYPE_CHECKING:
    from rongbank.chat.records import Summary
    from rongbank.chat.service import ChatService

GREETINGS = 3
"""How many entries a request's log may hold before the other side accepts it: the
asker's greeting, in up to three texts (or two and a recall)."""

CONTACT = (
    "EXISTS (SELECT 1 FROM chat_member a JOIN chat_member b "
    "ON b.conversation_id = a.conversation_id AND b.member_kind = 'customer' "
    "AND b.member_id = {other} AND b.active "
    "JOIN chat_conversation d ON d.id = a.conversation_id AND d.kind = 'direct' "
    "AND d.request = 'accepted' "
    "WHERE a.member_kind = 'customer' AND a.member_id = {one} AND a.active)"
)
"""SQL: whether customers ``{one}`` and ``{other}`` are contacts (an accepted direct
chat between them)."""
KNOWN = (
    "({viewer_kind} = 'staff' OR {kind} = 'staff' "
    "OR ({kind} = {viewer_kind} AND {id} = {viewer_id}) OR "
    + CONTACT.format(one="{viewer_id}", other="{id}")
    + ")"
)
"""SQL: whether the viewer (``{viewer_kind}``, ``{viewer_id}``) may see the name and
presence of the member ``{kind}``, ``{id}``."""

_ASK = text(
    # The caller's own number, the customer the number belongs to (if any other) and
    # whether a block stands either way between them: one statement, whatever the
    # number is.
    "SELECT me.mobile_hash, o.id, o.id IS NOT NULL AND EXISTS (SELECT 1 FROM chat_block b "
    "WHERE (b.blocker_id, b.blocked_id) IN ((me.id, o.id), (o.id, me.id))) "
    "FROM customer me LEFT JOIN customer o ON o.mobile_hash = :mobile AND o.id <> me.id "
    "WHERE me.id = :me"
)
_LOOKUP_TOKENS = text(
    "INSERT INTO chat_lookup_bucket AS b (customer_id, tokens, at) VALUES (:c, :burst, :now) "
    "ON CONFLICT (customer_id) DO UPDATE SET tokens = b.tokens RETURNING tokens, at"
)


class Contacts:
    def __init__(self, chat: ChatService) -> None:
        self.chat = chat

    # -- requests ------------------------------------------------------------------------

    def request(self, session: Session, *, customer_id: int, mobile: str) -> Summary:
        """The direct chat with whoever has ``mobile``, as the caller sees it: a
        request (new, or the one asked before), or the accepted chat of two contacts.
        A malformed number is refused as such; otherwise nothing here depends on
        whether a customer has the number (see the module docstring)."""
        number = parse_mobile(mobile)
        self._take_lookup(session, customer_id)
        number_hash = self.chat.pii.hash("mobile", number)
        mine, other, blocked = session.execute(
            _ASK, {"me": customer_id, "mobile": number_hash}
        ).one()
        if mine is not None and bytes(mine) == number_hash:
            raise CannotChatWithSelf()
        # Keyed, so that the number of someone who does not bank here is not kept.
        nobody = hmac.new(
            self.chat.config.request_key, f"{customer_id}:{number}".encode(), hashlib.sha256
        ).hexdigest()
        key = "r" + nobody if other is None else _pair(customer_id, other)
        conversation_id, new = self.chat.open_keyed(
            session, key=key, kind="direct", title=mask_mobile(number)
        )
        conversation = self.chat.conversation(session, conversation_id, lock=True)
        if new or (conversation.request == "closed" and conversation.requested_by != customer_id):
            # A new request; or a closed one the caller was once asked in (and declined,
            # or a block closed), now asked the other way round.
            self._ask(
                session,
                conversation_id,
                asker=customer_id,
                asked=other,
                answerable=other is not None and not blocked,
                title=mask_mobile(number),
            )
        return self.chat.membership(session, Member(CUSTOMER, customer_id), conversation_id)

    def _ask(
        self,
        session: Session,
        conversation_id: int,
        *,
        asker: int,
        asked: int | None,
        answerable: bool,
        title: str,
    ) -> None:
        """Make the chat a request of ``asker``'s: ``pending`` with the customer asked
        a member, or ``closed`` (nobody asked: no customer has the number, or a block
        stands between them)."""
        session.execute(
            text(
                "UPDATE chat_conversation SET request = :state, requested_by = :asker, "
                "title = :title WHERE id = :id"
            ),
            {
                "state": "pending" if answerable else "closed",
                "asker": asker,
                "title": title,
                "id": conversation_id,
            },
        )
        rows = [(asker, "owner", True)]
        if asked is not None:
            rows.append((asked, "member", answerable))
            if answerable:  # their open pages show the request at once
                event = {"type": "request", "conversation_id": conversation_id}
                self.chat.notify_member(session, Member(CUSTOMER, asked), event)
        session.execute(
            text(
                "INSERT INTO chat_member (conversation_id, member_kind, member_id, role, active, "
                "joined_at) SELECT :c, 'customer', w.id, w.role, w.active, :at "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:roles AS text[]), "
                "CAST(:actives AS boolean[])) AS w(id, role, active) "
                "ON CONFLICT (conversation_id, member_kind, member_id) DO UPDATE "
                "SET role = excluded.role, active = excluded.active"
            ),
            {
                "c": conversation_id,
                "ids": [r[0] for r in rows],
                "roles": [r[1] for r in rows],
                "actives": [r[2] for r in rows],
                "at": self.chat.clock.now(),
            },
        )

    def accept(self, session: Session, *, customer_id: int, conversation_id: int) -> Summary:
        """The customer asked accepts a request: from now on both see each other's
        name and presence and write freely. Accepting again changes nothing."""
        me = Member(CUSTOMER, customer_id)
        self.chat.membership(session, me, conversation_id)
        conversation = self.chat.conversation(session, conversation_id, lock=True)
        if conversation.kind == "direct" and conversation.request == "accepted":
            return self.chat.membership(session, me, conversation_id)
        if conversation.request != "pending" or conversation.requested_by == customer_id:
            raise RequestNotYours()
        session.execute(
            text("UPDATE chat_conversation SET request = 'accepted' WHERE id = :id"),
            {"id": conversation_id},
        )
        assert conversation.requested_by is not None
        asker = Member(CUSTOMER, conversation.requested_by)
        # Pushed (not an entry of the log): the asker's devices show who it is now.
        event = {"type": "accepted", "conversation_id": conversation_id}
        for member in (asker, me):
            self.chat.notify_member(session, member, event)
        self.chat.now_contacts(session, me, asker)
        return self.chat.membership(session, me, conversation_id)

    def decline(self, session: Session, *, customer_id: int, conversation_id: int) -> None:
        """The customer asked turns a request down: it leaves their list, and the asker
        is not told (to them it stays a request, like one nobody can answer)."""
        self.chat.membership(session, Member(CUSTOMER, customer_id), conversation_id)
        conversation = self.chat.conversation(session, conversation_id, lock=True)
        if conversation.request != "pending" or conversation.requested_by == customer_id:
            raise RequestNotYours()
        self._close(session, conversation_id, leaving=customer_id)

    def _close(self, session: Session, conversation_id: int, *, leaving: int) -> None:
        session.execute(
            text("UPDATE chat_conversation SET request = 'closed' WHERE id = :id"),
            {"id": conversation_id},
        )
        self.chat.remove_member(session, conversation_id, Member(CUSTOMER, leaving))

    def open_direct(self, session: Session, *, customer_id: int, other_id: int) -> Summary:
        """A direct chat two customers have both agreed to, accepted at once (set-ups
        that speak for both, as the chat benchmark's pairs); customers themselves go
        through :meth:`request` and :meth:`accept`."""
        if other_id == customer_id:
            raise CannotChatWithSelf()
        conversation_id, new = self.chat.open_keyed(
            session, key=_pair(customer_id, other_id), kind="direct"
        )
        if new:
            session.execute(
                text("UPDATE chat_conversation SET request = 'accepted' WHERE id = :id"),
                {"id": conversation_id},
            )
            for who in sorted((customer_id, other_id)):
                self.chat.add_member(session, conversation_id, Member(CUSTOMER, who))
        return self.chat.membership(session, Member(CUSTOMER, customer_id), conversation_id)

    def _take_lookup(self, session: Session, customer_id: int) -> None:
        """Spend one of the customer's lookup tokens, under their bucket's row lock
        (so that the limit holds across processes), or refuse."""
        config, now = self.chat.config, self.chat.clock.now()
        tokens, at = session.execute(
            _LOOKUP_TOKENS, {"c": customer_id, "burst": config.lookup_burst, "now": now}
        ).one()
        per_minute = config.lookups_per_hour / 60
        available = rules.refill(
            float(tokens),
            elapsed_seconds=(now - at).total_seconds(),
            per_minute=per_minute,
            burst=config.lookup_burst,
        )
        if available < 1:
            wait = (1 - available) * 60 / per_minute
            raise LookupRateLimited(retry_after_seconds=max(1, round(wait + 0.5)))
        session.execute(
            text("UPDATE chat_lookup_bucket SET tokens = :t, at = :now WHERE customer_id = :c"),
            {"t": available - 1, "now": now, "c": customer_id},
        )

    # -- contacts --------------------------------------------------------------------------

    def contacts_by_mobile(
        self, session: Session, *, customer_id: int, mobiles: list[str]
    ) -> list[int]:
        """The customers behind ``mobiles``, each of whom must be a contact of the
        caller's (people are added to a group from one's contacts, as in any
        messenger): :class:`NotAContact` otherwise, the same for a stranger's number
        as for one nobody has."""
        numbers = sorted({parse_mobile(m) for m in mobiles})
        found = session.execute(
            text(
                "SELECT o.id FROM customer o WHERE o.mobile_hash = ANY(:numbers) AND "  # noqa: S608
                + CONTACT.format(one=":me", other="o.id")
            ),
            {"numbers": [self.chat.pii.hash("mobile", n) for n in numbers], "me": customer_id},
        ).scalars()
        ids = sorted(int(i) for i in found)
        if len(ids) != len(numbers):
            raise NotAContact()
        return ids

    def names(self, session: Session, viewer: Member, customer_ids: list[int]) -> dict[int, str]:
        """How these customers are named to ``viewer``: in full for contacts (and for
        staff), else masked."""
        rows = session.execute(
            text(
                "SELECT c.id, c.name, "  # noqa: S608
                + KNOWN.format(viewer_kind=":vk", viewer_id=":vm", kind="'customer'", id="c.id")
                + " FROM customer c WHERE c.id = ANY(:ids)"
            ),
            {"vk": viewer.kind, "vm": viewer.id, "ids": customer_ids},
        ).all()
        return {int(i): name if known else rules.mask_name(name) for i, name, known in rows}

    # -- blocks ------------------------------------------------------------------------------

    def blocked_between(self, session: Session, one: int, other: int) -> bool:
        return (
            session.execute(
                text(
                    "SELECT 1 FROM chat_block WHERE (blocker_id, blocked_id) IN "
                    "((:a, :b), (:b, :a))"
                ),
                {"a": one, "b": other},
            ).first()
            is not None
        )

    def block(self, session: Session, *, customer_id: int, blocked_id: int) -> None:
        """Block another customer: no new direct messages either way, no adding the
        blocker to groups, and a request between them is closed (the asker is not
        told). Idempotent; an id no customer has is answered the same and changes
        nothing, so that blocking does not tell which ids exist."""
        if blocked_id == customer_id:
            raise CannotChatWithSelf()
        session.execute(
            text(
                "INSERT INTO chat_block (blocker_id, blocked_id, at) "
                "SELECT :a, id, :at FROM customer WHERE id = :b ON CONFLICT DO NOTHING"
            ),
            {"a": customer_id, "b": blocked_id, "at": self.chat.clock.now()},
        )
        pending = session.execute(
            text(
                "SELECT id, requested_by FROM chat_conversation WHERE pair_key = :p "
                "AND request = 'pending' FOR UPDATE"
            ),
            {"p": _pair(customer_id, blocked_id)},
        ).first()
        if pending is not None:
            conversation_id, asker = int(pending[0]), int(pending[1])
            self._close(
                session,
                conversation_id,
                leaving=blocked_id if asker == customer_id else customer_id,
            )

    def unblock(self, session: Session, *, customer_id: int, blocked_id: int) -> None:
        session.execute(
            text("DELETE FROM chat_block WHERE blocker_id = :a AND blocked_id = :b"),
            {"a": customer_id, "b": blocked_id},
        )

    def blocked(self, session: Session, *, customer_id: int) -> list[int]:
        rows = session.execute(
            text("SELECT blocked_id FROM chat_block WHERE blocker_id = :a ORDER BY blocked_id"),
            {"a": customer_id},
        ).all()
        return [int(r[0]) for r in rows]


def _pair(one: int, other: int) -> str:
    """The key of the one direct chat of two customers."""
    low, high = sorted((one, other))
    return f"c{low}:c{high}"
