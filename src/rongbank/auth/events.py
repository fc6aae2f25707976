"""What authentication announces (see :mod:`rongbank.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rongbank.outbox import Event


@dataclass(frozen=True, kw_only=True)
class LoginLockedOut(Event):
    """Wrong passwords for a customer's login locked a source out of it: someone may
    be guessing their password. Recorded at most once per
    ``rongbank.auth.service.LOCKOUT_NOTICE_INTERVAL`` for a login, so that whoever
    guesses cannot flood the customer with notices."""

    name: ClassVar[str] = "auth.login_locked_out"
    customer_id: int
    source: str
    """Where the wrong passwords came from (``rongbank.auth.throttle.source_of``):
    kept whole in the record for the bank; the customer is shown it masked."""
    failures: int
    """Wrong passwords for the login, from every source, since it last logged in."""
    locked_until: datetime

    @property
    def key(self) -> str:
        return f"auth:customer:{self.customer_id}:locked:{self.occurred_at.isoformat()}"


@dataclass(frozen=True, kw_only=True)
class PasswordChanged(Event):
    """A customer's login password was changed (knowing the old one, in a session of
    theirs) or reset (through the registered mobile, without it), and their other
    sessions ended: whoever holds the mobile or a session may have done it, so the
    customer must hear of it."""

    name: ClassVar[str] = "auth.password_changed"
    customer_id: int
    reset: bool
    """True when it was reset through the registered mobile rather than changed."""
    sessions_ended: int
    source: str
    """The network it was done from (``rongbank.auth.throttle.source_of``), shown masked."""
    ref: str
    """The session it was changed in, or the reset: one event per change."""

    @property
    def key(self) -> str:
        return f"auth:customer:{self.customer_id}:password:{self.ref}"
