"""A refused request, as ``Platform.audited`` records it: its audit row and, for a
final refusal under a key, the key's record of it, written together in the one
transaction that follows the request's rollback."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from rongbank.accounts.errors import AccountFrozen
from rongbank.auth.stepup import ChallengeRequired
from rongbank.errors import DomainError
from rongbank.idempotency import Keyed, keyed
from rongbank.platform import Platform


def request(platform: Platform, key: Keyed | None, error: DomainError | None) -> None:
    """An audited request that writes a note, then is refused with ``error``."""
    with platform.audited(
        actor_kind="customer", actor_id=None, action="test.pay", idempotency=key
    ) as session:
        session.execute(text("INSERT INTO request_note VALUES (1)"))
        if error is not None:
            raise error


@pytest.fixture
def probe(platform: Platform) -> None:
    """A table the request writes to, to see it rolled back."""
    with platform.transaction() as session:
        session.execute(text("CREATE TEMP TABLE request_note (n int)"))


def written(platform: Platform) -> dict[str, Any]:
    """What the requests left: audit rows (result, error, writing transaction), key
    records (refusal code, writing transaction) and the request's own notes."""
    with platform.transaction() as session:
        audit = session.execute(
            text(
                "SELECT result, details->>'error', xmin::text FROM audit_log "
                "WHERE action = 'test.pay' ORDER BY id"
            )
        ).all()
        keys = session.execute(
            text(
                "SELECT refusal->>'code', xmin::text FROM idempotency_record "
                "WHERE scope = 'test' ORDER BY key"
            )
        ).all()
        notes = session.execute(text("SELECT count(*) FROM request_note")).scalar_one()
    return {"audit": [tuple(r) for r in audit], "keys": [tuple(r) for r in keys], "notes": notes}


pytestmark = pytest.mark.usefixtures("probe")


def test_a_final_refusal_is_audited_and_remembered_in_one_transaction(
    platform: Platform,
) -> None:
    key = keyed("test", "k1", {"amount": 1})
    with pytest.raises(AccountFrozen):
        request(platform, key, AccountFrozen())

    seen = written(platform)
    [(result, code, audit_tx)] = seen["audit"]
    [(remembered, key_tx)] = seen["keys"]
    assert (result, code, remembered) == ("refused", "account_frozen", "account_frozen")
    assert audit_tx == key_tx
    assert seen["notes"] == 0


def test_the_refusal_sent_again_is_audited_and_not_remembered_twice(
    platform: Platform,
) -> None:
    key = keyed("test", "k1", {"amount": 1})
    for _ in range(2):
        with pytest.raises(AccountFrozen):
            request(platform, key, AccountFrozen())

    seen = written(platform)
    assert [row[:2] for row in seen["audit"]] == [("refused", "account_frozen")] * 2
    assert len(seen["keys"]) == 1


def test_a_refusal_that_is_no_outcome_is_audited_only(platform: Platform) -> None:
    with pytest.raises(ChallengeRequired):
        request(platform, keyed("test", "k1", {"amount": 1}), ChallengeRequired())
    with pytest.raises(AccountFrozen):
        request(platform, None, AccountFrozen())

    seen = written(platform)
    assert [row[:2] for row in seen["audit"]] == [
        ("refused", "challenge_required"),
        ("refused", "account_frozen"),
    ]
    assert seen["keys"] == []


def test_a_success_is_audited_with_its_key_in_its_own_transaction(platform: Platform) -> None:
    request(platform, keyed("test", "k1", {"amount": 1}), None)

    seen = written(platform)
    [(result, code, audit_tx)] = seen["audit"]
    [(remembered, key_tx)] = seen["keys"]
    assert (result, code, remembered) == ("ok", None, None)
    assert audit_tx == key_tx
    assert seen["notes"] == 1
