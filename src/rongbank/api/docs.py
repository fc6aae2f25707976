"""How answers that are not JSON models are documented in the OpenAPI."""

from __future__ import annotations

from typing import Any

Answers = dict[int | str, dict[str, Any]]


def file_answer(*media_types: str, description: str, status: int = 200) -> Answers:
    """An answer that is a file: text for text formats, bytes for the others."""
    content = {
        media: {"schema": {"type": "string"} if _text(media) else _BYTES} for media in media_types
    }
    return {status: {"content": content, "description": description}}


_BYTES = {"type": "string", "format": "binary"}


def _text(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type.endswith(("xml", "json"))
