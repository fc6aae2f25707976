"""Images and files in 融e联 messages over HTTP: upload (multipart) into a
conversation, download by its members.

An upload larger than any attachment may be is refused before its form is parsed
(:class:`CappedUploadRoute`): by its Content-Length when it has one, without reading
the body, and otherwise once more than that has arrived, so no more than the limit
is ever read or spooled. What it is, is decided by its content
(:mod:`rongbank.chat.media`). A download always comes as an attachment with a safe
name and ``nosniff``, so a browser neither runs nor guesses it, and is not cached on
the device.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from starlette.types import Message

from rongbank.api.deps import CustomerPrincipal, PlatformDep, platform_of
from rongbank.api.docs import file_answer
from rongbank.api.one_hop import OneHopRoute
from rongbank.chat import schemas as s
from rongbank.chat.attachments import Download
from rongbank.chat.endpoints import ChatStaff, sent_out
from rongbank.chat.errors import AttachmentTooLarge
from rongbank.chat.media import content_disposition
from rongbank.chat.service import Member
from rongbank.inputs import CountParam, IdParam, Text
from rongbank.platform import Platform

FORM_ALLOWANCE = 64 * 1024
"""Bytes a multipart upload may have beyond the file: boundaries, part headers with
the file name, the client id, caption (at most 500 characters) and reply_to."""


class _BodyOverLimit(Exception):
    pass


class CappedUploadRoute(OneHopRoute):
    """A route whose request body may be at most the largest attachment plus
    :data:`FORM_ALLOWANCE`, refused with ``chat_attachment_too_large`` (413).

    FastAPI reads and spools a whole multipart form before the endpoint runs, and
    Starlette's form limits do not bound a file part, so the cap is applied here,
    below the form parser: the limit comes from the settings at request time."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def capped(request: Request) -> Response:
            limit = platform_of(request).attachments.limits.max_bytes
            cap = limit + FORM_ALLOWANCE
            declared = request.headers.get("content-length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > cap:
                raise AttachmentTooLarge(max_bytes=limit)  # before reading any of it
            received = 0

            async def receive() -> Message:
                nonlocal received
                message = await request.receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > cap:
                        raise _BodyOverLimit()
                return message

            try:
                return await handler(Request(request.scope, receive))
            except Exception:
                # FastAPI turns any failure while parsing the form into a 400.
                if received > cap:
                    raise AttachmentTooLarge(max_bytes=limit) from None
                raise

        return capped


customer = APIRouter(tags=["e-Link chat"], prefix="/me/chat", route_class=CappedUploadRoute)
staff = APIRouter(tags=["e-Link chat (staff)"], prefix="/staff/chat", route_class=CappedUploadRoute)


class AttachmentIn(BaseModel):
    """An upload's form (``multipart/form-data``): the input guard does not read
    multipart bodies, so its text fields are :data:`~rongbank.inputs.Text`."""

    file: UploadFile = Field(description="The image or file; its type is read from it.")
    client_id: Annotated[Text, Field(min_length=1, max_length=100)] = Field(
        description="Unique per message, as for text."
    )
    caption: Annotated[Text, Field(max_length=500)] = ""
    reply_to: IdParam | None = None


Upload = Annotated[AttachmentIn, Form(media_type="multipart/form-data")]
Thumbnail = Annotated[bool, Query(description="The image's preview instead (images only).")]


def _read(upload: UploadFile, limit: int) -> bytes:
    """At most ``limit`` bytes of the upload; refuse it when there is more."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise AttachmentTooLarge(max_bytes=limit)
    return data


def _upload(
    platform: Platform, member: Member, conversation_id: int, form: AttachmentIn
) -> s.SentOut:
    data = _read(form.file, platform.attachments.limits.max_bytes)
    with platform.transaction() as session:
        sent = platform.attachments.send(
            session,
            member,
            conversation_id=conversation_id,
            client_id=form.client_id,
            name=form.file.filename or "file",
            data=data,
            caption=form.caption,
            reply_to=form.reply_to,
        )
    return sent_out(sent)


def attachment_response(
    platform: Platform, member: Member, conversation_id: int, seq: int, thumbnail: bool = False
) -> Response:
    """The content of an image or file message as a download, for a member who can
    see the message (the API and the web pages serve it alike); refusals are
    :class:`~rongbank.errors.DomainError` s."""
    with platform.transaction() as session:
        found: Download = platform.attachments.download(
            session, member, conversation_id=conversation_id, seq=seq, thumbnail=thumbnail
        )
    return Response(
        found.content,
        media_type=found.content_type,
        headers={
            "Content-Disposition": content_disposition(found.name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Cross-Origin-Resource-Policy": "same-origin",
            # Opened on its own, it may run nothing and reach nothing.
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


_FILE_RESPONSES = file_answer("application/octet-stream", description="The content.")


@customer.post(
    "/conversations/{conversation_id}/attachments",
    status_code=201,
    form_limits={"max_files": 1, "max_fields": 8},  # the file and the three fields
)
def upload(
    conversation_id: IdParam,
    platform: PlatformDep,
    me: CustomerPrincipal,
    form: Upload,
) -> s.SentOut:
    """Send an image (JPEG, PNG, WebP, GIF: re-encoded without metadata, with a
    thumbnail) or a file (PDF, text, office documents without macros) as a message
    of kind ``image`` or ``file`` (body: ``ImageBody`` / ``FileBody`` as JSON)."""
    return _upload(platform, Member.of(me), conversation_id, form)


@customer.get(
    "/conversations/{conversation_id}/messages/{seq}/attachment",
    response_class=Response,
    responses=_FILE_RESPONSES,
)
def download(
    conversation_id: IdParam,
    seq: CountParam,
    platform: PlatformDep,
    me: CustomerPrincipal,
    thumbnail: Thumbnail = False,
) -> Response:
    return attachment_response(platform, Member.of(me), conversation_id, seq, thumbnail)


@staff.post(
    "/conversations/{conversation_id}/attachments",
    status_code=201,
    form_limits={"max_files": 1, "max_fields": 8},  # the file and the three fields
)
def staff_upload(
    conversation_id: IdParam,
    platform: PlatformDep,
    me: ChatStaff,
    form: Upload,
) -> s.SentOut:
    return _upload(platform, Member.of(me), conversation_id, form)


@staff.get(
    "/conversations/{conversation_id}/messages/{seq}/attachment",
    response_class=Response,
    responses=_FILE_RESPONSES,
)
def staff_download(
    conversation_id: IdParam,
    seq: CountParam,
    platform: PlatformDep,
    me: ChatStaff,
    thumbnail: Thumbnail = False,
) -> Response:
    return attachment_response(platform, Member.of(me), conversation_id, seq, thumbnail)
