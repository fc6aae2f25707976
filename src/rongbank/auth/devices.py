"""What a session's device is called where its owner sees their sessions.

A session keeps the User-Agent its login sent (``auth_session.client``), nothing
else about the device: no fingerprint (screen, fonts, canvas...), which would track
a person rather than tell them where they are logged in. The header is summarised
to the browser and system with their major versions ("Chrome 120 · Windows 10"),
by uap-core's rules (``ua-parser``): enough for the owner to recognise their own,
and no more than the browser sent.
"""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse


@lru_cache(maxsize=1024)
def describe(user_agent: str) -> str:
    """A short name for the device that sent ``user_agent``; "" when the header says
    nothing recognisable (an API client's own name is shown by the caller)."""
    found = parse(user_agent[:500])
    parts = []
    if found.user_agent is not None:
        parts.append(_named(found.user_agent.family, found.user_agent.major))
    if found.os is not None:
        parts.append(_named(found.os.family, found.os.major))
    if found.device is not None and found.device.family not in ("Other", "Spider"):
        parts.append(found.device.family)
    return " · ".join(dict.fromkeys(p for p in parts if p))


def _named(family: str, major: str | None) -> str:
    return family if family == "Other" or not major else f"{family} {major}"
