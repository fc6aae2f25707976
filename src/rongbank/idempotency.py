"""Idempotency keys that remember every outcome, refusals included.

ARCHITECTURE.md rule 2: a money-moving request carries a client key; a retry gets
the first request's result, and the key reused for another request is a conflict,
never a second movement. A business refusal is a result like any other: a transfer
refused for insufficient funds and sent again with the same key is refused again,
even after money has arrived, because the client may already have told its user
"refused", and a key names one request, not "whatever it turns out to be next
time". To try again, a client sends a new request with a new key.

One table, ``idempotency_record``, keyed by (scope, key). The scope says whose keys
and for what (``ledger`` for the ledger API's client ids, ``customer:42:transfer``
...), so that two customers or two kinds of request never share a key. A row holds
the request's fingerprint (a digest of what it asked) and, for a refusal, the error.

- Customer paths run their transaction through :func:`remembering`: it claims the
  key first with an insert that commits with the request (the success's record). A
  concurrent request with the same key waits on that insert until the first ends,
  then finds its outcome. A final refusal rolls the request back and is recorded in
  a transaction of its own, with what the boundary records of any refusal (its
  audit row: ``Platform.audited``).
- The ledger keeps its successes in ``ledger_entry`` (client id and request hash,
  written by the batch's one statement, so that its hot path stays as it was) and
  writes its refusals here, in the batch's own transaction, under scope
  :data:`LEDGER_SCOPE`.

Which refusals are final (``DomainError.final``): every business refusal that the
request met while it was carried out (no funds, a limit, a frozen account, an order
no longer payable, an unknown account). Not final, so not recorded:

- ``challenge_required`` and the step-up's other answers (challenge expired, wrong
  answer, tool blocked): they say how to authorise this very request, which the
  client then sends again with the same key;
- 401s and the key's own conflict: they are about credentials or the key, not an
  outcome of the request;
- refusals of malformed input before the request began (an amount with three
  decimals): it was never carried out, and a client fixes a typo under the same key
  (Stripe keeps no result either when validation fails);
- anything that is not a ``DomainError`` (a lost connection, a timeout, a bug): its
  outcome is unknown, and a retry is exactly what the key is for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from rongbank.clock import Clock
from rongbank.db import pipeline, run, statement
from rongbank.errors import Conflict, DomainError

LEDGER_SCOPE = "ledger"
"""The scope of the ledger's client ids (see ``rongbank.ledger.service``)."""


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    message = "This client id was already used for a different request."
    final = False  # about the key, not an outcome of the request


@dataclass(frozen=True, slots=True)
class Keyed:
    """A request's idempotency key in its scope, with the fingerprint of what it asks."""

    scope: str
    key: str
    fingerprint: bytes
    conflict: type[DomainError] = IdempotencyConflict
    """Raised when the key comes back with another request (a domain may keep the
    code its clients already know, e.g. ``wealth_purchase_conflict``)."""


def keyed(
    scope: str,
    key: str,
    request: Mapping[str, Any],
    *,
    conflict: type[DomainError] = IdempotencyConflict,
) -> Keyed:
    """``request``: what the request asks, as plain values (not the key itself, and
    not how it is authorised: a challenge's answer is not part of the request)."""
    return Keyed(scope, key, fingerprint(request), conflict)


def fingerprint(request: Any) -> bytes:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(canonical.encode()).digest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


# -- refusals as data -----------------------------------------------------------------


def refusal(error: DomainError) -> dict[str, Any]:
    """What is stored of a refusal: enough to answer it again word for word."""
    cls = type(error)
    return {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "code": error.code,
        "status": error.status,
        "message": error.detail_message,
        "details": json.loads(json.dumps(error.details, default=_plain)),
    }


def replay(stored: Mapping[str, Any]) -> DomainError:
    """The refusal again, as the error class that raised it when this process knows
    it (so that callers catching it behave the same), else as a plain DomainError
    with the same code, status, message and details."""
    cls = _error_classes().get(str(stored["type"]))
    if cls is None or cls.code != stored["code"]:
        cls = type(
            "RememberedRefusal",
            (DomainError,),
            {"code": stored["code"], "status": stored["status"], "message": stored["message"]},
        )
    # Not through the class's own __init__: some take other arguments.
    error = cls.__new__(cls)
    DomainError.__init__(error, str(stored["message"]), **dict(stored["details"]))
    return error


def _error_classes() -> dict[str, type[DomainError]]:
    found: dict[str, type[DomainError]] = {}
    stack: list[type[DomainError]] = [DomainError]
    while stack:
        cls = stack.pop()
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        stack.extend(cls.__subclasses__())
    return found


def recalled(
    keyed: Keyed, fingerprint: bytes, stored: Mapping[str, Any] | None
) -> DomainError | None:
    """What a key used before (by a request with ``fingerprint``, refused with
    ``stored`` or not) answers this request: a conflict when it asked something
    else, its refusal when it was refused; None for a success."""
    if fingerprint != keyed.fingerprint:
        return keyed.conflict(client_id=keyed.key)
    return None if stored is None else replay(stored)


# -- the table --------------------------------------------------------------------------

_CLAIM = statement(
    "INSERT INTO idempotency_record (scope, key, fingerprint, created_at) "
    "VALUES (:scope, :key, :fp, :at) ON CONFLICT (scope, key) DO NOTHING RETURNING true"
)
_RECALL = statement(
    "SELECT fingerprint, refusal FROM idempotency_record WHERE scope = :scope AND key = :key"
)
_REFUSED = statement(
    "INSERT INTO idempotency_record (scope, key, fingerprint, refusal, created_at) "
    "VALUES (:scope, :key, :fp, CAST(:refusal AS jsonb), :at) ON CONFLICT (scope, key) DO NOTHING"
)


def claim(
    session: Session,
    keyed: Keyed,
    now: datetime,
    *,
    ahead: Callable[[Session], object] | None = None,
) -> None:
    """Take the key for this transaction (a concurrent holder of it is waited for),
    or raise what it answered before; returns also for a success made before, which
    the domain then answers from its own record. ``ahead`` queues the statements the
    request asks next (:func:`rongbank.db.run`, read after) in the claim's round trip,
    which is also the transaction's ``BEGIN``'s: each is a statement of its own after
    the claim, so it sees what a concurrent holder of the key committed."""
    params = {"scope": keyed.scope, "key": keyed.key, "fp": keyed.fingerprint, "at": now}
    with pipeline(session):
        claimed = run(session, _CLAIM, params)
        if ahead is not None:
            ahead(session)
    if claimed.fetchone() is None:
        row = run(session, _RECALL, params).fetchone()
        assert row is not None  # the claim's conflict was on this row
        error = recalled(keyed, bytes(row[0]), row[1])
        if error is not None:
            raise error


def known(session: Session, keyed: Keyed) -> bool:
    """Whether the key has an outcome already (then a challenge need not be answered
    for it: the claim answers)."""
    params = {"scope": keyed.scope, "key": keyed.key}
    return run(session, _RECALL, params).fetchone() is not None


def remember(session: Session, keyed: Keyed, error: DomainError, now: datetime) -> None:
    """Record a final refusal under the key, unless an outcome took it meanwhile."""
    run(
        session,
        _REFUSED,
        {
            "scope": keyed.scope,
            "key": keyed.key,
            "fp": keyed.fingerprint,
            "refusal": json.dumps(refusal(error), ensure_ascii=False),
            "at": now,
        },
    )


Refused = Callable[[Session, DomainError], None]
"""What a boundary records of a refusal (an audit row), in the refusal's transaction."""


@contextmanager
def remembering(
    transaction: Callable[[], AbstractContextManager[Session]],
    keyed: Keyed | None,
    clock: Clock,
    *,
    refused: Refused | None = None,
    prepare: Callable[[Session], object] | None = None,
    ahead: Callable[[Session], object] | None = None,
) -> Iterator[Session]:
    """A transaction for a request, keyed (the key claimed first) or not (``keyed``
    None). When the request is refused (a ``DomainError``), its transaction rolls back
    and one transaction of its own records the refusal: what ``refused`` writes of it,
    and a final refusal under the key.

    ``prepare`` runs first in the same transaction, before the key is claimed: it
    reads what the request is about (the merchant of a code, an order), and what it
    refuses (an unknown code) is raised as it is, neither recorded nor remembered, as
    input found wrong before the request began. ``ahead``: :func:`claim`'s."""
    answered = False  # the refusal came from the record: nothing new to remember
    prepared = prepare is None
    try:
        with transaction() as session:
            if prepare is not None:
                prepare(session)
                prepared = True
            if keyed is not None:
                try:
                    claim(session, keyed, clock.now(), ahead=ahead)
                except DomainError:
                    answered = True
                    raise
            yield session
    except DomainError as error:
        if not prepared:
            raise
        remembered = keyed is not None and error.final and not answered
        if remembered or refused is not None:
            with transaction() as session:
                if remembered:
                    assert keyed is not None
                    remember(session, keyed, error, clock.now())
                if refused is not None:
                    refused(session, error)
        raise
