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
from rongbank.chat.media import Limits, content_disposition, inspect, limits_from, safe_name
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
