"""Images and files in messages, over HTTP: upload by members, download by members,
content decided by the bank, stored and served safely."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rongbank.accounts.rules import luhn_check_digit
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
        assert upload(chat, operations, channel, samples.PDF, "a.pdf", "o").status_code == 201
        assert download(chat, alice, channel, 1).status_code == 200
        with platform.transaction() as session:
            box = platform.push.notice_box(session, alice["customer_id"]).id
        refused = upload(chat, alice, box, samples.PDF, "a.pdf", "y")
        assert refused.json()["error"]["code"] == "chat_channel_read_only"
        assert chat.send(alice, box, "hi", "z").json()["error"]["code"] == (
            "chat_channel_read_only"
        )


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
