"""Sending: every message a member sends is cleared (membership, resends, blocks,
requests, the send rate) and every entry of every log is written here, set-based, for
a batch of any size (mixed into :class:`rongbank.chat.service.ChatService`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from psycopg.rows import tuple_row
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.chat import rules
from rongbank.chat.bus import Bus, queue_event
from rongbank.chat.contacts import GREETINGS
from rongbank.chat.desk import Desk
from rongbank.chat.errors import (
    Blocked,
    ChannelReadOnly,
    ConversationNotFound,
    MessageEmpty,
    MessageTooLong,
    RateLimited,
    ReplyToUnknown,
    RequestNotAccepted,
    RequestPending,
)
from rongbank.chat.members import CUSTOMER, STAFF, SYSTEM, Member
from rongbank.chat.records import (
    CONVERSATION_COLUMNS,
    CONVERSATION_WIDTH,
    MESSAGE_COLUMNS,
    Conversation,
    Message,
    message_from,
)
from rongbank.clock import Clock
from rongbank.db import driver_connection, driver_sql
from rongbank.errors import DomainError

if TYPE_CHECKING:
    from rongbank.chat.service import ChatConfig

MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class Admission:
    """A member asking to post the next entry of a conversation: a ``text``, or
    another kind (a card, an attachment), which a request does not take."""

    member: Member
    conversation_id: int
    client_id: str
    reply_to: int | None = None
    kind: str = "text"

    @property
    def key(self) -> tuple[int, str, int, str]:
        """What makes a resend: the same sender's client id in the conversation."""
        return (self.conversation_id, self.member.kind, self.member.id, self.client_id)


@dataclass(frozen=True, slots=True)
class SendRequest:
    member: Member
    conversation_id: int
    client_id: str
    body: str
    reply_to: int | None = None

    @property
    def admission(self) -> Admission:
        return Admission(self.member, self.conversation_id, self.client_id, self.reply_to)


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry to append to a log; ``sender`` None is the bank's system."""

    sender: Member | None
    client_id: str
    kind: str
    body: str = ""
    reply_to: int | None = None
    ref_seq: int | None = None
    masked: tuple[str, ...] = ()


@dataclass(slots=True)
class _Members:
    active: set[Member] = field(default_factory=set)
    left: set[Member] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Locked:
    """What locking a batch's conversations read: their members, and each log's
    head (last ``seq`` and hash); and the send tokens left to store (``spend``,
    written with the messages)."""

    members: dict[int, _Members]
    heads: dict[int, tuple[int, bytes]]
    spend: list[dict[str, Any]] = field(default_factory=list)


# The statements of the send path, built once (see ChatService.send_many). Arrays
# carry a batch; the rows to write travel as one JSON document (bytes as hex), which
# costs the driver far less to send than a dozen arrays.
_LOCK_CONVERSATIONS = text(
    f"SELECT {CONVERSATION_COLUMNS}, last_hash, (SELECT coalesce(json_agg(json_build_array("  # noqa: S608
    "m.member_kind, m.member_id, m.active)), '[]') FROM chat_member m "
    "WHERE m.conversation_id = chat_conversation.id), "
    # A direct conversation whose two customers are blocked either way (a block made
    # while this waited for the lock is seen by the next send: it is not money).
    # A request is closed by a block instead (its asker is not told).
    "kind = 'direct' AND request = 'accepted' AND EXISTS (SELECT 1 FROM chat_block b "
    "JOIN chat_member x ON x.member_id = b.blocker_id "
    "JOIN chat_member y ON y.member_id = b.blocked_id "
    "WHERE x.conversation_id = chat_conversation.id AND x.member_kind = 'customer' "
    "AND y.conversation_id = chat_conversation.id AND y.member_kind = 'customer') "
    "FROM chat_conversation WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
)
_MEMBERS = text(
    "SELECT conversation_id, member_kind, member_id, active FROM chat_member "
    "WHERE conversation_id = ANY(:ids)"
)
_ORIGINALS = text(
    f"SELECT {MESSAGE_COLUMNS} FROM chat_message JOIN unnest(CAST(:c AS bigint[]), "  # noqa: S608
    "CAST(:k AS text[]), CAST(:m AS bigint[]), CAST(:cid AS text[])) AS r(c, k, m, cid) "
    "ON conversation_id = r.c AND sender_kind = r.k AND sender_id = r.m AND client_id = r.cid"
)
_LOCK_BUCKETS = text(
    "INSERT INTO chat_rate_bucket AS b (member_kind, member_id, tokens, at) "
    "SELECT w.k, w.m, :burst, :at FROM unnest(CAST(:k AS text[]), CAST(:m AS bigint[])) "
    "AS w(k, m) ORDER BY w.k, w.m "
    "ON CONFLICT (member_kind, member_id) DO UPDATE SET tokens = b.tokens "
    "RETURNING member_kind, member_id, tokens, at"
)
# The rows a statement updates from a JSON document are also named by key arrays
# (``= ANY``): the planner takes a document for a hundred rows and, with nothing
# else, would scan the whole table and hash-join it, in every batch.
_SPEND = (
    "UPDATE chat_rate_bucket b SET tokens = s.t, at = s.at "
    "FROM jsonb_to_recordset(CAST(:spend AS jsonb)) "
    "AS s(k text, m bigint, t double precision, at timestamptz) "
    "WHERE b.member_kind = ANY(CAST(:spend_k AS text[])) "
    "AND b.member_id = ANY(CAST(:spend_m AS bigint[])) "
    "AND b.member_kind = s.k AND b.member_id = s.m"
)
_SPEND_SQL = driver_sql(text(_SPEND))
_LOCK_CONVERSATIONS_SQL = driver_sql(_LOCK_CONVERSATIONS)
_ORIGINALS_SQL = driver_sql(_ORIGINALS)
_LOCK_BUCKETS_SQL = driver_sql(_LOCK_BUCKETS)
_TAKE_SEQS = text(
    "UPDATE chat_conversation c SET last_seq = c.last_seq + n.k "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:counts AS bigint[])) AS n(id, k) "
    "WHERE c.id = n.id RETURNING c.id, c.last_seq - n.k, c.last_hash"
)
_WRITE = text(
    "WITH written AS (INSERT INTO chat_message (conversation_id, seq, sender_kind, sender_id, "  # noqa: S608
    "client_id, kind, body, reply_to, ref_seq, masked, at, content_hash, hash, search) "
    "SELECT w.c, w.s, w.sk, w.si, w.cid, w.k, w.b, w.r, w.ref, "
    "ARRAY(SELECT jsonb_array_elements_text(w.masked)), :at, decode(w.ch, 'hex'), "
    "decode(w.h, 'hex'), array_to_tsvector(ARRAY(SELECT jsonb_array_elements_text(w.tokens))) "
    "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS w(c bigint, s bigint, sk text, "
    "si bigint, cid text, k text, b text, r bigint, ref bigint, masked jsonb, ch text, h text, "
    "tokens jsonb) RETURNING 1), "
    "chained AS (UPDATE chat_conversation c SET last_seq = u.s, last_hash = decode(u.h, 'hex') "
    "FROM jsonb_to_recordset(CAST(:heads AS jsonb)) AS u(id bigint, s bigint, h text) "
    "WHERE c.id = ANY(CAST(:head_ids AS bigint[])) AND c.id = u.id RETURNING 1), "
    "seen AS (UPDATE chat_member mb SET "
    "last_delivered_seq = greatest(mb.last_delivered_seq, x.s), "
    "last_read_seq = greatest(mb.last_read_seq, x.s) "
    "FROM jsonb_to_recordset(CAST(:seen AS jsonb)) AS x(c bigint, k text, m bigint, s bigint) "
    "WHERE mb.conversation_id = ANY(CAST(:head_ids AS bigint[])) "
    "AND mb.conversation_id = x.c AND mb.member_kind = x.k AND mb.member_id = x.m RETURNING 1), "
    f"spent AS ({_SPEND} RETURNING 1) "
    "SELECT (SELECT count(*) FROM written)"
)
_WRITE_SQL = driver_sql(_WRITE)


Rows = psycopg.Cursor[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _Reads:
    """What admitting messages reads, queued on the driver connection (see
    :meth:`ChatService._queue_admission`): in a pipeline, one round trip."""

    now: datetime
    conversations: Rows
    originals: Rows
    buckets: Rows


@dataclass(frozen=True, slots=True)
class SendBatch:
    """Sends whose reads are queued (:meth:`ChatService.queue_sends`), to finish
    (:meth:`ChatService.finish_sends`) once the pipeline has been sent."""

    requests: Sequence[SendRequest]
    texts: list[rules.Masked | DomainError]
    reads: _Reads


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    created: bool
    """False for a resend of a client id already sent: the original is returned."""
    masked: tuple[str, ...]
    """What was masked in this message, for the warning to its sender."""


class Sending:
    """The send path of :class:`~rongbank.chat.service.ChatService`, which sets what
    it uses."""

    clock: Clock
    bus: Bus
    config: ChatConfig
    desk: Desk

    # -- messages ----------------------------------------------------------------------
    #
    # Every entry of every log is written by `_write` and every message a member
    # sends is cleared by `admit_many`, both set-based: the WebSocket gateway commits
    # many senders' messages in one transaction (group commit, see
    # rongbank.chat.committer), a REST send or a card is a batch of one. A batch
    # costs the same handful of statements whatever its size.

    def send(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        body: str,
        reply_to: int | None = None,
    ) -> Sent:
        """Append a text message, once per ``client_id``: a resend (after a lost
        answer or a reconnect) returns the original message and writes nothing.

        Card numbers, identity numbers and announced passwords are masked before the
        text is stored, so neither the other side nor any transcript ever holds
        them; ``Sent.masked`` tells the sender what was masked."""
        outcome = self.send_many(
            session, [SendRequest(member, conversation_id, client_id, body, reply_to)]
        )[0]
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def send_many(
        self, session: Session, requests: Sequence[SendRequest]
    ) -> list[Sent | DomainError]:
        """:meth:`send` for many senders at once, each request with its own outcome:
        one refused request (not a member, rate limited…) leaves the others be."""
        conn = driver_connection(session)
        with conn.pipeline():
            batch = self.queue_sends(conn, requests)
        return self.finish_sends(session, batch)

    def queue_sends(
        self, conn: psycopg.Connection[Any], requests: Sequence[SendRequest]
    ) -> SendBatch:
        """The first half of :meth:`send_many`: queue on the session's driver
        connection what admitting ``requests`` reads (in the caller's pipeline, with
        what it queues beside them: the gateway's login check), and mask the texts
        while they run."""
        reads = self._queue_admission(conn, [r.admission for r in requests])
        texts: list[rules.Masked | DomainError] = []
        for request in requests:
            stripped = request.body.strip()
            if not stripped:
                texts.append(MessageEmpty())
            elif len(stripped) > MAX_TEXT:
                texts.append(MessageTooLong(max_length=MAX_TEXT))
            else:
                texts.append(rules.mask_sensitive(stripped))
        return SendBatch(requests, texts, reads)

    def finish_sends(
        self,
        session: Session,
        batch: SendBatch,
        only: Sequence[int] | None = None,
        *,
        commit: Callable[[], None] | None = None,
    ) -> list[Sent | DomainError]:
        """The second half of :meth:`send_many`, once the queued reads are back: the
        outcomes of the batch's requests, or of those ``only`` names (in its order;
        the others, whose sockets' logins have ended, are neither sent nor refused).

        ``commit``, the boundary's commit queued on the driver connection
        (:func:`rongbank.db.queue_commit`), ends the transaction in the write's round
        trip when nothing has to follow the write (no message for the account-manager
        desk to route); otherwise, or without it, the boundary commits as usual."""
        chosen = range(len(batch.requests)) if only is None else only
        requests = [batch.requests[i] for i in chosen]
        texts = [batch.texts[i] for i in chosen]
        # The same message twice in one batch (two devices racing): the second is
        # answered as a resend of the first.
        first: dict[tuple[int, str, int, str], int] = {}
        for i, request in enumerate(requests):
            first.setdefault(request.admission.key, i)
        unique = sorted(first.values())
        admitted, locked = self._judge(
            batch.reads,
            [requests[i].admission for i in unique],
            refused=[t if isinstance(t, DomainError) else None for t in (texts[i] for i in unique)],
        )
        drafts: list[tuple[Conversation, Draft]] = []
        for i, outcome in zip(unique, admitted, strict=True):
            masked = texts[i]
            if isinstance(outcome, Conversation) and isinstance(masked, rules.Masked):
                request = requests[i]
                drafts.append(
                    (
                        outcome,
                        Draft(
                            request.member,
                            request.client_id,
                            "text",
                            masked.text,
                            reply_to=request.reply_to,
                            masked=masked.found,
                        ),
                    )
                )
        routed = any(conversation.kind == "bank" for conversation, _ in drafts)
        conn = driver_connection(session)
        with conn.pipeline():
            written = iter(self._write(session, drafts, locked))
            if commit is not None and not routed:
                commit()
        results: dict[int, Sent | DomainError] = {}
        for i, outcome in zip(unique, admitted, strict=True):
            if isinstance(outcome, Conversation):
                message = next(written)
                results[i] = Sent(message, created=True, masked=message.masked)
                if outcome.kind == "bank":
                    self.desk.message_added(session, outcome, message)
            elif isinstance(outcome, Message):
                results[i] = Sent(outcome.seen_by(requests[i].member), False, outcome.masked)
            else:
                results[i] = outcome
        outcomes: list[Sent | DomainError] = []
        for i, request in enumerate(requests):
            result = results[first[request.admission.key]]
            if i not in results and isinstance(result, Sent):
                result = replace(result, created=False)
            outcomes.append(result)
        return outcomes

    def admit(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        kind: str,
        reply_to: int | None = None,
    ) -> Conversation | Message:
        """Clear ``member`` to post the next entry of a conversation (for cards and
        attachments, which write their own ``kind`` of entry with :meth:`append`): the
        conversation, row locked, once the checks every message passes are passed and
        a send token is taken; or the stored message of a resend of ``client_id``."""
        admitted, locked = self._admit(
            session, [Admission(member, conversation_id, client_id, reply_to, kind)]
        )
        self._spend(session, locked.spend)
        outcome = admitted[0]
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def _admit(
        self, session: Session, admissions: Sequence[Admission]
    ) -> tuple[list[Conversation | Message | DomainError], _Locked]:
        """:meth:`_judge` of ``admissions`` after their reads, in one round trip."""
        conn = driver_connection(session)
        with conn.pipeline():
            reads = self._queue_admission(conn, admissions)
        return self._judge(reads, admissions)

    def _queue_admission(
        self, conn: psycopg.Connection[Any], admissions: Sequence[Admission]
    ) -> _Reads:
        """Queue what the checks of every message read, for many senders at once: the
        conversations (row locked in id order, so that two batches wait for each
        other, never deadlock) with their members, log heads and blocks; the stored
        originals of resends, in a statement of its own after the lock, so that it
        sees one a concurrent batch committed while this one waited; the senders'
        send-rate buckets (locked, in order)."""
        now = self.clock.now()
        conversations = conn.cursor(row_factory=tuple_row)
        conversations.execute(
            _LOCK_CONVERSATIONS_SQL, {"ids": sorted({a.conversation_id for a in admissions})}
        )
        originals = conn.cursor(row_factory=tuple_row)
        originals.execute(_ORIGINALS_SQL, _originals_params(admissions))
        senders = sorted({(a.member.kind, a.member.id) for a in admissions})
        buckets = conn.cursor(row_factory=tuple_row)
        buckets.execute(
            _LOCK_BUCKETS_SQL,
            {
                "k": [kind for kind, _ in senders],
                "m": [who for _, who in senders],
                "burst": self.config.rate_burst,
                "at": now,
            },
        )
        return _Reads(now, conversations, originals, buckets)

    def _judge(
        self,
        reads: _Reads,
        admissions: Sequence[Admission],
        *,
        refused: Sequence[DomainError | None] = (),
    ) -> tuple[list[Conversation | Message | DomainError], _Locked]:
        """The checks of every message, for many senders at once (no two alike; the
        reads queued for them or more): each gets its conversation (row locked), the
        stored original of a resend, or why it is refused; and the members of the
        conversations. ``refused`` carries refusals the caller found in the content,
        which come after membership, the resend check and the channel rule, as for a
        single message. What the lock read (members, log heads) spares the write
        reading it again."""
        conversations: dict[int, Conversation] = {}
        heads: dict[int, tuple[int, bytes]] = {}
        members: dict[int, _Members] = {}
        blocked: set[int] = set()
        n = CONVERSATION_WIDTH
        for row in reads.conversations.fetchall():
            head = conversations[int(row[0])] = Conversation(*row[:n])
            heads[head.id] = (head.last_seq, bytes(row[n]))
            group = members[head.id] = _Members()
            for kind, who, active in row[n + 1]:
                (group.active if active else group.left).add(Member(str(kind), int(who)))
            if row[n + 2]:
                blocked.add(head.id)
        originals = _by_key(reads.originals.fetchall())
        outcomes: list[Conversation | Message | DomainError] = []
        # Entries this batch admits into each request, beyond those in its log.
        greeted: Counter[int] = Counter()
        for i, admission in enumerate(admissions):
            member, conversation = admission.member, conversations.get(admission.conversation_id)
            caller_refused = refused[i] if i < len(refused) else None
            if conversation is None or member not in members[conversation.id].active:
                outcomes.append(ConversationNotFound())
            elif admission.key in originals:
                outcomes.append(originals[admission.key])
            elif conversation.kind == "notice" or (
                conversation.kind == "channel" and member.kind != STAFF
            ):
                outcomes.append(ChannelReadOnly())
            elif caller_refused is not None:
                outcomes.append(caller_refused)
            elif admission.reply_to is not None and not (
                1 <= admission.reply_to <= conversation.last_seq
            ):
                outcomes.append(ReplyToUnknown())
            elif conversation.is_request and member != Member(
                CUSTOMER, conversation.requested_by or 0
            ):
                outcomes.append(RequestNotAccepted())
            elif conversation.is_request and (
                admission.kind != "text"
                or conversation.last_seq + greeted[conversation.id] >= GREETINGS
            ):
                outcomes.append(RequestPending())
            elif conversation.id in blocked and member.kind == CUSTOMER:
                outcomes.append(Blocked())
            else:
                greeted[conversation.id] += conversation.is_request
                outcomes.append(conversation)
        spend = self._take_tokens(reads, admissions, outcomes)
        return outcomes, _Locked(members, heads, spend)

    def append(
        self,
        session: Session,
        conversation: Conversation,
        *,
        sender: Member | None,
        client_id: str,
        kind: str,
        body: str = "",
        reply_to: int | None = None,
        ref_seq: int | None = None,
        masked: tuple[str, ...] = (),
    ) -> Message:
        """Write the next entry of a conversation whose row this transaction has
        locked, chain it to the one before, and queue it for every member."""
        draft = Draft(sender, client_id, kind, body, reply_to, ref_seq, masked)
        return self._write(session, [(conversation, draft)])[0]

    def append_many(
        self, session: Session, drafts: Sequence[tuple[Conversation, Draft]]
    ) -> list[Message]:
        """:meth:`append` for many entries at once, each conversation's in order (the
        push job's notices): three statements whatever their number."""
        return self._write(session, drafts)

    def _write(
        self,
        session: Session,
        drafts: Sequence[tuple[Conversation, Draft]],
        locked: _Locked | None = None,
    ) -> list[Message]:
        """Append ``drafts`` in order to their conversations (locked by this
        transaction) and queue each for the members: one statement, whatever their
        number, when the caller read the logs' heads and members under the lock
        (``locked``, nothing written since; its send tokens are stored with them);
        else three."""
        if not drafts:
            if locked is not None:
                self._spend(session, locked.spend)
            return []
        counts = Counter(conversation.id for conversation, _ in drafts)
        if locked is not None:
            heads, members = dict(locked.heads), locked.members
        else:
            heads = {
                int(row[0]): (int(row[1]), bytes(row[2]))
                for row in session.execute(
                    _TAKE_SEQS, {"ids": list(counts), "counts": list(counts.values())}
                )
            }
            members = self._members_of(session, list(counts))
        now = self.clock.now()
        messages: list[Message] = []
        rows: list[dict[str, Any]] = []
        read_to: dict[tuple[int, str, int], int] = {}
        for conversation, draft in drafts:
            seq, prev = heads[conversation.id]
            message = Message(
                conversation.id, seq + 1, draft.sender.kind if draft.sender else SYSTEM,
                draft.sender.id if draft.sender else None, draft.client_id, draft.kind,
                draft.body, draft.reply_to, draft.ref_seq, draft.masked, now,
                recalled=False, hidden=False,
            )  # fmt: skip
            content = rules.content_hash(message.body)
            digest = rules.chain_hash(prev, chain_fields(message, content))
            heads[conversation.id] = (message.seq, digest)
            searchable = message.kind == "text"
            rows.append(
                {
                    "c": message.conversation_id,
                    "s": message.seq,
                    "sk": message.sender_kind,
                    "si": message.sender_id,
                    "cid": message.client_id,
                    "k": message.kind,
                    "b": message.body,
                    "r": message.reply_to,
                    "ref": message.ref_seq,
                    "masked": message.masked,
                    "ch": content.hex(),
                    "h": digest.hex(),
                    "tokens": sorted(set(rules.search_tokens(message.body))) if searchable else [],
                }
            )
            if draft.sender is not None:
                # What one sends one has read.
                read_to[(conversation.id, draft.sender.kind, draft.sender.id)] = message.seq
            messages.append(message)
        driver_connection(session).execute(
            _WRITE_SQL,
            {
                # orjson: in the batch's critical path, and several times faster.
                "rows": orjson.dumps(rows).decode(),
                "at": now,
                "heads": orjson.dumps(
                    [{"id": c, "s": seq, "h": digest.hex()} for c, (seq, digest) in heads.items()]
                ).decode(),
                "seen": orjson.dumps(
                    [{"c": c, "k": k, "m": m, "s": seq} for (c, k, m), seq in read_to.items()]
                ).decode(),
                "head_ids": list(heads),
                **_spend_params(locked.spend if locked is not None else []),
            },
        )
        for message in messages:
            event = {"type": "message", "message": message.payload()}
            for who in members[message.conversation_id].active:
                queue_event(session, self.bus, who.topic, event)
        return messages

    def _members_of(self, session: Session, conversation_ids: list[int]) -> dict[int, _Members]:
        found: dict[int, _Members] = {c: _Members() for c in conversation_ids}
        if conversation_ids:
            for c, kind, who, active in session.execute(_MEMBERS, {"ids": conversation_ids}):
                group = found[int(c)]
                (group.active if active else group.left).add(Member(str(kind), int(who)))
        return found

    def _take_tokens(
        self,
        reads: _Reads,
        admissions: Sequence[Admission],
        outcomes: list[Conversation | Message | DomainError],
    ) -> list[dict[str, Any]]:
        """The send rate limit: a token bucket per sender in the database, under its
        row lock in the sending transaction, so that it holds across processes and a
        refused or rolled-back send costs nothing. Admitted senders (``Conversation``
        outcomes) left without a token become :class:`RateLimited`. Returns the
        buckets to store (:meth:`_spend`, or with the messages by :meth:`_write`):
        those of admitted senders only, though all the batch's were locked."""
        config, now = self.config, reads.now
        locked = {
            (str(kind), int(who)): (float(tokens), at)
            for kind, who, tokens, at in reads.buckets.fetchall()
        }
        buckets: dict[tuple[str, int], float] = {}
        for i, outcome in enumerate(outcomes):
            if not isinstance(outcome, Conversation):
                continue
            key = (admissions[i].member.kind, admissions[i].member.id)
            available = buckets.get(key)
            if available is None:
                tokens, at = locked[key]
                available = rules.refill(
                    tokens,
                    elapsed_seconds=(now - at).total_seconds(),
                    per_minute=config.rate_per_minute,
                    burst=config.rate_burst,
                )
            if available < 1:
                wait = (1 - available) * 60 / config.rate_per_minute
                outcomes[i] = RateLimited(retry_after_seconds=max(1, round(wait + 0.5)))
            else:
                available -= 1
            buckets[key] = available
        stamp = now.isoformat()
        return [{"k": k, "m": m, "t": t, "at": stamp} for (k, m), t in buckets.items()]

    def _spend(self, session: Session, spend: list[dict[str, Any]]) -> None:
        """Store the buckets :meth:`_take_tokens` counted: refilled, less a token for
        each sender it admitted."""
        if spend:
            driver_connection(session).execute(_SPEND_SQL, _spend_params(spend))


def _spend_params(spend: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "spend": orjson.dumps(spend).decode(),
        "spend_k": [s["k"] for s in spend],
        "spend_m": [s["m"] for s in spend],
    }


def _originals_params(admissions: Sequence[Admission]) -> dict[str, Any]:
    return {
        "c": [a.conversation_id for a in admissions],
        "k": [a.member.kind for a in admissions],
        "m": [a.member.id for a in admissions],
        "cid": [a.client_id for a in admissions],
    }


def stored_original(session: Session, admission: Admission) -> Message | None:
    """The message already stored for ``admission`` (what a resend of it returns)."""
    rows = session.execute(_ORIGINALS, _originals_params([admission])).all()
    return _by_key(rows).get(admission.key)


def _by_key(rows: Sequence[Any]) -> dict[tuple[int, str, int, str], Message]:
    """Stored messages (``_ORIGINALS`` rows) by what makes a resend of them."""
    found: dict[tuple[int, str, int, str], Message] = {}
    for row in rows:
        message = message_from(row)
        if message.sender_id is not None:
            key = (message.conversation_id, message.sender_kind, message.sender_id)
            found[(*key, message.client_id)] = message
    return found


def chain_fields(message: Message, content: bytes) -> dict[str, Any]:
    """What an entry's hash covers: everything but the body, which its hash stands
    for (so a body can be proved without revealing the others)."""
    return {
        "conversation": message.conversation_id,
        "seq": message.seq,
        "sender": [message.sender_kind, message.sender_id],
        "client_id": message.client_id,
        "kind": message.kind,
        "content": content.hex(),
        "reply_to": message.reply_to,
        "ref_seq": message.ref_seq,
        "masked": list(message.masked),
        # Microseconds and UTC, whatever the session's time zone gives back.
        "at": message.at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
