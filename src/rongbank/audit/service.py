"""Recording, sealing and verifying the audit trail.

``record`` is called inside the request's own transaction, so an audit row exists
exactly when what it describes was committed (refusals are recorded in a transaction
of their own by the boundary). Personal data is masked before it is written: card,
identity and mobile numbers anywhere in the details, and secrets by key name.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.db import run_later, statement
from rongbank.logs import REQUEST_ID

GENESIS = b"\x00" * 32
SECRET_KEYS = {"password", "token", "secret", "code", "otp", "pin", "answer", "answers"}

# Longest first: an 18-character identity number also looks like a card number.
_RESIDENT_ID = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_CARD = re.compile(r"(?<!\d)(\d{6})\d{3,9}(\d{4})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_text(value: str) -> str:
    """Mask identity, card and mobile numbers wherever they appear in free text."""
    value = _RESIDENT_ID.sub(lambda m: f"{m.group(1)}********{m.group(2)}", value)
    value = _CARD.sub(lambda m: f"{m.group(1)}******{m.group(2)}", value)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", value)


def mask(value: Any, key: str = "") -> Any:
    if key.lower() in SECRET_KEYS:
        return "***"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {str(k): mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    action: str
    target: str
    result: str
    ip: str | None
    details: dict[str, Any]
    request_id: str | None = None
    """The HTTP request that wrote the row (``rongbank.logs``); None outside one."""

    def canonical(self) -> bytes:
        fields: dict[str, Any] = {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "action": self.action,
            "target": self.target,
            "result": self.result,
            "ip": self.ip,
            "details": self.details,
        }
        if self.request_id is not None:
            # Sealed only where there is one, so rows sealed before it existed verify.
            fields["request_id"] = self.request_id
        return json.dumps(
            fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The newest sealed row: its place in the chain and its hash, as ``seq:hash``."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> AuditHead:
        seq, _, digest = text.strip().partition(":")
        if not seq.isdigit() or re.fullmatch(r"[0-9a-f]{64}", digest) is None:
            raise ValueError("a chain head is written SEQ:HASH (64 hexadecimal digits)")
        return cls(int(seq), digest)


def chain_hash(prev: bytes, row: AuditRow) -> bytes:
    return hashlib.sha256(prev + row.canonical()).digest()


_COLUMNS = "id, at, actor_kind, actor_id, action, target, result, ip, details, request_id"
_RECORD = statement(
    "INSERT INTO audit_log (at, actor_kind, actor_id, action, target, result, ip, details, "
    "request_id) VALUES (:at, :kind, :actor, :action, :target, :result, :ip, "
    "CAST(:details AS jsonb), :request_id)"
)


class AuditLog:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def record(
        self,
        session: Session,
        *,
        actor_kind: str,
        actor_id: int | None,
        action: str,
        result: str = "ok",
        target: str = "",
        ip: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        # Sent with the transaction's next round trip (its COMMIT, mostly).
        run_later(
            session,
            _RECORD,
            {
                "at": self.clock.now(),
                "kind": actor_kind,
                "actor": actor_id,
                "action": action,
                "target": mask_text(target),
                "result": result,
                "ip": ip,
                "details": json.dumps(mask(details or {}), ensure_ascii=False),
                "request_id": REQUEST_ID.get(),
            },
        )

    def logins_of(
        self, session: Session, *, kind: str, principal_id: int, limit: int = 20
    ) -> list[AuditRow]:
        """The latest logins to a principal's login name, newest first: theirs, and
        the refused ones (``details.login_of`` names whose login was tried; before it
        was recorded, only their own successful logins are found)."""
        rows = session.execute(
            text(
                f"SELECT {_COLUMNS} FROM audit_log WHERE action = 'login' "  # noqa: S608
                "AND ((details ->> 'login_of') = :login_of "
                "OR (actor_kind = :kind AND actor_id = :id)) ORDER BY at DESC, id DESC LIMIT :limit"
            ),
            {
                "login_of": f"{kind}:{principal_id}",
                "kind": kind,
                "id": principal_id,
                "limit": limit,
            },
        ).all()
        return [AuditRow(*row) for row in rows]

    def seal(self, session: Session, *, limit: int = 10_000) -> int:
        """Link the committed, unsealed rows into the chain; returns how many."""
        # One sealer at a time, so the chain has one end.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('audit_seal'))"))
        last = session.execute(
            text(
                "SELECT seal_seq, hash FROM audit_log WHERE seal_seq IS NOT NULL "
                "ORDER BY seal_seq DESC LIMIT 1"
            )
        ).first()
        seq, prev = (int(last[0]), bytes(last[1])) if last else (0, GENESIS)
        rows = session.execute(
            text(
                f"SELECT {_COLUMNS} FROM audit_log WHERE seal_seq IS NULL "  # noqa: S608
                "ORDER BY id LIMIT :limit"
            ),
            {"limit": limit},
        ).all()
        for raw in rows:
            row = AuditRow(*raw)
            seq += 1
            digest = chain_hash(prev, row)
            session.execute(
                text(
                    "UPDATE audit_log SET seal_seq = :s, prev_hash = :p, hash = :h WHERE id = :id"
                ),
                {"s": seq, "p": prev, "h": digest, "id": row.id},
            )
            prev = digest
        return len(rows)

    def head(self, session: Session) -> AuditHead | None:
        """The newest sealed row's place in the chain and hash (None: nothing sealed):
        printed in the end-of-day reports, so that removing the newest rows, which
        leaves the rest of the chain intact, is found (:meth:`check_head`)."""
        row = session.execute(
            text(
                "SELECT seal_seq, hash FROM audit_log WHERE seal_seq IS NOT NULL "
                "ORDER BY seal_seq DESC LIMIT 1"
            )
        ).first()
        return None if row is None else AuditHead(int(row[0]), bytes(row[1]).hex())

    def check_head(self, session: Session, head: AuditHead) -> list[str]:
        """Whether the chain still holds ``head`` (from an earlier report) as it was."""
        stored = session.execute(
            text("SELECT hash FROM audit_log WHERE seal_seq = :s"), {"s": head.seq}
        ).scalar()
        if stored is None:
            return [f"the row sealed {head.seq} (a report's chain head) is missing"]
        if bytes(stored).hex() != head.hash:
            return [f"the row sealed {head.seq} is not the one a report printed"]
        return []

    def verify(self, session: Session) -> list[str]:
        """Walk the chain; every edited, inserted or removed sealed row is reported."""
        problems: list[str] = []
        expected_seq, prev = 1, GENESIS
        result = session.execute(
            text(
                f"SELECT {_COLUMNS}, seal_seq, prev_hash, hash FROM audit_log "  # noqa: S608
                "WHERE seal_seq IS NOT NULL ORDER BY seal_seq"
            )
        )
        for raw in result:
            row = AuditRow(*raw[:10])
            seq, stored_prev, stored_hash = int(raw[10]), bytes(raw[11]), bytes(raw[12])
            if seq != expected_seq:
                problems.append(f"rows sealed {expected_seq}..{seq - 1} are missing")
            if stored_prev != prev:
                problems.append(f"row {row.id} (seal {seq}) does not follow the row before it")
            if chain_hash(stored_prev, row) != stored_hash:
                problems.append(f"row {row.id} (seal {seq}) was changed after sealing")
            expected_seq, prev = seq + 1, stored_hash
        return problems
