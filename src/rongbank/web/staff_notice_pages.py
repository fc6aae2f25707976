"""The staff console's e-Link back office: notices broadcast to a segment of customers
with what became of them (``roles.BROADCASTS``), and moderation of reported messages
(``roles.MODERATION``): hide one with a reason, or dismiss its reports. The same
service calls and audit actions as ``/api/v1/staff/chat/broadcasts`` and
``/api/v1/staff/chat/reports``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.api.one_hop import OneHopRoute
from rongbank.chat import notices
from rongbank.errors import DomainError
from rongbank.inputs import CountParam, IdParam
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.pages import PlatformDep, local_time, render, see_other, staff_page
from rongbank.web.staff_pages import Csrf, FormFieldInvalid, Reason, StaffMember, refusal

router = APIRouter(include_in_schema=False, prefix="/staff", route_class=OneHopRoute)

Broadcaster = Annotated[StaffMember, Depends(staff_page(*roles.BROADCASTS))]
Moderator = Annotated[StaffMember, Depends(staff_page(*roles.MODERATION))]
KINDS: tuple[str, ...] = get_args(notices.BroadcastKind)
SHOWN = 20
"""Broadcasts listed with their figures (each counts its deliveries)."""


def _broadcasts(
    request: Request,
    platform: Platform,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with platform.transaction() as session:
        sizes = platform.push.segment_sizes(session)
        figures = platform.push.figures(session, limit=SHOWN)
    return render(
        request,
        "staff_broadcasts.html",
        status_code,
        segments=[(name, sizes[name]) for name in notices.SEGMENTS],
        kinds=KINDS,
        broadcasts=[
            {
                "id": f.broadcast.id,
                "title": f.broadcast.title,
                "text": f.broadcast.body,
                "segment": f.broadcast.segment,
                "kind": f.broadcast.kind,
                "at": local_time(f.broadcast.created_at),
                "recipients": f.broadcast.recipients,
                "skipped": f.skipped,
                "pending": f.pending,
                "failed": f.failed,
                "sent": f.sent,
                "delivered": f.delivered,
                "read": f.read,
            }
            for f in figures
        ],
        form=context.pop("form", {}),
        # a fresh id per page: a form sent twice broadcasts once
        client_id=uuid.uuid4().hex,
        **context,
    )


@router.get("/broadcasts")
def broadcasts(
    request: Request, platform: PlatformDep, staff: Broadcaster, sent: str = ""
) -> Response:
    """Compose a notice for a segment (with each segment's size now), and the latest
    broadcasts with their figures: sent, delivered and read."""
    return _broadcasts(request, platform, notice="broadcast_sent" if sent else None)


@router.post("/broadcasts")
def broadcast(
    request: Request,
    platform: PlatformDep,
    staff: Broadcaster,
    client_id: Annotated[str, Form(max_length=100)] = "",
    segment: Annotated[str, Form(max_length=20)] = "",
    kind: Annotated[str, Form(max_length=20)] = "",
    title: Annotated[str, Form(max_length=100)] = "",
    text: Annotated[str, Form(max_length=2000)] = "",
    csrf: Csrf = "",
) -> Response:
    """Send the notice to every customer of the segment (delivered within seconds by
    the push job, except to those who switched its kind off)."""
    check_csrf(request, csrf)
    form = {"segment": segment, "kind": kind, "title": title, "text": text}
    try:
        for field, ok in (
            ("segment", segment in notices.SEGMENTS),
            ("kind", kind in KINDS),
            ("title", bool(title.strip())),
            ("text", bool(text.strip())),
            ("client_id", bool(client_id.strip())),
        ):
            if not ok:
                raise FormFieldInvalid(field=field)
        with platform.audited(
            actor_kind="staff",
            actor_id=staff[0].id,
            action="chat.broadcast",
            target=segment,
            details={"client_id": client_id, "kind": kind, "channel": "console"},
        ) as session:
            sent, _ = platform.push.broadcast(
                session,
                staff_id=staff[0].id,
                client_id=client_id,
                segment=segment,
                kind=kind,
                title=title,
                body=text,
            )
    except DomainError as error:
        return _broadcasts(request, platform, 422, form=form, error=refusal(request, error))
    return see_other(f"/staff/broadcasts?sent={sent.id}")


# -- moderation ------------------------------------------------------------------------


def _reports(
    request: Request,
    platform: Platform,
    *,
    every: bool,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with platform.transaction() as session:
        reports = platform.chat.reports(session, open_only=not every)
        names = platform.accounts.customer_names(session, [r["reporter_id"] for r in reports])
    return render(
        request,
        "staff_moderation.html",
        status_code,
        every=every,
        reports=[
            {
                "id": r["id"],
                "conversation_id": r["conversation_id"],
                "seq": r["seq"],
                "reporter": names.get(r["reporter_id"], ""),
                "reason": r["reason"],
                "at": local_time(r["at"]),
                "sender_kind": r["sender_kind"],
                "body": r["body"],
                "outcome": r["outcome"],
            }
            for r in reports
        ],
        **context,
    )


@router.get("/moderation")
def moderation(
    request: Request, platform: PlatformDep, staff: Moderator, every: bool = False, done: str = ""
) -> Response:
    """Reported messages no moderator has acted on (``every``: all of them), each with
    its text as stored, to hide (with a reason) or to dismiss."""
    notice = {"hidden": "message_hidden", "dismissed": "report_dismissed_notice"}.get(done)
    return _reports(request, platform, every=every, notice=notice)


@router.post("/moderation/{conversation_id}/{seq}/hide")
def hide(
    conversation_id: IdParam,
    seq: CountParam,
    request: Request,
    platform: PlatformDep,
    staff: Moderator,
    reason: Reason = "",
    csrf: Csrf = "",
) -> Response:
    """Hide the message from everyone; its content is kept for the record, and its
    reports are closed."""
    check_csrf(request, csrf)
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=staff[0].id,
            action="chat.hide",
            target=f"conversation {conversation_id} #{seq}",
            details={"reason": reason, "channel": "console"},
        ) as session:
            platform.chat.hide(
                session,
                staff_id=staff[0].id,
                conversation_id=conversation_id,
                seq=seq,
                reason=reason,
            )
    except DomainError as error:
        return _reports(
            request, platform, every=False, status_code=422, error=refusal(request, error)
        )
    return see_other("/staff/moderation?done=hidden")


@router.post("/moderation/reports/{report_id}/dismiss")
def dismiss(
    report_id: IdParam, request: Request, platform: PlatformDep, staff: Moderator, csrf: Csrf = ""
) -> Response:
    """Nothing wrong with the message: its reports are closed, the message stays."""
    check_csrf(request, csrf)
    try:
        with platform.audited(
            actor_kind="staff",
            actor_id=staff[0].id,
            action="chat.report.dismiss",
            target=str(report_id),
            details={"channel": "console"},
        ) as session:
            platform.chat.dismiss_report(session, staff_id=staff[0].id, report_id=report_id)
    except DomainError as error:
        return _reports(
            request, platform, every=False, status_code=422, error=refusal(request, error)
        )
    return see_other("/staff/moderation?done=dismissed")
