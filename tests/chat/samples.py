"""Files to upload, made here: images with metadata, office documents, and things
that must be refused."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image, PngImagePlugin
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.constants import UserAccessPermissions

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def jpeg_with_exif(size: tuple[int, int] = (800, 600), *, orientation: int = 6) -> bytes:
    """A photo as a phone takes it: its maker, a GPS position and an orientation."""
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (39.0, 54.0, 27.0)})
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=exif.tobytes(), comment=b"me")
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Zhang San, 13900000001")
    out = io.BytesIO()
    Image.new("RGBA", (64, 48), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def gif_animation(frames: int = 3) -> bytes:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    images = [Image.new("RGB", (40, 30), colours[i % 4]) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(
        out, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0, comment=b"x"
    )
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 200, 10)).save(out, "WEBP")
    return out.getvalue()


def bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "BMP")
    return out.getvalue()


EXE = b"MZ\x90\x00\x03" + b"\x00" * 200 + b"PE\x00\x00"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600


def _zip(members: dict[str, str], *, stored_first: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for index, (name, content) in enumerate(members.items()):
            stored = stored_first and index == 0
            archive.writestr(
                name, content, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            )
    return out.getvalue()


def _content_types(part: str, main: str) -> str:
    return (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'content-types"><Override PartName="/{part}" ContentType="{main}"/></Types>'
    )


def docx() -> bytes:
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    return _zip(
        {
            "[Content_Types].xml": _content_types("word/document.xml", main),
            "_rels/.rels": "<Relationships/>",
            "word/document.xml": "<w:document/>",
        }
    )


def xlsx(*, macros: bool = False) -> bytes:
    main = (
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
        if macros
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    )
    members = {
        "[Content_Types].xml": _content_types("xl/workbook.xml", main),
        "xl/workbook.xml": "<workbook/>",
    }
    if macros:
        members["xl/vbaProject.bin"] = "Attribute VB_Name"
    return _zip(members)


def odt() -> bytes:
    return _zip(
        {"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<x/>"},
        stored_first=True,
    )


def plain_zip() -> bytes:
    return _zip({"readme.txt": "hello"})


# -- PDFs -------------------------------------------------------------------------------


def _written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _one_page() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    return writer


PDF = _written(_one_page())
"""A plain one-page PDF, as pypdf writes it."""


def pdf_with_open_javascript() -> bytes:
    writer = _one_page()
    writer.add_open_action(JavaScript("app.alert('hi');"))
    return _written(writer)


def pdf_with_attachment() -> bytes:
    writer = _one_page()
    writer.add_attachment("invoice.exe", EXE)
    return _written(writer)


def encrypted_pdf(
    *, user_password: str = "", algorithm: str = "RC4-128", javascript: bool = False
) -> bytes:
    """Encrypted as bank statements and e-tickets are: with an owner password that
    restricts printing and copying, and by default no password to open it."""
    writer = _one_page()
    if javascript:
        writer.add_open_action(JavaScript("app.alert('hi');"))
    writer.encrypt(
        user_password=user_password,
        owner_password="owner",
        algorithm=algorithm,
        permissions_flag=UserAccessPermissions(0),  # no printing, copying, changing
    )
    return _written(writer)


CATALOG = b"<< /Type /Catalog /Pages 2 0 R %s >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] %s >>"


def raw_pdf(catalog: bytes = b"", page: bytes = b"", *more: bytes) -> bytes:
    """A one-page PDF written by hand, to say exactly what is in it: ``catalog`` and
    ``page`` go into those dictionaries, ``more`` are objects 4, 5, ... (referenced
    or not); the cross-reference table is correct."""
    objects = [CATALOG % catalog, PAGES, PAGE % page, *more]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def pdf_with_compressed_action(action: bytes) -> bytes:
    """A PDF whose open action (object 4) sits in a compressed object stream
    (object 5), found through a cross-reference stream (object 6): the action's
    names are nowhere in the file's bytes."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number, body in enumerate([CATALOG % b"/OpenAction 4 0 R", PAGES, PAGE % b""], 1):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    header = b"4 0 "
    packed = zlib.compress(header + action)
    offsets[5] = len(out)
    out += b"5 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\n" % (
        len(header),
        len(packed),
    )
    out += b"stream\n" + packed + b"\nendstream\nendobj\n"
    offsets[6] = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    for number in range(1, 7):
        if number == 4:
            rows.append(struct.pack(">BIH", 2, 5, 0))  # in object stream 5, first
        else:
            rows.append(struct.pack(">BIH", 1, offsets[number], 0))
    table = zlib.compress(b"".join(rows))
    out += (
        b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode "
        b"/Length %d >>\nstream\n" % len(table)
    )
    out += table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % offsets[6]
    return bytes(out)
