"""Push notices over HTTP: the customer's notice preferences (``/me/chat``), and
the staff's broadcasts to segments with their figures (``/staff/chat``, operations
and administrators; sending is audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from rongbank import roles
from rongbank.api.deps import CustomerPrincipal, PlatformDep, require_staff
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.chat import notices
from rongbank.chat import schemas as s
from rongbank.chat.push import BroadcastFigures
from rongbank.inputs import IdParam

customer = APIRouter(tags=["e-Link chat"], prefix="/me/chat", route_class=OneHopRoute)
staff = APIRouter(tags=["e-Link chat (staff)"], prefix="/staff/chat", route_class=OneHopRoute)
Broadcaster = Annotated[Principal, Depends(require_staff(*roles.BROADCASTS))]


def broadcast_out(figures: BroadcastFigures) -> s.BroadcastOut:
    b = figures.broadcast
    return s.BroadcastOut(
        id=b.id,
        staff_id=b.staff_id,
        client_id=b.client_id,
        segment=b.segment,
        kind=b.kind,
        title=b.title,
        text=b.body,
        created_at=b.created_at,
        recipients=b.recipients,
        pending=figures.pending,
        skipped=figures.skipped,
        failed=figures.failed,
        sent=figures.sent,
        delivered=figures.delivered,
        read=figures.read,
    )


@customer.get("/notice-preferences")
def preferences(platform: PlatformDep, me: CustomerPrincipal) -> s.NoticePreferencesOut:
    """Which kinds of notice the customer receives in their notice box."""
    with platform.transaction() as session:
        return s.NoticePreferencesOut(**platform.push.preferences(session, me.id))


@customer.put("/notice-preferences")
def set_preferences(
    body: s.NoticePreferencesIn, platform: PlatformDep, me: CustomerPrincipal
) -> s.NoticePreferencesOut:
    """Switch kinds of notice on or off; a kind switched off creates no message."""
    changes = body.model_dump(exclude_none=True)
    with platform.transaction() as session:
        return s.NoticePreferencesOut(**platform.push.set_preferences(session, me.id, changes))


@staff.get("/segments")
def segments(platform: PlatformDep, me: Broadcaster) -> list[s.SegmentOut]:
    """The segments a broadcast can go to, with how many customers each holds now."""
    with platform.transaction() as session:
        sizes = platform.push.segment_sizes(session)
    return [
        s.SegmentOut(segment=name, description=about, customers=sizes[name])
        for name, about in notices.SEGMENTS.items()
    ]


@staff.post("/broadcasts", status_code=201)
def broadcast(
    body: s.BroadcastIn, platform: PlatformDep, me: Broadcaster, response: Response
) -> s.BroadcastOut:
    """Send a notice to every customer of a segment (delivered within seconds by the
    push job, except to those who switched its kind off). A resend with the same
    ``client_id`` answers the original with 200."""
    with platform.audited(
        actor_kind="staff",
        actor_id=me.id,
        action="chat.broadcast",
        target=body.segment,
        details={"client_id": body.client_id, "kind": body.kind},
    ) as session:
        sent, created = platform.push.broadcast(
            session,
            staff_id=me.id,
            client_id=body.client_id,
            segment=body.segment,
            kind=body.kind,
            title=body.title,
            body=body.text,
        )
        figures = platform.push.figures(session, broadcast_id=sent.id)[0]
    if not created:
        response.status_code = 200
    return broadcast_out(figures)


@staff.get("/broadcasts")
def broadcasts(
    platform: PlatformDep, me: Broadcaster, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[s.BroadcastOut]:
    """Broadcasts, newest first, with their delivery and read counts."""
    with platform.transaction() as session:
        return [broadcast_out(f) for f in platform.push.figures(session, limit=limit)]


@staff.get("/broadcasts/{broadcast_id}")
def broadcast_figures(
    broadcast_id: IdParam, platform: PlatformDep, me: Broadcaster
) -> s.BroadcastOut:
    with platform.transaction() as session:
        return broadcast_out(platform.push.figures(session, broadcast_id=broadcast_id)[0])
