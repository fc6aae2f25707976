"""Who takes part in 融e联 chats: the few names every chat module shares, apart from
the service, so that the modules the service is built from (the desk, contacts)
need not import it back."""

from __future__ import annotations

from dataclasses import dataclass

from rongbank.auth.service import Principal
from rongbank.chat.bus import topic

CUSTOMER = "customer"
STAFF = "staff"
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Member:
    """Someone taking part in chats: a customer or a staff member."""

    kind: str
    id: int

    @classmethod
    def of(cls, principal: Principal) -> Member:
        return cls(principal.kind.value, principal.id)

    @property
    def topic(self) -> str:
        return topic(self.kind, self.id)
