"""What the fake SMS gateway "sent" to a mobile."""

from __future__ import annotations

import re

from rongbank.auth.sms import FakeSmsGateway
from rongbank.platform import Platform


def sms_texts(platform: Platform, mobile: str) -> list[str]:
    """The texts sent to ``mobile``, newest first."""
    with platform.transaction() as session:
        return [body for _, body in FakeSmsGateway.outbox(session, mobile)]


def sms_code(platform: Platform, mobile: str) -> str:
    """The code in the newest text sent to ``mobile``."""
    texts = sms_texts(platform, mobile)
    assert texts, f"no text was sent to {mobile}"
    found = re.search(r"】(\d{6})", texts[0])
    assert found, texts[0]
    return found.group(1)
