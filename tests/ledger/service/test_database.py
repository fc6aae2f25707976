"""What the database itself guarantees of the ledger, whatever the service does, and
its running balances; each test rolled back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from psycopg import errors as pg_errors
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from rongbank.ledger.service import LedgerService
from tests.ledger.factories import START, deposit_balance, pay, posting_count, totals, unique


def refused(session: Session, sql: str, **params: object) -> pg_errors.Error:
    """Run ``sql`` in a savepoint, expecting the database to refuse it; return the
    driver's error."""
    with pytest.raises(DBAPIError) as raised, session.begin_nested():
        session.execute(text(sql), params)
    error = raised.value.orig
    assert isinstance(error, pg_errors.Error)
    return error


class TestDatabaseGuarantees:
    @pytest.fixture
    def entry_id(self, session: Session, service: LedgerService, alice: int, bob: int) -> int:
        return service.transfer(session, pay(alice, bob, 100)).entry_id_or_raise()

    def new_entry(self, session: Session) -> int:
        return int(
            session.execute(
                text(
                    "INSERT INTO ledger_entry (client_id, request_hash, kind, created_at) "
                    "VALUES (:cid, '\\x00', 'entry', now()) RETURNING id"
                ),
                {"cid": unique("raw")},
            ).scalar_one()
        )

    def test_entries_cannot_be_updated(self, session: Session, entry_id: int) -> None:
        error = refused(
            session, "UPDATE ledger_entry SET description = 'x' WHERE id = :id", id=entry_id
        )
        assert isinstance(error, pg_errors.InsufficientPrivilege)

    def test_postings_cannot_be_deleted(self, session: Session, entry_id: int) -> None:
        error = refused(session, "DELETE FROM ledger_posting WHERE entry_id = :id", id=entry_id)
        assert isinstance(error, pg_errors.InsufficientPrivilege)
        assert posting_count(session) > 0

    def test_postings_cannot_be_updated(self, session: Session, entry_id: int) -> None:
        refused(
            session,
            "UPDATE ledger_posting SET amount = amount * 2 WHERE entry_id = :id",
            id=entry_id,
        )

    def test_the_journal_cannot_be_truncated(self, session: Session, entry_id: int) -> None:
        refused(session, "TRUNCATE ledger_posting")

    def test_accounts_cannot_be_deleted(self, session: Session, alice: int) -> None:
        error = refused(session, "DELETE FROM ledger_account WHERE id = :id", id=alice)
        assert isinstance(error, pg_errors.InsufficientPrivilege)
        assert deposit_balance(session, alice) == START

    def test_an_unbalanced_posting_set_is_refused(
        self, session: Session, alice: int, bob: int
    ) -> None:
        entry = self.new_entry(session)
        error = refused(
            session,
            "INSERT INTO ledger_posting (entry_id, account_id, currency, amount, pending, "
            "balance_after, created_at) VALUES (:e, :a, 'CNY', 100, false, 0, now()), "
            "(:e, :b, 'CNY', -99, false, 0, now())",
            e=entry,
            a=alice,
            b=bob,
        )
        assert isinstance(error, pg_errors.CheckViolation)
        assert "unbalanced" in str(error)

    def test_a_balanced_posting_set_is_accepted(
        self, session: Session, alice: int, bob: int
    ) -> None:
        # The control for the test above: the same insert, balanced, goes through.
        entry = self.new_entry(session)
        session.execute(
            text(
                "INSERT INTO ledger_posting (entry_id, account_id, currency, amount, pending, "
                "balance_after, created_at) VALUES (:e, :a, 'CNY', 100, false, 0, now()), "
                "(:e, :b, 'CNY', -100, false, 0, now())"
            ),
            {"e": entry, "a": alice, "b": bob},
        )

    def test_a_posting_in_another_currency_than_its_account_is_refused(
        self, session: Session, alice: int, bob: int
    ) -> None:
        entry = self.new_entry(session)
        error = refused(
            session,
            "INSERT INTO ledger_posting (entry_id, account_id, currency, amount, pending, "
            "balance_after, created_at) VALUES (:e, :a, 'USD', 100, false, 0, now()), "
            "(:e, :b, 'USD', -100, false, 0, now())",
            e=entry,
            a=alice,
            b=bob,
        )
        assert isinstance(error, pg_errors.ForeignKeyViolation)

    def test_a_posting_without_an_entry_is_refused(
        self, session: Session, alice: int, bob: int
    ) -> None:
        error = refused(
            session,
            "INSERT INTO ledger_posting (entry_id, account_id, currency, amount, pending, "
            "balance_after, created_at) VALUES (-1, :a, 'CNY', 100, false, 0, now()), "
            "(-1, :b, 'CNY', -100, false, 0, now())",
            a=alice,
            b=bob,
        )
        assert isinstance(error, pg_errors.ForeignKeyViolation)

    def test_totals_breaking_the_balance_rule_are_refused(
        self, session: Session, alice: int
    ) -> None:
        error = refused(
            session,
            "UPDATE ledger_account SET debits_posted = credits_posted + 1 WHERE id = :id",
            id=alice,
        )
        assert isinstance(error, pg_errors.CheckViolation)
        assert "ledger_account_balance_rule" in str(error)
        assert deposit_balance(session, alice) == START

    def test_a_second_reversal_is_refused_by_the_database(
        self, session: Session, entry_id: int
    ) -> None:
        sql = (
            "INSERT INTO ledger_entry (client_id, request_hash, kind, reverses_id, created_at) "
            "VALUES (:cid, '\\x00', 'reversal', :target, now())"
        )
        session.execute(text(sql), {"cid": unique("rev"), "target": entry_id})
        error = refused(session, sql, cid=unique("rev"), target=entry_id)
        assert isinstance(error, pg_errors.UniqueViolation)


class TestRunningBalance:
    def test_balance_after_is_the_net_posted_after_each_posting(
        self,
        session: Session,
        service: LedgerService,
        new_deposit: Callable[..., int],
        alice: int,
        bob: int,
    ) -> None:
        carol = new_deposit(funds=0, overdraft_limit=1_000)
        service.execute(
            session,
            [
                pay(alice, carol, 700),
                pay(carol, bob, 1_500),
                pay(carol, alice, 200, pending=True),
                pay(bob, carol, 250),
                pay(carol, bob, 1_000),  # refused: past the overdraft
            ],
        )
        rows = session.execute(
            text(
                "SELECT amount, pending, balance_after FROM ledger_posting "
                "WHERE account_id = :id ORDER BY id"
            ),
            {"id": carol},
        ).all()

        running = 0
        for amount, pending, balance_after in rows:
            running += 0 if pending else amount
            assert balance_after == running
        assert [r.amount for r in rows] == [-700, 1_500, 200, -250]
        assert totals(session, carol).net_posted == running == 550
        assert service.verify(session) == {}

    def test_the_trial_balance_is_zero_per_currency(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        service.transfer(session, pay(alice, bob, 10))
        for row in service.trial_balance(session):
            assert row.debits_posted == row.credits_posted, row.currency
            assert row.debits_pending == row.credits_pending, row.currency
