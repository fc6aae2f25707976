"""Images and files in 融e联 messages.

One upload is one message: :meth:`AttachmentService.send` inspects the content
(:mod:`rongbank.chat.media`), appends a message of kind ``image`` or ``file`` whose
body is the JSON described by :class:`rongbank.chat.schemas.ImageBody` /
:class:`~rongbank.chat.schemas.FileBody` (so the hash chain covers the content's
SHA-256), and stores the content beside it in ``chat_attachment``, keyed by the
message. The same checks as a text message apply (membership, read-only channels
and notice boxes, blocks, the send rate, idempotency by client id), and a caption
is masked like any text.

Whoever can see the message can download its content: members of the
conversation, not after the sender recalled it (except the sender) or a moderator
hid it. Nothing is ever read from or written to a path the sender named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.chat import rules
from rongbank.chat.errors import AttachmentNotFound, MessageNotFound
from rongbank.chat.media import Inspected, Limits, inspect
from rongbank.chat.records import Message
from rongbank.chat.sending import Sent
from rongbank.chat.service import ChatService, Member
from rongbank.errors import DomainError

MAX_CAPTION = 500


@dataclass(frozen=True, slots=True)
class Download:
    name: str
    content_type: str
    content: bytes


class AttachmentService:
    def __init__(self, chat: ChatService, limits: Limits | None = None) -> None:
        self.chat = chat
        self.limits = limits or Limits()

    def send(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        client_id: str,
        name: str,
        data: bytes,
        caption: str = "",
        reply_to: int | None = None,
    ) -> Sent:
        """Send ``data`` as an image or a file, once per ``client_id`` (a resend
        returns the original message and stores nothing)."""
        chat = self.chat
        # Inspected (re-encoding an image, walking a PDF) before the conversation's
        # row is locked, so that no other sender waits on it; a refusal is raised
        # only after the checks of every message, and a resend is answered as one.
        inspected: Inspected | DomainError
        try:
            inspected = inspect(data, name=name, limits=self.limits)
        except DomainError as refusal:
            inspected = refusal
        conversation = chat.admit(
            session,
            member,
            conversation_id=conversation_id,
            client_id=client_id,
            kind="attachment",
            reply_to=reply_to,
        )
        if isinstance(conversation, Message):
            return Sent(conversation.seen_by(member), created=False, masked=conversation.masked)
        if isinstance(inspected, DomainError):
            raise inspected  # rolled back with the transaction: the send token too
        masked = rules.mask_sensitive(caption.strip()[:MAX_CAPTION])
        message = chat.append(
            session,
            conversation,
            sender=member,
            client_id=client_id,
            kind=inspected.kind,
            body=_body(inspected, masked.text),
            reply_to=reply_to,
            masked=masked.found,
        )
        self._store(session, conversation_id, message.seq, inspected)
        if conversation.kind == "bank":
            chat.desk.message_added(session, conversation, message)
        return Sent(message, created=True, masked=masked.found)

    def _store(self, session: Session, conversation_id: int, seq: int, item: Inspected) -> None:
        session.execute(
            text(
                "INSERT INTO chat_attachment (conversation_id, seq, kind, content_type, name, "
                "size, sha256, width, height, content, thumbnail, thumbnail_type, created_at) "
                "VALUES (:c, :s, :k, :ct, :n, :size, :sha, :w, :h, :content, :thumb, :tt, :at)"
            ),
            {
                "c": conversation_id,
                "s": seq,
                "k": item.kind,
                "ct": item.content_type,
                "n": item.name,
                "size": item.size,
                "sha": item.sha256,
                "w": item.width,
                "h": item.height,
                "content": item.content,
                "thumb": item.thumbnail,
                "tt": item.thumbnail_type,
                "at": self.chat.clock.now(),
            },
        )

    def download(
        self,
        session: Session,
        member: Member,
        *,
        conversation_id: int,
        seq: int,
        thumbnail: bool = False,
    ) -> Download:
        """The content of an image or file message the member can see (the
        thumbnail of an image with ``thumbnail``)."""
        self.chat.membership(session, member, conversation_id)
        try:
            message = self.chat.message(session, conversation_id, seq).seen_by(member)
        except MessageNotFound:
            raise AttachmentNotFound() from None
        if message.kind not in ("image", "file") or not message.body:
            raise AttachmentNotFound()  # recalled (to others) or hidden: the body is gone
        row = session.execute(
            text(
                "SELECT name, content_type, content, thumbnail_type, thumbnail "
                "FROM chat_attachment WHERE conversation_id = :c AND seq = :s"
            ),
            {"c": conversation_id, "s": seq},
        ).first()
        if row is None or (thumbnail and row[4] is None):
            raise AttachmentNotFound()
        if thumbnail:
            return Download(f"thumbnail-{row[0]}", str(row[3]), bytes(row[4]))
        return Download(str(row[0]), str(row[1]), bytes(row[2]))


def _body(item: Inspected, caption: str) -> str:
    """The message body: what :class:`rongbank.chat.schemas.ImageBody` and
    ``FileBody`` describe."""
    body: dict[str, object] = {
        "name": item.name,
        "content_type": item.content_type,
        "size": item.size,
        "sha256": item.sha256.hex(),
        "caption": caption,
    }
    if item.kind == "image":
        body |= {"width": item.width, "height": item.height}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
