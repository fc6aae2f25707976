"""What may be sent as an image or a file in 融e联, decided by the content alone.

Pure functions, no I/O: :func:`inspect` takes the bytes a customer uploaded and the
name their device gave, and returns what the bank will store and serve, or refuses.

- **Images** (JPEG, PNG, WebP, GIF, animated or not) are recognised by Pillow, which
  is only allowed to try those four decoders, and are always re-encoded: the stored
  image has no EXIF (GPS position, device serial), XMP, comments or text chunks, is
  turned upright by its orientation tag first, and gets a thumbnail. Images larger
  than the pixel limit (all frames together) are refused before they are decoded.
- **Files** are an allowlist recognised by their content (``filetype``): PDF, the
  Office Open XML and OpenDocument formats, and text in UTF-8 or GB18030 (which
  includes GBK, what Chinese Windows and Excel still write; ``.csv`` is served as
  CSV). Text is stored as sent and served with its charset. PDFs are parsed
  (``pypdf``) and refused when they carry active content (JavaScript, launch,
  embedded files, automatic actions, forms that submit) or cannot be read. A PDF
  encrypted only to restrict printing or copying (it opens without a password, as
  many banks' statements and airlines' e-tickets do) is decrypted to be checked and
  stored as sent; one that needs a password to open cannot be checked and is
  refused. Office files with macros are refused,
  and so are the legacy binary Office formats (whose macros cannot be found without
  parsing them), executables, archives, HTML, SVG and anything else.

The client's file name and Content-Type decide nothing; the name is kept only to be
shown and offered on download (:func:`safe_name`, :func:`content_disposition`).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import filetype  # type: ignore[import-untyped]
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError
from pypdf import PasswordType, PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from rongbank.chat.errors import (
    AttachmentEmpty,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    ImageTooLarge,
)

IMAGE_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
    "GIF": ("image/gif", ".gif"),
}
"""Pillow format -> (served Content-Type, extension)."""

FILE_TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", ".pdf"),
    "txt": ("text/plain", ".txt"),
    "csv": ("text/csv", ".csv"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".pptx",
    ),
    "odt": ("application/vnd.oasis.opendocument.text", ".odt"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", ".ods"),
    "odp": ("application/vnd.oasis.opendocument.presentation", ".odp"),
}
"""Every file type the bank can accept: type -> (served Content-Type, extension); text
is served with the charset it was found to be in (:func:`text_charset`)."""

_ZIPPED = {"docx", "xlsx", "pptx", "odt", "ods", "odp"}
_TEXT = {"txt", "csv"}
_MARKUP = re.compile(r"^\s*<(\?xml|!doctype|html|svg|script|head|body|iframe)", re.IGNORECASE)
_UNSAFE_NAME = re.compile(r'[/\\:*?"<>|;]')
# Tab, line feed, form feed and carriage return are text; other C0/C1 controls (NUL
# above all) mean binary content or a wrong guess at the encoding.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_BOMS = {"utf-8": b"\xef\xbb\xbf", "gb18030": b"\x84\x31\x95\x33"}
THUMBNAIL_BOX = (320, 320)
MAX_NAME = 120


@dataclass(frozen=True, slots=True)
class Limits:
    image_max_bytes: int = 10 * 1024 * 1024
    file_max_bytes: int = 20 * 1024 * 1024
    image_max_pixels: int = 50_000_000
    """Width x height x frames: bounds the memory that decoding an image may take."""
    file_types: frozenset[str] = frozenset(FILE_TYPES)

    @property
    def max_bytes(self) -> int:
        """The most an upload may be before it is known to be an image or a file."""
        return max(self.image_max_bytes, self.file_max_bytes)


def limits_from(
    *, image_max_bytes: int, file_max_bytes: int, image_max_pixels: int, file_types: str
) -> Limits:
    """The limits from settings; an unknown file type is a configuration error."""
    types = frozenset(t.strip() for t in file_types.split(",") if t.strip())
    unknown = types - set(FILE_TYPES)
    if unknown:
        raise ValueError(f"unknown chat file types: {', '.join(sorted(unknown))}")
    return Limits(image_max_bytes, file_max_bytes, image_max_pixels, types)


@dataclass(frozen=True, slots=True)
class Inspected:
    """What will be stored and served for an upload."""

    kind: str
    """``image`` or ``file``."""
    content: bytes
    content_type: str
    name: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    thumbnail_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.content).digest()


def inspect(data: bytes, *, name: str, limits: Limits) -> Inspected:
    """Decide by content whether ``data`` is an image or an accepted file, and
    return what to store; raise the refusal otherwise."""
    if not data:
        raise AttachmentEmpty()
    image = _open_image(data)
    if image is not None:
        if len(data) > limits.image_max_bytes:
            raise AttachmentTooLarge(max_bytes=limits.image_max_bytes)
        return _reencode(image, name=name, limits=limits)
    if len(data) > limits.file_max_bytes:
        raise AttachmentTooLarge(max_bytes=limits.file_max_bytes)
    kind = file_type(data, name=name)
    if kind is None or kind not in limits.file_types:
        why = PDF_REFUSED if kind is None and data.startswith(b"%PDF-") else None
        raise AttachmentTypeRefused(why, allowed=[*sorted(limits.file_types), "jpg/png/webp/gif"])
    content_type, extension = FILE_TYPES[kind]
    if kind in _TEXT:
        content_type += f"; charset={text_charset(data)}"
    return Inspected("file", data, content_type, safe_name(name, extension))


def file_type(data: bytes, *, name: str) -> str | None:
    """The accepted file type of ``data`` (a key of :data:`FILE_TYPES`), or None."""
    guess = filetype.guess(data)
    if guess is None:
        if text_charset(data) is None:
            return None
        return "csv" if name.lower().endswith(".csv") else "txt"
    kind = str(guess.extension)
    if kind == "pdf" and data.startswith(b"%PDF-"):
        return "pdf" if _pdf_is_inert(data) else None
    if kind in _ZIPPED and not _has_macros(data):
        return kind
    return None


def text_charset(data: bytes) -> str | None:
    """``utf-8`` or ``gb18030`` when ``data`` is text in that encoding (UTF-8 is
    tried first: it is strict enough that other text is almost never valid UTF-8,
    while most byte strings are valid GB18030), without control characters and not
    markup a browser would run; None otherwise."""
    for charset, bom in _BOMS.items():
        try:
            decoded = data.removeprefix(bom).decode(charset)  # strict
        except UnicodeDecodeError:
            continue
        if not decoded or _CONTROL.search(decoded) or _MARKUP.match(decoded):
            return None
        return charset
    return None


def _has_macros(data: bytes) -> bool:
    """Whether a zipped office file carries macros (VBA in Office, Basic in
    OpenDocument), or is not a readable zip at all. Only the directory is read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n.lower() for n in archive.namelist()]
            types = archive.read("[Content_Types].xml") if "[content_types].xml" in names else b""
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError):
        return True
    return (
        any(n.endswith("vbaproject.bin") or n.startswith("basic/") for n in names)
        or b"macroenabled" in types.lower()
    )


_PDF_ACTIVE_KEYS = frozenset(
    {
        "/JavaScript",  # the document's script name tree
        "/JS",  # a script in an action
        "/AA",  # actions run on opening, closing, printing, focusing...
        "/Launch",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/EF",  # the files inside a file specification
        "/XFA",  # scripted forms
        "/RichMedia",
    }
)
_PDF_ACTIVE_NAMES = frozenset(
    {
        # Action types (/S) that run, open or send something. GoTo, URI and the
        # like only move within the document or show a link, and stay allowed.
        "/JavaScript",
        "/Launch",
        "/ImportData",
        "/SubmitForm",
        "/GoToE",
        "/GoToR",
        "/Rendition",
        "/RichMediaExecute",
        # Types (/Type, /Subtype) of embedded content.
        "/EmbeddedFile",
        "/FileAttachment",
        "/RichMedia",
    }
)
_PDF_TYPE_KEYS = ("/S", "/Type", "/Subtype")
PDF_REFUSED = (
    "This PDF cannot be sent: it contains scripts, embedded files or actions that run on "
    "opening, or it needs a password to open or is damaged, so that it cannot be checked."
)
PDF_MAX_OBJECTS = 500_000
"""Dictionaries and arrays a PDF may have; checking more would take too long."""


def _pdf_is_inert(data: bytes) -> bool:
    """Whether a PDF can be read, opens without a password and has no active content.

    pypdf decodes what hides a name from a byte search (``/J#61vaScript``, objects
    in compressed object streams, incremental updates). Every object in the cross-
    reference table is looked at, whether or not the document refers to it, as is
    everything the trailer reaches. Anything pypdf cannot read is refused: the
    content is the sender's, so any failure means "not known to be safe".

    An encrypted PDF is decrypted with the empty user password, which any viewer
    tries first (permissions such as "no printing" are then only requests to the
    viewer), and checked like any other; one that needs a password cannot be."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            return False
        if len(reader.pages) == 0:
            return False
        roots: list[Any] = [reader.trailer]
        for generation, numbers in reader.xref.items():
            roots += [IndirectObject(number, generation, reader) for number in numbers]
        roots += [IndirectObject(number, 0, reader) for number in reader.xref_objStm]
        return not _pdf_has_active_content(roots)
    except Exception:  # see the docstring
        return False


def _pdf_has_active_content(roots: list[Any]) -> bool:
    seen: set[tuple[int, int]] = set()
    stack = list(roots)
    visited = 0
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            if (item.idnum, item.generation) in seen:
                continue
            seen.add((item.idnum, item.generation))
            item = item.get_object()
        if isinstance(item, DictionaryObject):  # streams too: their dictionary
            if _PDF_ACTIVE_KEYS.intersection(item.keys()):
                return True
            for key in _PDF_TYPE_KEYS:
                value = item.get(key)
                if isinstance(value, IndirectObject):
                    value = value.get_object()
                if isinstance(value, NameObject) and value in _PDF_ACTIVE_NAMES:
                    return True
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)
        else:
            continue
        visited += 1
        if visited > PDF_MAX_OBJECTS:
            return True
    return False


def _open_image(data: bytes) -> Image.Image | None:
    """The image, when the content is one of the accepted formats (only their
    decoders are tried), checked for structural damage; None when it is not one."""
    try:
        with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS)) as probe:
            probe.verify()
        return Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    except Image.DecompressionBombError:
        raise ImageTooLarge() from None


def _reencode(image: Image.Image, *, name: str, limits: Limits) -> Inspected:
    fmt = str(image.format)
    frames = int(getattr(image, "n_frames", 1))
    width, height = image.size
    if width * height * frames > limits.image_max_pixels:
        raise ImageTooLarge(max_pixels=limits.image_max_pixels)
    content_type, extension = IMAGE_FORMATS[fmt]
    try:
        if frames > 1:
            content, first = _reencode_animation(image, fmt)
        else:
            first = ImageOps.exif_transpose(image)
            content = _save_frame(first, fmt)
    except (OSError, ValueError, SyntaxError):
        # The header was fine but the data is not: a damaged or crafted image.
        raise AttachmentTypeRefused(allowed=["jpg/png/webp/gif"]) from None
    thumbnail, thumbnail_type = _thumbnail(first)
    return Inspected(
        "image",
        content,
        content_type,
        safe_name(name, extension),
        width=first.width,
        height=first.height,
        thumbnail=thumbnail,
        thumbnail_type=thumbnail_type,
    )


def _clean(frame: Image.Image) -> Image.Image:
    """The frame without metadata: only what drawing it needs is kept."""
    frame.info = {k: v for k, v in frame.info.items() if k in ("transparency", "duration")}
    return frame


def _save_frame(frame: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    frame = _clean(frame)
    options: dict[str, Any] = {}
    if fmt == "JPEG":
        if frame.mode not in ("RGB", "L"):
            frame = frame.convert("RGB")
        options = {"quality": 90}
    elif fmt == "WEBP":
        options = {"quality": 90}
    frame.save(out, fmt, **options)
    return out.getvalue()


def _reencode_animation(image: Image.Image, fmt: str) -> tuple[bytes, Image.Image]:
    frames = [_clean(frame.copy()) for frame in ImageSequence.Iterator(image)]
    durations = [int(frame.info.get("duration", 100)) for frame in frames]
    out = io.BytesIO()
    frames[0].save(
        out,
        fmt,
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=int(image.info.get("loop", 0)),
    )
    return out.getvalue(), frames[0]


def _thumbnail(image: Image.Image) -> tuple[bytes, str]:
    """A small preview: JPEG, or PNG where the image has transparency."""
    thumb = image.copy()
    if thumb.mode == "P":
        thumb = thumb.convert("RGBA")
    thumb.thumbnail(THUMBNAIL_BOX)
    out = io.BytesIO()
    if thumb.mode in ("RGBA", "LA"):
        thumb.save(out, "PNG")
        return out.getvalue(), "image/png"
    thumb.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue(), "image/jpeg"


def safe_name(name: str, extension: str) -> str:
    """The sender's file name as it may be shown and offered on download: no path,
    no control or reserved characters, at most 120 characters, and always ending in
    the extension of what the content is (``report.pdf.exe`` holding a PDF is
    offered as ``report.pdf.exe.pdf``)."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    # Control and format characters out too (U+202E would show "exe.pdf" as "fdp.exe").
    base = "".join("_" if unicodedata.category(c)[0] == "C" else c for c in base)
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    stem = base
    if base.lower().endswith(extension) or (extension == ".jpg" and base.lower().endswith(".jpeg")):
        stem, extension = base[: base.rfind(".")], base[base.rfind(".") :]
    stem = stem[: MAX_NAME - len(extension)].strip(" .") or "file"
    return stem + extension


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 name (RFC 6266)."""
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
