"""What may be sent as an image or a file, decided by content (pure rules)."""

from __future__ import annotations

import hashlib
import io
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from rongbank.chat.errors import (
    AttachmentEmpty,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    ImageTooLarge,
)
from rongbank.chat.media import (
    Limits,
    content_disposition,
    inspect,
    limits_from,
    safe_name,
    text_charset,
)
from tests.chat import samples

LIMITS = Limits()


def opened(content: bytes) -> Any:
    return Image.open(io.BytesIO(content))


class TestImages:
    def test_a_photo_loses_its_exif_and_is_turned_upright(self) -> None:
        photo = samples.jpeg_with_exif((800, 600), orientation=6)
        assert opened(photo).getexif()[samples.MAKE] == "PhoneMaker"
        stored = inspect(photo, name="IMG_0001.JPG", limits=LIMITS)
        assert (stored.kind, stored.content_type) == ("image", "image/jpeg")
        image = opened(stored.content)
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info
        assert "comment" not in image.info
        assert b"PhoneMaker" not in stored.content
        # Orientation 6 means "rotate 90°": stored upright, so width and height swap.
        assert (stored.width, stored.height) == (600, 800) == image.size

    def test_png_text_chunks_are_dropped_and_transparency_kept(self) -> None:
        stored = inspect(samples.png_with_text(), name="scan.png", limits=LIMITS)
        image = opened(stored.content)
        assert "Author" not in image.info
        assert b"13900000001" not in stored.content
        assert image.mode == "RGBA"
        assert stored.thumbnail_type == "image/png"

    def test_an_animation_keeps_its_frames_but_not_its_comment(self) -> None:
        stored = inspect(samples.gif_animation(3), name="wave.gif", limits=LIMITS)
        image = opened(stored.content)
        assert (image.format, image.n_frames) == ("GIF", 3)
        assert "comment" not in image.info

    def test_webp_is_accepted(self) -> None:
        stored = inspect(samples.webp(), name="sticker", limits=LIMITS)
        assert (stored.content_type, stored.name) == ("image/webp", "sticker.webp")

    def test_the_thumbnail_fits_the_box_and_the_hash_is_of_what_is_stored(self) -> None:
        stored = inspect(samples.jpeg_with_exif((2000, 1000), orientation=1), name="a.jpg",
                         limits=LIMITS)  # fmt: skip
        assert stored.thumbnail is not None
        assert max(opened(stored.thumbnail).size) == 320
        assert stored.sha256 == hashlib.sha256(stored.content).digest()
        assert stored.size == len(stored.content)

    def test_an_image_with_too_many_pixels_is_refused_before_decoding(self) -> None:
        photo = samples.jpeg_with_exif((400, 300))
        with pytest.raises(ImageTooLarge):
            inspect(photo, name="a.jpg", limits=Limits(image_max_pixels=400 * 300 - 1))
        animation = samples.gif_animation(4)
        with pytest.raises(ImageTooLarge):  # every frame counts
            inspect(animation, name="a.gif", limits=Limits(image_max_pixels=40 * 30 * 3))

    def test_an_image_over_the_size_limit_is_refused(self) -> None:
        photo = samples.jpeg_with_exif()
        with pytest.raises(AttachmentTooLarge) as refused:
            inspect(photo, name="a.jpg", limits=Limits(image_max_bytes=len(photo) - 1))
        assert refused.value.details["max_bytes"] == len(photo) - 1

    def test_a_truncated_image_is_refused(self) -> None:
        photo = samples.jpeg_with_exif()
        with pytest.raises(AttachmentTypeRefused):
            inspect(photo[: len(photo) // 2], name="a.jpg", limits=LIMITS)

    def test_other_image_formats_are_refused(self) -> None:
        with pytest.raises(AttachmentTypeRefused):
            inspect(samples.bmp(), name="a.bmp", limits=LIMITS)


class TestFiles:
    @pytest.mark.parametrize(
        ("content", "name", "content_type", "shown"),
        [
            (samples.PDF, "statement.pdf", "application/pdf", "statement.pdf"),
            (samples.docx(), "合同.docx", "wordprocessingml.document", "合同.docx"),
            (samples.xlsx(), "book.xlsx", "spreadsheetml.sheet", "book.xlsx"),
            (samples.odt(), "letter.odt", "opendocument.text", "letter.odt"),
            ("你好，世界\n".encode(), "note.txt", "text/plain; charset=utf-8", "note.txt"),
            (b"a,b\n1,2\n", "data.csv", "text/csv; charset=utf-8", "data.csv"),
            # The content decides, whatever the name says.
            (samples.PDF, "photo.jpg", "application/pdf", "photo.jpg.pdf"),
            (samples.docx(), "invoice.exe", "wordprocessingml.document", "invoice.exe.docx"),
        ],
    )
    def test_accepted_by_content(
        self, content: bytes, name: str, content_type: str, shown: str
    ) -> None:
        stored = inspect(content, name=name, limits=LIMITS)
        assert stored.kind == "file"
        assert content_type in stored.content_type
        assert stored.name == shown
        assert stored.content == content

    @pytest.mark.parametrize(
        ("content", "name"),
        [
            (samples.EXE, "setup.exe"),
            (samples.EXE, "statement.pdf"),
            (samples.HTML, "page.txt"),
            (samples.SVG, "logo.txt"),
            (samples.xlsx(macros=True), "book.xlsx"),
            (samples.OLE, "old.doc"),
            (samples.plain_zip(), "files.zip"),
            (b"\x00\x01\x02binary", "data.txt"),
        ],
    )
    def test_refused_by_content(self, content: bytes, name: str) -> None:
        with pytest.raises(AttachmentTypeRefused):
            inspect(content, name=name, limits=LIMITS)

    def test_only_the_configured_types_are_accepted(self) -> None:
        limits = limits_from(
            image_max_bytes=1000, file_max_bytes=1000, image_max_pixels=100, file_types="pdf"
        )
        assert inspect(samples.PDF, name="a.pdf", limits=limits).kind == "file"
        with pytest.raises(AttachmentTypeRefused):
            inspect(b"hello", name="a.txt", limits=limits)
        with pytest.raises(ValueError, match="exe"):
            limits_from(
                image_max_bytes=1, file_max_bytes=1, image_max_pixels=1, file_types="pdf,exe"
            )

    def test_empty_and_too_large_files_are_refused(self) -> None:
        with pytest.raises(AttachmentEmpty):
            inspect(b"", name="a.txt", limits=LIMITS)
        with pytest.raises(AttachmentTooLarge):
            inspect(samples.PDF, name="a.pdf", limits=Limits(file_max_bytes=len(samples.PDF) - 1))


GB_TEXT = "三月账单 合计 120 元\n客户：张三，金额：¥1,234.56，备注：𠀀€\n"
"""Chinese text with characters outside GBK too (GB18030's four-byte forms)."""


class TestText:
    @pytest.mark.parametrize(
        ("content", "name", "content_type"),
        [
            (GB_TEXT.encode("gb18030"), "账单.txt", "text/plain; charset=gb18030"),
            ("姓名,金额\n张三,120\n".encode("gbk"), "名单.csv", "text/csv; charset=gb18030"),
            (b"\x84\x31\x95\x33" + GB_TEXT.encode("gb18030"), "a.txt",
             "text/plain; charset=gb18030"),
            (GB_TEXT.encode(), "a.txt", "text/plain; charset=utf-8"),
            (b"\xef\xbb\xbf" + GB_TEXT.encode(), "a.txt", "text/plain; charset=utf-8"),
            (b"plain ASCII\tis UTF-8\r\n", "a.txt", "text/plain; charset=utf-8"),
        ],
    )  # fmt: skip
    def test_utf8_and_gb18030_text_is_kept_as_sent_and_served_with_its_charset(
        self, content: bytes, name: str, content_type: str
    ) -> None:
        stored = inspect(content, name=name, limits=LIMITS)
        assert (stored.kind, stored.content_type) == ("file", content_type)
        assert stored.content == content

    def test_gb18030_bytes_are_not_utf8_so_the_charset_is_not_a_guess_between_equals(
        self,
    ) -> None:
        content = GB_TEXT.encode("gb18030")
        assert text_charset(content) == "gb18030"
        assert content.decode("gb18030") == GB_TEXT
        with pytest.raises(UnicodeDecodeError):
            content.decode("utf-8")

    @pytest.mark.parametrize(
        "content",
        [
            GB_TEXT.encode("gb18030") + b"\x00\x00",  # NUL: binary, whatever else decodes
            GB_TEXT.encode("utf-16"),  # NULs all through
            "<html><body>你好</body></html>".encode("gb18030"),
            b"\x84\x31\x95\x33<script>alert(1)</script>",  # markup behind GB18030's BOM
            GB_TEXT.encode("gb18030") + b"\x81\x30",  # cut inside a four-byte character
            "控制\x1b[31m字符".encode("gb18030"),
            "C1\x85control".encode(),
        ],
    )
    def test_binary_markup_or_broken_text_is_refused(self, content: bytes) -> None:
        assert text_charset(content) is None
        with pytest.raises(AttachmentTypeRefused):
            inspect(content, name="a.txt", limits=LIMITS)


LAUNCH_LINK = (
    b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /Launch /F (cmd.exe) >> >>"
)
URI_LINK = (
    b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] "
    b"/A << /S /URI /URI (https://bank.example/) >> >>"
)


class TestPdf:
    @pytest.mark.parametrize(
        "content",
        [
            samples.PDF,
            samples.raw_pdf(),
            # Opening at a page and a link to a web page are not active content.
            samples.raw_pdf(b"/OpenAction [3 0 R /Fit]", b"/Annots [4 0 R]", URI_LINK),
            samples.pdf_with_compressed_action(b"<< /S /GoTo /D [3 0 R /Fit] >>"),
            # Encrypted only to restrict printing and copying: opens with no password.
            samples.encrypted_pdf(),
            samples.encrypted_pdf(algorithm="AES-128"),
            samples.encrypted_pdf(algorithm="AES-256"),
        ],
    )
    def test_a_pdf_without_active_content_is_accepted_as_sent(self, content: bytes) -> None:
        stored = inspect(content, name="statement.pdf", limits=LIMITS)
        assert (stored.content_type, stored.content) == ("application/pdf", content)

    def test_an_encrypted_pdf_is_looked_into(self) -> None:
        # Its objects are encrypted: the script is not there for a byte search, and
        # only decrypting finds it.
        for algorithm in ("RC4-128", "AES-256"):
            content = samples.encrypted_pdf(algorithm=algorithm, javascript=True)
            assert b"app.alert" not in content
            with pytest.raises(AttachmentTypeRefused):
                inspect(content, name="e-ticket.pdf", limits=LIMITS)

    @pytest.mark.parametrize(
        ("content", "hidden_from_a_byte_search"),
        [
            (samples.pdf_with_open_javascript(), False),
            (samples.raw_pdf(b"/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >>"), False),
            # The same with its names written in hex escapes.
            (samples.raw_pdf(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"),
             True),
            # ... or compressed in an object stream.
            (samples.pdf_with_compressed_action(b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"),
             True),
            (samples.raw_pdf(b"/Names << /JavaScript 4 0 R >>", b"",
                             b"<< /Names [(a) << /S /JavaScript /JS (x) >>] >>"), False),
            (samples.raw_pdf(b"", b"/AA << /O << /S /GoTo /D [3 0 R /Fit] >> >>"), False),
            (samples.raw_pdf(b"", b"/Annots [4 0 R]", LAUNCH_LINK), False),
            (samples.raw_pdf(b"/AcroForm << /Fields [] /XFA 4 0 R >>", b"", b"[]"), False),
            (samples.pdf_with_attachment(), False),
            # Not referred to by the document, but in the file for a viewer to find.
            (samples.raw_pdf(b"", b"", b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"), False),
        ],
    )  # fmt: skip
    def test_a_pdf_with_active_content_is_refused(
        self, content: bytes, hidden_from_a_byte_search: bool
    ) -> None:
        assert content.startswith(b"%PDF-")
        if hidden_from_a_byte_search:
            assert b"JavaScript" not in content
        with pytest.raises(AttachmentTypeRefused):
            inspect(content, name="statement.pdf", limits=LIMITS)

    @pytest.mark.parametrize(
        "content",
        [
            # Needs a password to open, so cannot be looked into.
            samples.encrypted_pdf(user_password="123456"),
            samples.encrypted_pdf(user_password="123456", algorithm="AES-256"),
            b"%PDF-1.4\n" + b"\x00garbage" * 10,
            # No page tree.
            b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
            samples.PDF[: len(samples.PDF) // 3],
        ],
    )
    def test_a_pdf_that_cannot_be_checked_is_refused(self, content: bytes) -> None:
        with pytest.raises(AttachmentTypeRefused):
            inspect(content, name="a.pdf", limits=LIMITS)


class TestNames:
    @given(st.text(max_size=300), st.sampled_from([".pdf", ".jpg", ".txt"]))
    def test_a_shown_name_is_never_a_path_and_ends_in_the_contents_extension(
        self, name: str, extension: str
    ) -> None:
        shown = safe_name(name, extension)
        assert shown.lower().endswith(extension) or shown.lower().endswith(".jpeg")
        assert not set('/\\"<>:|?*;') & set(shown)
        assert all(unicodedata.category(c)[0] != "C" for c in shown)
        assert 1 < len(shown) <= 120
        assert shown not in (".", "..")

    def test_paths_are_cut_to_the_file_name(self) -> None:
        assert safe_name("../../etc/passwd", ".txt") == "passwd.txt"
        assert safe_name("C:\\Users\\张三\\照片.JPEG", ".jpg") == "照片.JPEG"

    def test_the_download_name_has_an_ascii_fallback_and_the_utf8_name(self) -> None:
        header = content_disposition("对账单 3月.pdf")
        assert header.startswith('attachment; filename="')
        assert header.encode("ascii")  # only ASCII in the header itself
        assert "filename*=UTF-8''%E5%AF%B9%E8%B4%A6%E5%8D%95%203%E6%9C%88.pdf" in header
