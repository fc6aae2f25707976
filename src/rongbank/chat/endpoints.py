"""融e联 chat over HTTP: the customer's conversations (``/me/chat``) and the staff
side (``/staff/chat``): the managers' desk, moderation and the records export.

Every route authenticates; conversation routes then authorise by membership (a
conversation one is not in answers 404, like one that does not exist). Real-time
delivery is the WebSocket gateway (:mod:`rongbank.chat.gateway`); these routes are
what a client uses to catch up and what the gateway's frames mirror.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, require_staff
from rongbank.api.docs import file_answer
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.chat import schemas as s
from rongbank.chat.records import SyncResult
from rongbank.chat.sending import Sent
from rongbank.chat.service import CUSTOMER, Member
from rongbank.errors import InvalidRequest
from rongbank.inputs import CountParam, IdParam, Moment
from rongbank.platform import Platform

customer = APIRouter(tags=["e-Link chat"], prefix="/me/chat", route_class=OneHopRoute)
staff = APIRouter(tags=["e-Link chat (staff)"], prefix="/staff/chat", route_class=OneHopRoute)

ALL_STAFF = roles.ALL_STAFF
ChatStaff = Annotated[Principal, Depends(require_staff(*ALL_STAFF))]
"""Any staff member: what they may see in a conversation is decided by membership."""
Manager = Annotated[Principal, Depends(require_staff(*roles.CHAT_DESK))]
Serving = Annotated[Principal, Depends(require_staff(*roles.OFFERS))]
Replies = Annotated[
    Principal,
    Depends(require_staff("account_manager", "supervisor", "operations", "administrator")),
]
"""Who reads canned replies (their own and the shared ones) and the response times."""
Writers = Annotated[Principal, Depends(require_staff("account_manager", "supervisor"))]
"""Who writes canned replies: managers their own, supervisors also the shared ones."""
Moderator = Annotated[Principal, Depends(require_staff(*roles.MODERATION))]


def sent_out(sent: Sent) -> s.SentOut:
    return s.SentOut(
        message=s.MessageOut.of(sent.message), created=sent.created, warnings=list(sent.masked)
    )


def sync_out(result: SyncResult) -> s.SyncOut:
    return s.SyncOut(
        conversations=[
            s.SyncConversationOut(
                conversation=s.ConversationOut.of(batch.summary),
                messages=[s.MessageOut.of(m) for m in batch.messages],
                more=batch.more,
            )
            for batch in result.batches
        ],
        cursor=result.cursor,
    )


# -- shared by customers and staff -----------------------------------------------------------


def _conversations(platform: Platform, member: Member) -> list[s.ConversationOut]:
    with platform.transaction() as session:
        return [s.ConversationOut.of(c) for c in platform.chat.conversations(session, member)]


def _history(
    platform: Platform, member: Member, conversation_id: int, after_seq: int, limit: int
) -> list[s.MessageOut]:
    with platform.transaction() as session:
        messages = platform.chat.history(
            session, member, conversation_id=conversation_id, after_seq=after_seq, limit=limit
        )
    return [s.MessageOut.of(m) for m in messages]


def _send(platform: Platform, member: Member, conversation_id: int, body: s.SendIn) -> s.SentOut:
    with platform.transaction() as session:
        sent = platform.chat.send(
            session,
            member,
            conversation_id=conversation_id,
            client_id=body.client_id,
            body=body.text,
            reply_to=body.reply_to,
        )
    return sent_out(sent)


def _receipt(
    platform: Platform, member: Member, conversation_id: int, body: s.ReceiptIn
) -> s.ConversationOut:
    with platform.transaction() as session:
        summary = platform.chat.mark(
            session,
            member,
            conversation_id=conversation_id,
            delivered=body.delivered_seq,
            read=body.read_seq,
        )
    return s.ConversationOut.of(summary)


def _members(platform: Platform, member: Member, conversation_id: int) -> list[s.MemberOut]:
    with platform.transaction() as session:
        return [s.MemberOut.of(m) for m in platform.chat.members(session, member, conversation_id)]


def _sync(platform: Platform, member: Member, since: str, limit: int) -> s.SyncOut:
    with platform.transaction() as session:
        return sync_out(platform.chat.sync(session, member, cursor=since, limit=limit))


AfterSeq = Annotated[CountParam, Query(description="Messages after this sequence number.")]
Limit = Annotated[int, Query(ge=1, le=500)]
Since = Annotated[str, Query(max_length=20_000, description="The cursor of the last sync.")]


# -- customers ---------------------------------------------------------------------------------


@customer.get("/conversations")
def my_conversations(platform: PlatformDep, me: CustomerPrincipal) -> list[s.ConversationOut]:
    return _conversations(platform, Member.of(me))


@customer.post("/conversations/direct", status_code=201)
def open_direct(
    body: s.DirectIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.ConversationOut:
    """Ask the customer with this mobile number for a direct chat (or go back to the
    one you have). The answer is the same whether or not anyone banks with the number:
    a request (``request: sent``) titled with the number masked, in which you may send
    a short greeting and see nobody until they accept it. Limited per customer
    (``429 chat_lookup_rate_limited``)."""
    with platform.transaction() as session:
        return s.ConversationOut.of(
            platform.chat.contacts.request(session, customer_id=me.id, mobile=body.mobile)
        )


@customer.post("/conversations/{conversation_id}/accept")
def accept_request(
    conversation_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.ConversationOut:
    """Accept a chat request made to you: you and the asker see each other's name and
    presence from now on."""
    with platform.transaction() as session:
        return s.ConversationOut.of(
            platform.chat.contacts.accept(
                session, customer_id=me.id, conversation_id=conversation_id
            )
        )


@customer.post("/conversations/{conversation_id}/decline", status_code=204)
def decline_request(
    conversation_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> Response:
    """Decline a chat request made to you; the asker is not told."""
    with platform.transaction() as session:
        platform.chat.contacts.decline(session, customer_id=me.id, conversation_id=conversation_id)
    return Response(status_code=204)


@customer.post("/conversations/bank", status_code=201)
def open_bank(platform: PlatformDep, me: CustomerPrincipal) -> s.ConversationOut:
    """The conversation with the bank, served by the customer's account manager."""
    with platform.transaction() as session:
        return s.ConversationOut.of(platform.chat.open_bank(session, customer_id=me.id))


@customer.post("/groups", status_code=201)
def create_group(
    body: s.GroupIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.ConversationOut:
    """A group with some of your contacts (people who accepted a chat with you), by
    their mobile numbers."""
    with platform.transaction() as session:
        ids = platform.chat.contacts.contacts_by_mobile(
            session, customer_id=me.id, mobiles=body.mobiles
        )
        return s.ConversationOut.of(
            platform.chat.create_group(
                session, creator=Member.of(me), title=body.title, customer_ids=ids
            )
        )


@customer.get("/channels")
def channels(platform: PlatformDep, me: CustomerPrincipal) -> list[s.ChannelOut]:
    """The bank's notice channels a customer can subscribe to."""
    with platform.transaction() as session:
        return [s.ChannelOut(id=c.id, title=c.title) for c in platform.chat.channels(session)]


@customer.put("/channels/{conversation_id}/subscription")
def subscribe(
    conversation_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.ConversationOut:
    with platform.transaction() as session:
        return s.ConversationOut.of(
            platform.chat.subscribe(session, customer_id=me.id, conversation_id=conversation_id)
        )


@customer.delete("/channels/{conversation_id}/subscription", status_code=204)
def unsubscribe(conversation_id: IdParam, platform: PlatformDep, me: CustomerPrincipal) -> Response:
    with platform.transaction() as session:
        platform.chat.unsubscribe(session, customer_id=me.id, conversation_id=conversation_id)
    return Response(status_code=204)


@customer.get("/conversations/{conversation_id}/messages")
def my_history(
    conversation_id: IdParam,
    platform: PlatformDep,
    me: CustomerPrincipal,
    after_seq: AfterSeq = 0,
    limit: Limit = 100,
) -> list[s.MessageOut]:
    return _history(platform, Member.of(me), conversation_id, after_seq, limit)


@customer.post("/conversations/{conversation_id}/messages", status_code=201)
def my_send(
    conversation_id: IdParam, body: s.SendIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.SentOut:
    return _send(platform, Member.of(me), conversation_id, body)


@customer.post("/conversations/{conversation_id}/receipts")
def my_receipt(
    conversation_id: IdParam, body: s.ReceiptIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.ConversationOut:
    return _receipt(platform, Member.of(me), conversation_id, body)


@customer.get("/conversations/{conversation_id}/members")
def my_members(
    conversation_id: IdParam, platform: PlatformDep, me: CustomerPrincipal
) -> list[s.MemberOut]:
    return _members(platform, Member.of(me), conversation_id)


@customer.post("/conversations/{conversation_id}/messages/{seq}/recall")
def recall(
    conversation_id: IdParam, seq: CountParam, platform: PlatformDep, me: CustomerPrincipal
) -> s.MessageOut:
    """Recall one's own message within the recall window (2 minutes by default)."""
    with platform.transaction() as session:
        event = platform.chat.recall(
            session, Member.of(me), conversation_id=conversation_id, seq=seq
        )
    return s.MessageOut.of(event)


@customer.post("/conversations/{conversation_id}/messages/{seq}/report", status_code=201)
def report(
    conversation_id: IdParam,
    seq: CountParam,
    body: s.ReportIn,
    platform: PlatformDep,
    me: CustomerPrincipal,
) -> dict[str, int]:
    with platform.audited(
        actor_kind=CUSTOMER,
        actor_id=me.id,
        action="chat.report",
        target=f"conversation {conversation_id} #{seq}",
    ) as session:
        report_id = platform.chat.report(
            session,
            customer_id=me.id,
            conversation_id=conversation_id,
            seq=seq,
            reason=body.reason,
        )
    return {"report_id": report_id}


@customer.get("/sync")
def my_sync(
    platform: PlatformDep, me: CustomerPrincipal, since: Since = "", limit: Limit = 200
) -> s.SyncOut:
    """Everything new since the cursor of the last sync (empty: from the start)."""
    return _sync(platform, Member.of(me), since, limit)


@customer.put("/presence")
def my_presence(body: s.PresenceIn, platform: PlatformDep, me: CustomerPrincipal) -> s.PresenceIn:
    """Show or hide one's online status from one's contacts."""
    with platform.transaction() as session:
        platform.chat.set_presence_visible(session, Member.of(me), visible=body.visible)
    return body


@customer.get("/blocks")
def my_blocks(platform: PlatformDep, me: CustomerPrincipal) -> list[int]:
    with platform.transaction() as session:
        return platform.chat.contacts.blocked(session, customer_id=me.id)


@customer.post("/blocks", status_code=204)
def block(body: s.BlockIn, platform: PlatformDep, me: CustomerPrincipal) -> Response:
    with platform.transaction() as session:
        platform.chat.contacts.block(session, customer_id=me.id, blocked_id=body.customer_id)
    return Response(status_code=204)


@customer.delete("/blocks/{customer_id}", status_code=204)
def unblock(customer_id: IdParam, platform: PlatformDep, me: CustomerPrincipal) -> Response:
    with platform.transaction() as session:
        platform.chat.contacts.unblock(session, customer_id=me.id, blocked_id=customer_id)
    return Response(status_code=204)


@customer.get("/search")
def my_search(
    platform: PlatformDep,
    me: CustomerPrincipal,
    q: Annotated[str, Query(min_length=1, max_length=100)],
) -> s.SearchOut:
    """Search one's own conversations (Chinese by character bigrams)."""
    with platform.transaction() as session:
        found = platform.chat.search(session, Member.of(me), query=q)
    return s.SearchOut(messages=[s.MessageOut.of(m) for m in found])


# -- staff -------------------------------------------------------------------------------------


@staff.get("/conversations")
def staff_conversations(platform: PlatformDep, me: ChatStaff) -> list[s.ConversationOut]:
    return _conversations(platform, Member.of(me))


@staff.get("/conversations/{conversation_id}/messages")
def staff_history(
    conversation_id: IdParam,
    platform: PlatformDep,
    me: ChatStaff,
    after_seq: AfterSeq = 0,
    limit: Limit = 100,
) -> list[s.MessageOut]:
    return _history(platform, Member.of(me), conversation_id, after_seq, limit)


@staff.post("/conversations/{conversation_id}/messages", status_code=201)
def staff_send(
    conversation_id: IdParam, body: s.SendIn, platform: PlatformDep, me: ChatStaff
) -> s.SentOut:
    return _send(platform, Member.of(me), conversation_id, body)


@staff.post("/conversations/{conversation_id}/receipts")
def staff_receipt(
    conversation_id: IdParam, body: s.ReceiptIn, platform: PlatformDep, me: ChatStaff
) -> s.ConversationOut:
    return _receipt(platform, Member.of(me), conversation_id, body)


@staff.get("/conversations/{conversation_id}/members")
def staff_members(
    conversation_id: IdParam, platform: PlatformDep, me: ChatStaff
) -> list[s.MemberOut]:
    return _members(platform, Member.of(me), conversation_id)


@staff.get("/sync")
def staff_sync(
    platform: PlatformDep, me: ChatStaff, since: Since = "", limit: Limit = 200
) -> s.SyncOut:
    return _sync(platform, Member.of(me), since, limit)


@staff.get("/workspace")
def workspace(platform: PlatformDep, me: Manager) -> list[s.DeskItemOut]:
    """The manager's desk: chats assigned to them, their customers' chats and the
    queue, waiting ones first with how long they have waited."""
    with platform.transaction() as session:
        return [s.DeskItemOut.of(i) for i in platform.chat.desk.workspace(session, staff_id=me.id)]


@staff.put("/duty")
def duty(body: s.DutyIn, platform: PlatformDep, me: Manager) -> s.DutyIn:
    """Start or end duty: chats are handed to colleagues, or back."""
    with platform.transaction() as session:
        platform.chat.desk.set_on_duty(session, staff_id=me.id, on_duty=body.on_duty)
    return body


@staff.post("/conversations/{conversation_id}/claim", status_code=204)
def claim(conversation_id: IdParam, platform: PlatformDep, me: Manager) -> Response:
    with platform.transaction() as session:
        platform.chat.desk.claim(session, staff_id=me.id, conversation_id=conversation_id)
    return Response(status_code=204)


@staff.post("/conversations/{conversation_id}/transfer", status_code=204)
def transfer_conversation(
    conversation_id: IdParam, body: s.ConversationTransferIn, platform: PlatformDep, me: Manager
) -> Response:
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="chat.transfer",
        target=f"conversation {conversation_id}",
        details={"to_staff_id": body.to_staff_id},
    ) as session:
        platform.chat.desk.transfer(
            session,
            staff_id=me.id,
            conversation_id=conversation_id,
            to_staff_id=body.to_staff_id,
            note=body.note,
        )
    return Response(status_code=204)


@staff.get("/canned-replies")
def canned_replies(platform: PlatformDep, me: Replies) -> list[s.CannedOut]:
    with platform.transaction() as session:
        return [
            s.CannedOut(**r) for r in platform.chat.desk.canned_replies(session, staff_id=me.id)
        ]


@staff.post("/canned-replies", status_code=201)
def add_canned_reply(body: s.CannedIn, platform: PlatformDep, me: Writers) -> s.CannedOut:
    """A canned reply of one's own; ``shared`` (every account manager sees it) only by
    a supervisor, and audited."""
    transaction = (
        platform.audited(
            actor_kind="staff", actor_id=me.id, action="chat.canned.publish", target=body.title
        )
        if body.shared
        else platform.transaction()
    )
    with transaction as session:
        reply_id = platform.chat.desk.add_canned_reply(
            session, staff_id=me.id, title=body.title, body=body.body, shared=body.shared
        )
    return s.CannedOut(id=reply_id, title=body.title, body=body.body, shared=body.shared)


@staff.get("/response-times")
def response_times(
    platform: PlatformDep, me: Replies, start: Moment, end: Moment
) -> list[s.ResponseTimeOut]:
    """Customers' waiting time for a first answer, per manager; a manager sees their own."""
    with platform.transaction() as session:
        own = platform.accounts.staff_role(session, me.id) == "account_manager"
        figures = platform.chat.desk.response_times(
            session, start=start, end=end, staff_id=me.id if own else None
        )
    return [s.ResponseTimeOut.of(f) for f in figures]


@staff.post("/groups", status_code=201)
def enterprise_group(
    body: s.EnterpriseGroupIn, platform: PlatformDep, me: Serving
) -> s.ConversationOut:
    """A group of an enterprise customer with its bank team, made by staff who may see
    that customer (an account manager: one they serve)."""
    with platform.transaction() as session:
        customer_row = platform.accounts.customer(session, body.customer_id)
        platform.chat.desk.check_customer(session, staff_id=me.id, customer_id=body.customer_id)
        if customer_row.kind != "enterprise":
            raise InvalidRequest("Enterprise groups are for enterprise customers.")
        return s.ConversationOut.of(
            platform.chat.create_group(
                session,
                creator=Member.of(me),
                title=body.title or customer_row.name,
                customer_ids=[],
                staff_ids=body.staff_ids,
                enterprise_id=body.customer_id,
            )
        )


@staff.post("/channels", status_code=201)
def create_channel(body: s.ChannelIn, platform: PlatformDep, me: Moderator) -> s.ConversationOut:
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="chat.channel.create", target=body.title
    ) as session:
        return s.ConversationOut.of(
            platform.chat.create_channel(session, staff_id=me.id, title=body.title)
        )


@staff.get("/reports")
def reports(
    platform: PlatformDep,
    me: Moderator,
    open_only: Annotated[
        bool, Query(alias="open", description="Only those no moderator has acted on.")
    ] = False,
) -> list[s.ReportOut]:
    """Reported messages, newest first."""
    with platform.transaction() as session:
        return [s.ReportOut(**r) for r in platform.chat.reports(session, open_only=open_only)]


@staff.post("/reports/{report_id}/dismiss", status_code=204)
def dismiss_report(report_id: IdParam, platform: PlatformDep, me: Moderator) -> Response:
    """Nothing wrong with the reported message: its reports are closed, it stays
    (audited). Hiding the message closes its reports too."""
    with platform.audited(
        actor_kind="staff", actor_id=me.id, action="chat.report.dismiss", target=str(report_id)
    ) as session:
        platform.chat.dismiss_report(session, staff_id=me.id, report_id=report_id)
    return Response(status_code=204)


@staff.post("/conversations/{conversation_id}/messages/{seq}/hide")
def hide(
    conversation_id: IdParam, seq: CountParam, body: s.HideIn, platform: PlatformDep, me: Moderator
) -> s.MessageOut:
    """Hide a message from everyone (audited; the content is kept for the record)."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="chat.hide",
        target=f"conversation {conversation_id} #{seq}",
        details={"reason": body.reason},
    ) as session:
        event = platform.chat.hide(
            session, staff_id=me.id, conversation_id=conversation_id, seq=seq, reason=body.reason
        )
    return s.MessageOut.of(event)


@staff.get("/conversations/{conversation_id}/verify")
def verify(conversation_id: IdParam, platform: PlatformDep, me: Moderator) -> dict[str, Any]:
    """Walk the conversation's hash chain: ``problems`` is empty when intact."""
    with platform.transaction() as session:
        problems = platform.chat.verify(session, conversation_id)
    return {"conversation_id": conversation_id, "intact": not problems, "problems": problems}


EXPORT_FIELDS = (
    "conversation_id", "seq", "at", "sender_kind", "sender_id", "client_id", "kind", "body",
    "reply_to", "ref_seq", "masked", "recalled_at", "hidden_at", "content_hash", "prev_hash",
    "hash",
)  # fmt: skip


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula (customers write the
    texts): a leading =, +, -, @ is escaped with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@staff.get(
    "/customers/{customer_id}/export",
    response_model=s.ExportOut,
    responses=file_answer("text/csv", description="The export: JSON, or CSV with format=csv."),
)
def export(
    customer_id: IdParam,
    platform: PlatformDep,
    me: Moderator,
    start: Moment,
    end: Moment,
    format: s.ExportFormat = "json",
) -> Response:
    """The customer's conversations with the bank in ``[start, end)`` with their
    chain hashes (recalled and hidden entries included): for complaints, audits and
    courts. Audited."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="chat.export",
        target=f"customer {customer_id}",
        details={"start": start.isoformat(), "end": end.isoformat()},
    ) as session:
        platform.accounts.customer(session, customer_id)
        rows = platform.chat.export(session, customer_id=customer_id, start=start, end=end)
    if format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: _cell(v) for k, v in row.items()} | {"masked": " ".join(row["masked"])}
            )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="chat-{customer_id}.csv"'},
        )
    body = s.ExportOut(customer_id=customer_id, start=start, end=end, entries=rows)
    return Response(
        json.dumps(body.model_dump(mode="json"), ensure_ascii=False),
        media_type="application/json",
    )
