"""QR images of payment links (segno: pure Python, no image library needed)."""

from __future__ import annotations

import io

import segno


def svg(content: str, *, scale: int = 4) -> str:
    """An SVG image of ``content`` (error correction M: survives a scuffed sticker)."""
    out = io.BytesIO()
    segno.make(content, error="m", micro=False).save(out, kind="svg", scale=scale, xmldecl=False)
    return out.getvalue().decode()


def png(content: str, *, scale: int = 6) -> bytes:
    out = io.BytesIO()
    segno.make(content, error="m", micro=False).save(out, kind="png", scale=scale)
    return out.getvalue()
