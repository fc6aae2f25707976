"""``rongbank pii encrypt-existing``: what migration ``0048`` could not do without the
keys, done by the application, which has them.

It seals the personal numbers still stored in plaintext (rows written before the
migration) and clears the plaintext, re-seals under the current key what an older key
sealed (a rotation), stores the login names and blacklisted identity numbers still
in plaintext as keyed hashes. Each batch is its own transaction over rows it locks
(``SKIP LOCKED``: two runs at once share the work), so a run stopped half-way loses
nothing and the next one carries on; a run with nothing left to do changes nothing.
``rongbank up`` runs it before it serves, so that logins find every customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.db import SessionFactory, unit_of_work
from rongbank.pii import (
    CUSTOMER_NUMBERS,
    LOGIN_PREFIX,
    PersonalData,
    customer_columns,
    opened,
)

BATCH = 500
_COLUMNS = ", ".join(f"{c}, {c}_enc" for c in CUSTOMER_NUMBERS)
_HASHED_LOGIN = re.compile(f"^{re.escape(LOGIN_PREFIX)}[0-9a-f]{{64}}$")


@dataclass(frozen=True, slots=True)
class Converted:
    customers: int
    """Customers whose numbers were sealed (or re-sealed under the current key)."""
    logins: int
    blacklisted: int


def _customers(session: Session, pii: PersonalData) -> int:
    rows = session.execute(
        text(
            f"SELECT id, {_COLUMNS} FROM customer "  # noqa: S608
            "WHERE mobile IS NOT NULL OR resident_id IS NOT NULL OR legal_rep_id IS NOT NULL "
            # A sealed value names its key in its bytes 2-5 (``rongbank.pii``).
            "OR substring(mobile_enc FROM 2 FOR 4) <> :kid "
            "OR substring(resident_id_enc FROM 2 FOR 4) <> :kid "
            "OR substring(legal_rep_id_enc FROM 2 FOR 4) <> :kid "
            "ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED"
        ),
        {"kid": pii.key_id, "n": BATCH},
    ).all()
    for row in rows:
        customer_id = int(row[0])
        numbers = {
            column: opened(pii, customer_id, column, row[1 + 2 * i], row[2 + 2 * i])
            for i, column in enumerate(CUSTOMER_NUMBERS)
        }
        values = {"id": customer_id, **customer_columns(pii, customer_id, numbers)}
        session.execute(
            text(
                "UPDATE customer SET "  # noqa: S608
                + ", ".join(f"{c} = :{c}" for c in values if c != "id")
                + " WHERE id = :id"
            ),
            values,
        )
    return len(rows)


def _logins(session: Session, pii: PersonalData) -> int:
    names = session.execute(
        text(
            "SELECT username FROM auth_credential WHERE username !~ :hashed "
            "ORDER BY username LIMIT :n FOR UPDATE SKIP LOCKED"
        ),
        {"hashed": _HASHED_LOGIN.pattern, "n": BATCH},
    ).scalars()
    converted = [{"old": name, "new": pii.login_name(name)} for name in names]
    if converted:
        session.execute(
            text("UPDATE auth_credential SET username = :new WHERE username = :old"), converted
        )
    return len(converted)


def _blacklist(session: Session, pii: PersonalData) -> int:
    numbers = session.execute(
        text(
            "SELECT resident_id FROM lending_blacklist WHERE resident_id_hash IS NULL "
            "ORDER BY resident_id LIMIT :n FOR UPDATE SKIP LOCKED"
        ),
        {"n": BATCH},
    ).scalars()
    hashed = [{"id": number, "h": pii.hash("id", number)} for number in numbers]
    if hashed:
        session.execute(
            text("UPDATE lending_blacklist SET resident_id_hash = :h WHERE resident_id = :id"),
            hashed,
        )
    return len(hashed)


def encrypt_existing(factory: SessionFactory, pii: PersonalData) -> Converted:
    """Convert what is left, a batch per transaction; how many rows of each kind."""
    counts = []
    for step in (_customers, _logins, _blacklist):
        total = 0
        while True:
            with unit_of_work(factory) as session:
                done = step(session, pii)
            total += done
            if done < BATCH:
                break
        counts.append(total)
    return Converted(*counts)
