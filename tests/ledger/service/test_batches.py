"""LedgerService retries, batches, linked chains and multi-leg entries against real
PostgreSQL, each test rolled back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from rongbank.ledger.errors import (
    BatchTooLarge,
    CurrencyMismatch,
    IdempotencyConflict,
    InvalidEntry,
    LinkedChainFailed,
    LinkedChainOpen,
    UnbalancedEntry,
)
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import MAX_BATCH, LedgerService, MultiLegEntry, PostingSpec
from tests.ledger.factories import (
    START,
    count_entries,
    create_account,
    create_deposit,
    deposit_balance,
    errors,
    pay,
    posting_count,
    totals,
    unique,
)


class TestIdempotency:
    def test_a_retry_returns_the_first_entry_without_moving_money_again(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        command = pay(alice, bob, 700)
        first = service.transfer(session, command)

        again = service.transfer(session, command)

        assert again.status == "exists"
        assert again.entry_id == first.entry_id
        assert deposit_balance(session, alice) == START - 700
        assert count_entries(session, command.client_id) == 1

    def test_a_client_id_reused_for_other_content_is_refused(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        command = pay(alice, bob, 700)
        service.transfer(session, command)

        with pytest.raises(IdempotencyConflict) as raised:
            service.transfer(session, pay(alice, bob, 701, client_id=command.client_id))

        assert raised.value.code == "idempotency_conflict"
        assert deposit_balance(session, alice) == START - 700

    def test_a_duplicate_inside_one_batch_is_applied_once(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        command = pay(alice, bob, 400)

        first, second = service.execute(session, [command, command])

        assert (first.status, second.status) == ("created", "exists")
        assert second.entry_id == first.entry_id
        assert deposit_balance(session, alice) == START - 400

    def test_a_conflicting_duplicate_inside_one_batch_is_refused(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        command = pay(alice, bob, 400)
        other = pay(alice, bob, 500, client_id=command.client_id)

        outcomes = service.execute(session, [command, other])

        assert errors(outcomes) == [None, "idempotency_conflict"]
        assert deposit_balance(session, alice) == START - 400

    def test_a_retry_of_a_failed_command_is_judged_again(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        command = pay(alice, bob, START + 1)
        assert service.execute(session, [command])[0].status == "failed"
        assert service.execute(session, [command])[0].status == "failed"
        assert count_entries(session, command.client_id) == 0


class TestBatch:
    def test_a_failing_transfer_does_not_stop_the_others(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        outcomes = service.execute(
            session,
            [pay(alice, bob, 100), pay(alice, bob, START), pay(bob, alice, 50)],
        )

        assert [o.status for o in outcomes] == ["created", "failed", "created"]
        assert errors(outcomes) == [None, "insufficient_funds", None]
        assert deposit_balance(session, alice) == START - 100 + 50
        assert deposit_balance(session, bob) == START + 100 - 50

    def test_outcomes_come_back_in_order_with_their_client_ids(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        commands = [pay(alice, bob, n) for n in range(1, 6)]
        outcomes = service.execute(session, commands)
        assert [o.client_id for o in outcomes] == [c.client_id for c in commands]
        assert len({o.entry_id for o in outcomes}) == 5

    def test_money_received_earlier_in_the_batch_can_be_spent(
        self,
        session: Session,
        service: LedgerService,
        new_deposit: Callable[..., int],
        alice: int,
    ) -> None:
        empty = new_deposit(funds=0)
        outcomes = service.execute(session, [pay(alice, empty, 300), pay(empty, alice, 300)])
        assert errors(outcomes) == [None, None]
        assert deposit_balance(session, empty) == 0

    def test_an_empty_batch_does_nothing(self, session: Session, service: LedgerService) -> None:
        assert service.execute(session, []) == []

    def test_refuses_a_batch_over_the_limit(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        with pytest.raises(BatchTooLarge):
            service.execute(session, [pay(alice, bob, 1)] * (MAX_BATCH + 1))


class TestLinkedChain:
    def test_a_chain_applies_whole(
        self,
        session: Session,
        service: LedgerService,
        new_deposit: Callable[..., int],
        alice: int,
        bob: int,
    ) -> None:
        carol = new_deposit(funds=0)
        outcomes = service.execute(
            session,
            [pay(alice, carol, 1_000, linked=True), pay(carol, bob, 1_000)],
        )
        assert [o.status for o in outcomes] == ["created", "created"]
        assert deposit_balance(session, bob) == START + 1_000

    def test_one_failure_fails_the_whole_chain(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        postings_before = posting_count(session)
        failing = pay(bob, alice, START * 3, linked=True)
        outcomes = service.execute(
            session,
            [pay(alice, bob, 100, linked=True), failing, pay(alice, bob, 200)],
        )

        assert errors(outcomes) == [
            "linked_chain_failed",
            "insufficient_funds",
            "linked_chain_failed",
        ]
        failed = outcomes[0].error
        assert isinstance(failed, LinkedChainFailed)
        assert failed.details["failed_client_id"] == failing.client_id
        assert deposit_balance(session, alice) == START
        assert deposit_balance(session, bob) == START
        assert posting_count(session) == postings_before
        assert all(count_entries(session, o.client_id) == 0 for o in outcomes)

    def test_a_failed_chain_leaves_the_rest_of_the_batch_alone(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        outcomes = service.execute(
            session,
            [
                pay(alice, bob, 100),
                pay(alice, bob, 1, linked=True),
                pay(alice, bob, START, linked=False),
                pay(bob, alice, 30),
            ],
        )
        assert errors(outcomes) == [None, "linked_chain_failed", "insufficient_funds", None]
        assert deposit_balance(session, alice) == START - 100 + 30

    def test_a_retry_inside_a_failed_chain_is_undone_with_it(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        first = pay(alice, bob, 100, linked=True)
        outcomes = service.execute(session, [first, first, pay(alice, bob, START)])
        assert [o.status for o in outcomes] == ["failed"] * 3
        assert count_entries(session, first.client_id) == 0
        # The chain's refusal is the client id's outcome: sent alone, it answers it.
        again = service.execute(session, [pay(alice, bob, 100, client_id=first.client_id)])
        assert errors(again) == ["linked_chain_failed"]
        assert deposit_balance(session, alice) == START

    def test_an_open_chain_at_the_end_of_a_batch_is_refused(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        outcomes = service.execute(
            session,
            [
                pay(alice, bob, 100),
                pay(alice, bob, 200, linked=True),
                pay(alice, bob, 300, linked=True),
            ],
        )

        assert outcomes[0].status == "created"
        assert [o.status for o in outcomes[1:]] == ["failed", "failed"]
        assert any(isinstance(o.error, LinkedChainOpen) for o in outcomes[1:])
        assert deposit_balance(session, alice) == START - 100

    def test_the_command_left_open_is_the_one_told_so(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        outcomes = service.execute(
            session, [pay(alice, bob, 200, linked=True), pay(alice, bob, 300, linked=True)]
        )
        assert [o.status for o in outcomes] == ["failed", "failed"]
        assert isinstance(outcomes[-1].error, LinkedChainOpen)


class TestMultiLegEntry:
    def test_converts_currency_in_one_entry(
        self, session: Session, service: LedgerService, alice: int
    ) -> None:
        fx_cny = create_account(session, currency="CNY", type=AccountType.ASSET)
        fx_usd = create_account(session, currency="USD", type=AccountType.ASSET)
        alice_usd = create_deposit(session, currency="USD")
        command = MultiLegEntry(
            client_id=unique("fx"),
            postings=[
                PostingSpec(account=alice, amount=7_200, currency="CNY"),
                PostingSpec(account=fx_cny, amount=-7_200, currency="CNY"),
                PostingSpec(account=fx_usd, amount=1_000, currency="USD"),
                PostingSpec(account=alice_usd, amount=-1_000, currency="USD"),
            ],
        )

        entry_id = service.transfer(session, command).entry_id_or_raise()

        assert deposit_balance(session, alice) == START - 7_200
        assert deposit_balance(session, alice_usd) == 1_000
        entry = service.entry(session, entry_id)
        assert entry.kind == "entry"
        assert sorted((p.currency, p.amount) for p in entry.postings) == [
            ("CNY", -7_200),
            ("CNY", 7_200),
            ("USD", -1_000),
            ("USD", 1_000),
        ]

    def test_splits_a_payment_and_a_fee(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        fees = create_account(session, type=AccountType.INCOME)
        service.transfer(
            session,
            MultiLegEntry(
                client_id=unique("fee"),
                postings=[
                    PostingSpec(account=alice, amount=1_000, currency="CNY"),
                    PostingSpec(account=bob, amount=-990, currency="CNY"),
                    PostingSpec(account=fees, amount=-10, currency="CNY"),
                ],
            ),
        )
        assert deposit_balance(session, alice) == START - 1_000
        assert deposit_balance(session, bob) == START + 990
        assert totals(session, fees).credits_posted == 10

    def test_refuses_postings_that_do_not_balance(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        fx_usd = create_account(session, currency="USD", type=AccountType.ASSET)
        command = MultiLegEntry(
            client_id=unique("fx"),
            postings=[
                PostingSpec(account=alice, amount=7_200, currency="CNY"),
                PostingSpec(account=bob, amount=-7_100, currency="CNY"),
                PostingSpec(account=fx_usd, amount=-100, currency="USD"),
            ],
        )
        with pytest.raises(UnbalancedEntry) as raised:
            service.transfer(session, command)
        assert raised.value.code == "unbalanced_entry"
        assert deposit_balance(session, alice) == START
        assert count_entries(session, command.client_id) == 0

    def test_refuses_a_posting_in_the_wrong_currency(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        with pytest.raises(CurrencyMismatch):
            service.transfer(
                session,
                MultiLegEntry(
                    client_id=unique("fx"),
                    postings=[
                        PostingSpec(account=alice, amount=100, currency="USD"),
                        PostingSpec(account=bob, amount=-100, currency="USD"),
                    ],
                ),
            )

    @pytest.mark.parametrize("amounts", [[100], [100, 0, -100]])
    def test_refuses_a_malformed_entry(
        self, session: Session, service: LedgerService, alice: int, bob: int, amounts: list[int]
    ) -> None:
        accounts = [alice, bob, alice]
        postings = [
            PostingSpec(account=account, amount=amount, currency="CNY")
            for account, amount in zip(accounts, amounts, strict=False)
        ]
        with pytest.raises(InvalidEntry):
            service.transfer(session, MultiLegEntry(client_id=unique("e"), postings=postings))
