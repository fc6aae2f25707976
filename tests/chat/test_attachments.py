"""Images and files in messages, over HTTP: upload by members, download by members,
content decided by the bank, stored and served safely."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rongbank.accounts.rules import luhn_check_digit
from rongbank.chat.attachment_endpoints import FORM_ALLOWANCE
from rongbank.chat.media import Limits
from rongbank.chat.schemas import FileBody, ImageBody
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.chat import samples
from tests.chat.conftest import CHAT, STAFF_CHAT, Chat


def upload(
    chat: Chat,
    who: dict[str, Any],
    conversation_id: int,
    content: bytes,
    name: str,
    client_id: str,
    *,
    declared: str = "application/octet-stream",
    **fields: Any,
) -> Any:
    base = STAFF_CHAT if "customer_id" not in who else CHAT
    return chat.client.post(
        f"{base}/conversations/{conversation_id}/attachments",
        headers=who["headers"],
        files={"file": (name, content, declared)},
        data={"client_id": client_id, **fields},
    )


def download(chat: Chat, who: dict[str, Any], conversation_id: int, seq: int, **params: Any) -> Any:
    base = STAFF_CHAT if "customer_id" not in who else CHAT
    return chat.client.get(
        f"{base}/conversations/{conversation_id}/messages/{seq}/attachment",
        headers=who["headers"],
        params=params,
    )


class TestSending:
    def test_a_photo_arrives_as_an_image_message_without_its_exif(self, chat: Chat) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        sent = upload(
            chat, alice, conversation, samples.jpeg_with_exif(), "IMG_1.JPG", "p1",
            caption="收据", declared="text/html",
        )  # fmt: skip
        assert sent.status_code == 201, sent.text
        message = chat.history(bob, conversation)[0]
        assert message["kind"] == "image"
        body = json.loads(message["body"])
        ImageBody.model_validate(body)  # the shape the pages are promised
        assert body["content_type"] == "image/jpeg"
        assert body["caption"] == "收据"
        assert (body["width"], body["height"], body["name"]) == (600, 800, "IMG_1.JPG")

        got = download(chat, bob, conversation, message["seq"])
        assert got.status_code == 200
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["content-disposition"].startswith('attachment; filename="IMG_1.JPG"')
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "no-store" in got.headers["cache-control"]
        assert hashlib.sha256(got.content).hexdigest() == body["sha256"]
        assert body["size"] == len(got.content)
        assert dict(Image.open(io.BytesIO(got.content)).getexif()) == {}

        thumb = download(chat, bob, conversation, message["seq"], thumbnail="true")
        assert thumb.status_code == 200
        assert thumb.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320

    def test_a_file_is_typed_by_its_content_not_its_name(self, chat: Chat) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        sent = upload(chat, alice, conversation, samples.PDF, "../账单.png", "f1",
                      declared="image/png")  # fmt: skip
        assert sent.status_code == 201, sent.text
        assert sent.json()["message"]["kind"] == "file"
        FileBody.model_validate_json(sent.json()["message"]["body"])
        got = download(chat, bob, conversation, 1)
        assert got.headers["content-type"] == "application/pdf"
        assert "filename*=UTF-8''%E8%B4%A6%E5%8D%95.png.pdf" in got.headers["content-disposition"]
        assert got.content == samples.PDF

    def test_a_pdf_that_opens_without_a_password_is_kept_encrypted_as_sent(
        self, chat: Chat
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        statement = samples.encrypted_pdf(algorithm="AES-128")
        sent = upload(chat, alice, conversation, statement, "对账单.pdf", "enc")
        assert sent.status_code == 201, sent.text
        got = download(chat, bob, conversation, 1)
        assert got.headers["content-type"] == "application/pdf"
        assert got.content == statement
        assert PdfReader(io.BytesIO(got.content)).is_encrypted

    @pytest.mark.parametrize(
        ("content", "name", "code", "status"),
        [
            (samples.EXE, "invoice.pdf", "chat_attachment_type_refused", 415),
            (samples.HTML, "page.html", "chat_attachment_type_refused", 415),
            (samples.SVG, "logo.svg", "chat_attachment_type_refused", 415),
            (b"", "empty.txt", "chat_attachment_empty", 422),
        ],
    )
    def test_refused_uploads_write_nothing(
        self, chat: Chat, content: bytes, name: str, code: str, status: int
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        refused = upload(chat, alice, conversation, content, name, "x")
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, code)
        assert chat.history(bob, conversation) == []

    def test_the_size_limits_come_from_the_settings(self, chat: Chat, platform: Platform) -> None:
        platform.attachments.limits = Limits(image_max_bytes=500, file_max_bytes=100)
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        too_big = upload(chat, alice, conversation, b"x" * 501, "a.txt", "big")
        assert too_big.status_code == 413
        assert too_big.json()["error"]["details"]["max_bytes"] == 500
        file_too_big = upload(chat, alice, conversation, b"x" * 101, "a.txt", "big2")
        assert file_too_big.json()["error"]["details"]["max_bytes"] == 100
        assert upload(chat, alice, conversation, b"x" * 100, "a.txt", "ok").status_code == 201

    def test_gb18030_text_is_kept_as_sent_and_served_with_its_charset(self, chat: Chat) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        note = "三月账单 合计 120 元\n客户：张三 𠀀\n"
        sent = upload(chat, alice, conversation, note.encode("gb18030"), "账单.txt", "t",
                      declared="text/plain; charset=utf-8")  # fmt: skip
        assert sent.status_code == 201, sent.text
        assert json.loads(sent.json()["message"]["body"])["content_type"] == (
            "text/plain; charset=gb18030"
        )
        got = download(chat, bob, conversation, 1)
        assert got.headers["content-type"] == "text/plain; charset=gb18030"
        assert got.content == note.encode("gb18030")
        assert got.text == note  # what a browser shows, going by the header

    def test_a_pdf_with_javascript_is_refused_and_nothing_is_stored(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        for client_id, content in (
            ("js", samples.pdf_with_open_javascript()),
            (
                "hex",
                samples.raw_pdf(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"),
            ),
            ("enc", samples.encrypted_pdf(user_password="123456")),
            ("enc-js", samples.encrypted_pdf(javascript=True)),
        ):
            refused = upload(chat, alice, conversation, content, "账单.pdf", client_id)
            assert (refused.status_code, refused.json()["error"]["code"]) == (
                415,
                "chat_attachment_type_refused",
            ), client_id
            assert "PDF" in refused.json()["error"]["message"]
        assert chat.history(bob, conversation) == []
        assert stored(platform, conversation) == 0
        assert upload(chat, alice, conversation, samples.PDF, "账单.pdf", "ok").status_code == 201

    def test_a_resend_returns_the_original_and_stores_nothing_more(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        first = upload(chat, alice, conversation, samples.PDF, "a.pdf", "same")
        again = upload(chat, alice, conversation, samples.webp(), "b.webp", "same")
        assert first.json()["created"]
        assert not again.json()["created"]
        assert again.json()["message"] == first.json()["message"]
        # Answered as a resend whatever its content: it is not sent again.
        refusable = upload(chat, alice, conversation, samples.EXE, "a.exe", "same")
        assert refusable.status_code == 201
        assert refusable.json()["message"] == first.json()["message"]
        with platform.transaction() as session:
            stored = session.execute(
                text("SELECT count(*) FROM chat_attachment WHERE conversation_id = :c"),
                {"c": conversation},
            ).scalar_one()
        assert stored == 1

    def test_a_caption_is_masked_like_any_text(self, chat: Chat) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        card = "622202020011223344" + luhn_check_digit("622202020011223344")
        sent = upload(chat, alice, conversation, samples.webp(), "a.webp", "c",
                      caption=f"卡号 {card}")  # fmt: skip
        assert sent.json()["warnings"] == ["card_number"]
        assert card not in chat.history(bob, conversation)[0]["body"]

    def test_no_upload_into_a_notice_box_or_by_a_subscriber_into_a_channel(
        self, chat: Chat, platform: Platform
    ) -> None:
        alice = chat.customer()
        operations = chat.staff_member("ops", role="operations")
        channel = chat.client.post(
            f"{STAFF_CHAT}/channels", headers=operations["headers"], json={"title": "公告"}
        ).json()["id"]
        chat.client.put(f"{CHAT}/channels/{channel}/subscription", headers=alice["headers"])
        refused = upload(chat, alice, channel, samples.PDF, "a.pdf", "x")
        assert refused.json()["error"]["code"] == "chat_channel_read_only"
        refused = upload(chat, alice, channel, samples.EXE, "a.exe", "x")  # the rule comes first
        assert refused.json()["error"]["code"] == "chat_channel_read_only"
        assert upload(chat, operations, channel, samples.PDF, "a.pdf", "o").status_code == 201
        assert download(chat, alice, channel, 1).status_code == 200
        with platform.transaction() as session:
            box = platform.push.notice_box(session, alice["customer_id"]).id
        refused = upload(chat, alice, box, samples.PDF, "a.pdf", "y")
        assert refused.json()["error"]["code"] == "chat_channel_read_only"
        assert chat.send(alice, box, "hi", "z").json()["error"]["code"] == (
            "chat_channel_read_only"
        )


def stored(platform: Platform, conversation_id: int) -> int:
    with platform.transaction() as session:
        count: int = session.execute(
            text("SELECT count(*) FROM chat_attachment WHERE conversation_id = :c"),
            {"c": conversation_id},
        ).scalar_one()
    return count


BOUNDARY = "rongbank-test-boundary"


def raw_upload(
    chat: Chat,
    who: dict[str, Any],
    conversation_id: int,
    body: Iterator[bytes],
    *,
    content_length: int | None,
) -> tuple[int, dict[str, Any], int]:
    """Upload by calling the application itself, one body chunk at a time as a
    server hands them over: (status, JSON answer, body bytes the application took).
    The test client would read the whole body first, which is what is tested here."""
    taken = 0
    headers = [
        (b"host", b"testserver"),
        (b"authorization", who["headers"]["Authorization"].encode()),
        (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
    ]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    path = f"{CHAT}/conversations/{conversation_id}/attachments"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    answer: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal taken
        chunk = next(body, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        answer.append(message)

    async def call() -> None:
        await chat.client.app(scope, receive, send)

    assert chat.client.portal is not None
    chat.client.portal.call(call)
    status = answer[0]["status"]
    content = b"".join(m.get("body", b"") for m in answer[1:])
    return status, json.loads(content), taken


def multipart_file(size: int, chunk: int = 4096) -> list[bytes]:
    """A multipart body with a client id and a file of ``size`` bytes, in chunks."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="client_id"\r\n\r\nbig\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    content = [b"x" * min(chunk, size - at) for at in range(0, size, chunk)]
    return [head, *content, f"\r\n--{BOUNDARY}--\r\n".encode()]


class TestOversizeUploads:
    """Refused before the form is parsed, so no more than the limit is ever read."""

    LIMITS = Limits(image_max_bytes=2000, file_max_bytes=1000)
    CAP = 2000 + FORM_ALLOWANCE
    """The most a body may be: the largest attachment and room for the form."""

    def test_a_declared_length_over_the_limit_is_refused_unread(
        self, chat: Chat, platform: Platform
    ) -> None:
        platform.attachments.limits = self.LIMITS
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        body = multipart_file(4 * self.CAP)
        length = sum(map(len, body))
        status, answer, taken = raw_upload(
            chat, alice, conversation, iter(body), content_length=length
        )
        assert (status, answer["error"]["code"]) == (413, "chat_attachment_too_large")
        assert answer["error"]["details"]["max_bytes"] == 2000
        assert taken == 0
        assert chat.history(bob, conversation) == []
        assert stored(platform, conversation) == 0

    def test_a_body_without_a_length_is_cut_off_at_the_limit(
        self, chat: Chat, platform: Platform
    ) -> None:
        platform.attachments.limits = self.LIMITS
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        chunk = 4096
        status, answer, taken = raw_upload(
            chat, alice, conversation, iter(multipart_file(4 * self.CAP, chunk)),
            content_length=None,
        )  # fmt: skip
        assert (status, answer["error"]["code"]) == (413, "chat_attachment_too_large")
        assert answer["error"]["details"]["max_bytes"] == 2000
        assert self.CAP < taken <= self.CAP + chunk  # the chunk that crossed it was the last
        assert chat.history(bob, conversation) == []
        assert stored(platform, conversation) == 0

    def test_a_body_within_the_cap_is_parsed_and_its_file_checked_as_before(
        self, chat: Chat, platform: Platform
    ) -> None:
        platform.attachments.limits = self.LIMITS
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        for size, length in ((2001, None), (2001, "declared")):
            body = multipart_file(size)
            status, answer, taken = raw_upload(
                chat, alice, conversation, iter(body),
                content_length=sum(map(len, body)) if length else None,
            )  # fmt: skip
            assert (status, answer["error"]["code"]) == (413, "chat_attachment_too_large")
            assert taken == sum(map(len, body))  # read whole, then refused by the file's size
        status, answer, _ = raw_upload(
            chat, alice, conversation, iter(multipart_file(1000)), content_length=None
        )
        assert status == 201, answer
        assert stored(platform, conversation) == 1

    def test_the_declared_length_counts_through_the_test_client_too(
        self, chat: Chat, platform: Platform
    ) -> None:
        platform.attachments.limits = self.LIMITS
        alice, bob = chat.customer(), chat.customer("李雷")
        conversation = chat.direct(alice, bob)
        too_big = upload(chat, alice, conversation, b"x" * (3 * FORM_ALLOWANCE), "a.txt", "big")
        assert too_big.status_code == 413
        assert too_big.json()["error"]["code"] == "chat_attachment_too_large"
        assert stored(platform, conversation) == 0


class TestWhoMayDownload:
    def test_only_members_and_no_one_once_it_is_recalled_but_the_sender(
        self, chat: Chat, clock: FrozenClock
    ) -> None:
        alice, bob, eve = chat.customer(), chat.customer("李雷"), chat.customer("韩梅梅")
        conversation = chat.direct(alice, bob)
        upload(chat, alice, conversation, samples.PDF, "a.pdf", "f")
        assert download(chat, eve, conversation, 1).status_code == 404
        assert download(chat, bob, conversation, 1).status_code == 200
        clock.advance(timedelta(seconds=30))
        recalled = chat.client.post(
            f"{CHAT}/conversations/{conversation}/messages/1/recall", headers=alice["headers"]
        )
        assert recalled.status_code == 200
        gone = download(chat, bob, conversation, 1)
        assert gone.json()["error"]["code"] == "chat_attachment_not_found"
        assert download(chat, alice, conversation, 1).status_code == 200

    def test_a_hidden_image_is_gone_for_everyone_and_a_text_has_no_attachment(
        self, chat: Chat
    ) -> None:
        alice, bob = chat.customer(), chat.customer("李雷")
        moderator = chat.staff_member("mod", role="operations")
        conversation = chat.direct(alice, bob)
        upload(chat, alice, conversation, samples.webp(), "a.webp", "i")
        chat.send(alice, conversation, "hello", "t")
        assert download(chat, bob, conversation, 2).status_code == 404
        hidden = chat.client.post(
            f"{STAFF_CHAT}/conversations/{conversation}/messages/1/hide",
            headers=moderator["headers"],
            json={"reason": "不当内容"},
        )
        assert hidden.status_code == 200, hidden.text
        for who in (alice, bob):
            assert download(chat, who, conversation, 1).status_code == 404

    def test_staff_serving_a_bank_chat_exchange_files_with_the_customer(
        self, chat: Chat, platform: Platform
    ) -> None:
        manager = chat.staff_member("mgr")
        alice = chat.customer()
        with platform.transaction() as session:
            platform.accounts.reassign_manager(
                session, customer_id=alice["customer_id"], manager_id=manager["id"]
            )
        conversation = chat.client.post(
            f"{CHAT}/conversations/bank", headers=alice["headers"]
        ).json()["id"]
        sent = upload(chat, alice, conversation, samples.docx(), "申请表.docx", "d")
        assert sent.status_code == 201, sent.text
        got = download(chat, manager, conversation, sent.json()["message"]["seq"])
        assert got.status_code == 200, got.text
        assert "wordprocessingml" in got.headers["content-type"]


def test_stored_attachments_cannot_be_changed_or_deleted(chat: Chat, platform: Platform) -> None:
    alice, bob = chat.customer(), chat.customer("李雷")
    conversation = chat.direct(alice, bob)
    upload(chat, alice, conversation, samples.PDF, "a.pdf", "f")
    for statement in (
        "UPDATE chat_attachment SET content = 'x' WHERE conversation_id = :c",
        "DELETE FROM chat_attachment WHERE conversation_id = :c",
    ):
        with pytest.raises(DBAPIError, match="kept"), platform.transaction() as session:
            session.execute(text(statement), {"c": conversation})
