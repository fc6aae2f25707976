"""LedgerService against real PostgreSQL, each test rolled back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from psycopg import errors as pg_errors
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from rongbank.clock import FrozenClock
from rongbank.ledger.errors import (
    AccountCodeTaken,
    AccountNotFound,
    AlreadyReversed,
    BalanceOverflow,
    BatchTooLarge,
    CurrencyMismatch,
    CurrencyNotFound,
    ExceedsCredits,
    IdempotencyConflict,
    InvalidEntry,
    LinkedChainFailed,
    LinkedChainOpen,
    NotReversible,
    PendingAlreadyResolved,
    PendingExpired,
    PendingNotFound,
    PostExceedsPending,
    SameAccount,
    TransferNotFound,
    UnbalancedEntry,
)
from rongbank.ledger.rules import MAX_TOTAL, AccountType, BalanceRule
from rongbank.ledger.service import (
    MAX_BATCH,
    SYSTEM_PREFIX,
    Balance,
    Command,
    LedgerService,
    MultiLegEntry,
    Outcome,
    PostingSpec,
    PostPending,
    Reverse,
    Transfer,
    VoidPending,
    balance_of,
)
from rongbank.money import MAX_AMOUNT_MINOR, AmountNotPositive, AmountOutOfRange
from tests.ledger.factories import (
    count_entries,
    create_account,
    create_bank_asset,
    create_deposit,
    deposit_balance,
    fund,
    hold_state,
    posting_count,
    totals,
    unique,
)

START = 10_000  # what each funded deposit starts with, in fen


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def service(clock: FrozenClock) -> LedgerService:
    return LedgerService(clock)


@pytest.fixture
def bank(session: Session) -> int:
    return create_bank_asset(session)


@pytest.fixture
def new_deposit(session: Session, service: LedgerService, bank: int) -> Callable[..., int]:
    """Open a protected deposit and fund it with ``START`` (or ``funds``)."""

    def make(*, funds: int = START, overdraft_limit: int = 0) -> int:
        account_id = create_deposit(session, overdraft_limit=overdraft_limit)
        if funds:
            fund(service, session, source=bank, destination=account_id, amount=funds)
        return account_id

    return make


@pytest.fixture
def alice(new_deposit: Callable[..., int]) -> int:
    return new_deposit()


@pytest.fixture
def bob(new_deposit: Callable[..., int]) -> int:
    return new_deposit()


def pay(
    debit: int | str,
    credit: int | str,
    amount: int,
    *,
    client_id: str | None = None,
    **extra: object,
) -> Transfer:
    return Transfer(
        client_id=unique("t") if client_id is None else client_id,
        debit_account=debit,
        credit_account=credit,
        amount=amount,
        currency="CNY",
        **extra,  # type: ignore[arg-type]
    )


def balance(service: LedgerService, session: Session, account: int) -> Balance:
    return balance_of(service.account(session, account))


def code_of(service: LedgerService, session: Session, account: int) -> str:
    return service.account(session, account).code


def errors(outcomes: list[Outcome]) -> list[str | None]:
    return [o.error.code if o.error else None for o in outcomes]


class TestTransfer:
    def test_moves_money_between_accounts(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        outcome = service.transfer(session, pay(alice, bob, 2_500))

        assert outcome.status == "created"
        assert outcome.entry_id is not None
        assert deposit_balance(session, alice) == START - 2_500
        assert deposit_balance(session, bob) == START + 2_500

    def test_accepts_accounts_by_code(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        service.transfer(
            session, pay(code_of(service, session, alice), code_of(service, session, bob), 1)
        )
        assert deposit_balance(session, bob) == START + 1

    def test_records_an_entry_with_a_debit_and_a_credit(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        command = pay(alice, bob, 300, description="rent", metadata={"ref": "2026-01"})
        entry_id = service.transfer(session, command).entry_id_or_raise()

        entry = service.entry(session, entry_id)
        assert (entry.client_id, entry.kind, entry.description) == (
            command.client_id,
            "transfer",
            "rent",
        )
        assert entry.metadata == {"ref": "2026-01"}
        assert [(p.account_id, p.amount, p.pending) for p in entry.postings] == [
            (alice, 300, False),
            (bob, -300, False),
        ]
        assert service.entry(session, command.client_id).id == entry_id

    def test_can_spend_the_whole_balance(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        service.transfer(session, pay(alice, bob, START))
        assert deposit_balance(session, alice) == 0

    @pytest.mark.parametrize(
        ("amount", "error"),
        [(0, AmountNotPositive), (-5, AmountNotPositive), (MAX_AMOUNT_MINOR + 1, AmountOutOfRange)],
    )
    def test_refuses_an_amount_out_of_range(
        self,
        session: Session,
        service: LedgerService,
        alice: int,
        bob: int,
        amount: int,
        error: type[Exception],
    ) -> None:
        with pytest.raises(error):
            service.transfer(session, pay(alice, bob, amount))
        assert deposit_balance(session, alice) == START

    @pytest.mark.parametrize("client_id", ["", "x" * 129])
    def test_refuses_a_client_id_of_bad_length(
        self, session: Session, service: LedgerService, alice: int, bob: int, client_id: str
    ) -> None:
        with pytest.raises(InvalidEntry):
            service.transfer(session, pay(alice, bob, 1, client_id=client_id))
        assert deposit_balance(session, alice) == START

    def test_refuses_a_client_id_reserved_for_the_ledger(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        with pytest.raises(InvalidEntry):
            service.transfer(session, pay(alice, bob, 1, client_id=f"{SYSTEM_PREFIX}expire:1"))
        assert deposit_balance(session, alice) == START


class TestStoredText:
    """Client ids, descriptions and metadata come back exactly as sent, whatever
    characters they hold; text PostgreSQL cannot store is refused, not crashed on."""

    @pytest.mark.parametrize(
        "text",
        ['a"b', "a\\b", "{x,y}", "NULL", " padded ", "", "中文 💴", "\\x00", "it's", "a\nb\tc"],
    )
    def test_round_trips(
        self, session: Session, service: LedgerService, alice: int, bob: int, text: str
    ) -> None:
        metadata = {f"k{text}": text, "n": [text, {"q": text}]}
        command = pay(alice, bob, 1, client_id=f"c{text}", description=text, metadata=metadata)
        entry_id = service.transfer(session, command).entry_id_or_raise()

        entry = service.entry(session, command.client_id)
        assert (entry.id, entry.description, entry.metadata) == (entry_id, text, metadata)
        assert service.transfer(session, command).status == "exists"

    def test_refuses_a_nul_character_in_the_description(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        outcomes = service.execute(
            session, [pay(alice, bob, 100), pay(alice, bob, 200, description="a\x00b")]
        )
        assert errors(outcomes) == [None, "invalid_entry"]
        assert deposit_balance(session, alice) == START - 100

    @pytest.mark.parametrize(
        "bad",
        [
            lambda a, b: pay(a, b, 200, client_id="a\x00b"),
            lambda a, b: pay(a, b, 200, metadata={"note": "a\x00b"}),
            lambda a, b: pay(a, b, 200, metadata={"a\x00b": "note"}),
            lambda a, b: pay(a, "a\x00b", 200),
            lambda a, b: PostPending(client_id=unique("post"), pending="a\x00b"),
            lambda a, b: VoidPending(client_id=unique("void"), pending="a\x00b"),
            lambda a, b: Reverse(client_id=unique("rev"), entry="a\x00b"),
        ],
        ids=[
            "client_id",
            "metadata_value",
            "metadata_key",
            "account_code",
            "post_ref",
            "void_ref",
            "reverse_ref",
        ],
    )
    def test_a_nul_anywhere_fails_only_its_own_command(
        self,
        session: Session,
        service: LedgerService,
        alice: int,
        bob: int,
        bad: Callable[[int, int], Command],
    ) -> None:
        with session.begin_nested():  # the bug raises; keep the test's session usable
            outcomes = service.execute(session, [pay(alice, bob, 100), bad(alice, bob)])

        assert [o.status for o in outcomes] == ["created", "failed"]
        assert deposit_balance(session, alice) == START - 100


class TestCreateAccount:
    def test_opens_an_account_with_zero_balance(
        self, session: Session, service: LedgerService
    ) -> None:
        code = unique("cust")
        row, created = service.create_account(
            session,
            code=code,
            currency="JPY",
            type=AccountType.LIABILITY,
            rule=BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS,
            overdraft_limit=500,
        )
        assert created
        assert (row.code, row.currency, row.overdraft_limit) == (code, "JPY", 500)
        assert balance_of(row) == Balance(0, 0, 0, 500)

    def test_opening_the_same_account_again_returns_it(
        self, session: Session, service: LedgerService
    ) -> None:
        code = unique("cust")
        first, _ = service.create_account(
            session, code=code, currency="CNY", type=AccountType.LIABILITY
        )
        again, created = service.create_account(
            session, code=code, currency="CNY", type=AccountType.LIABILITY
        )
        assert (again.id, created) == (first.id, False)

    def test_refuses_a_taken_code_with_other_attributes(
        self, session: Session, service: LedgerService
    ) -> None:
        code = unique("cust")
        service.create_account(session, code=code, currency="CNY", type=AccountType.LIABILITY)
        with pytest.raises(AccountCodeTaken):
            service.create_account(session, code=code, currency="USD", type=AccountType.LIABILITY)

    def test_refuses_an_unknown_currency(self, session: Session, service: LedgerService) -> None:
        with pytest.raises(CurrencyNotFound):
            service.create_account(
                session, code=unique("cust"), currency="XXX", type=AccountType.ASSET
            )

    def test_refuses_a_negative_overdraft(self, session: Session, service: LedgerService) -> None:
        with pytest.raises(AmountOutOfRange):
            service.create_account(
                session,
                code=unique("cust"),
                currency="CNY",
                type=AccountType.LIABILITY,
                overdraft_limit=-1,
            )


class TestBalanceOverflow:
    def test_refuses_a_movement_that_would_overflow_a_total(
        self, session: Session, service: LedgerService, bank: int, alice: int
    ) -> None:
        # Push the bank's debits to the edge of bigint (its rule allows any totals).
        session.execute(
            text("UPDATE ledger_account SET debits_posted = :edge WHERE id = :id"),
            {"edge": MAX_TOTAL - 10, "id": bank},
        )
        with pytest.raises(BalanceOverflow) as raised:
            service.transfer(session, pay(bank, alice, 11))
        assert raised.value.code == "balance_overflow"
        assert totals(session, bank).debits_posted == MAX_TOTAL - 10
        service.transfer(session, pay(bank, alice, 10))
        assert totals(session, bank).debits_posted == MAX_TOTAL


class TestInsufficientFunds:
    def test_refuses_spending_more_than_the_balance(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        postings_before = posting_count(session)
        command = pay(alice, bob, START + 1)

        with pytest.raises(ExceedsCredits) as raised:
            service.transfer(session, command)

        assert raised.value.code == "insufficient_funds"
        assert deposit_balance(session, alice) == START
        assert deposit_balance(session, bob) == START
        assert count_entries(session, command.client_id) == 0
        assert posting_count(session) == postings_before

    def test_a_refused_transfer_is_refused_again_even_once_funded(
        self, session: Session, service: LedgerService, bank: int, alice: int, bob: int
    ) -> None:
        command = pay(alice, bob, START + 1)
        outcome = service.execute(session, [command])[0]
        assert outcome.status == "failed"

        fund(service, session, source=bank, destination=alice, amount=1)
        again = service.execute(session, [command])[0]
        assert errors([again]) == ["insufficient_funds"]
        assert again.error.to_dict() == outcome.error.to_dict()  # type: ignore[union-attr]
        assert deposit_balance(session, alice) == START + 1

    def test_a_new_client_id_pays_once_funded(
        self, session: Session, service: LedgerService, bank: int, alice: int, bob: int
    ) -> None:
        assert service.execute(session, [pay(alice, bob, START + 1)])[0].status == "failed"
        fund(service, session, source=bank, destination=alice, amount=1)

        assert service.transfer(session, pay(alice, bob, START + 1)).status == "created"
        assert deposit_balance(session, alice) == 0

    def test_a_refused_client_id_for_another_transfer_is_a_conflict(
        self, session: Session, service: LedgerService, bank: int, alice: int, bob: int
    ) -> None:
        refused = pay(alice, bob, START + 1)
        assert service.execute(session, [refused])[0].status == "failed"

        other = replace(refused, amount=1)
        outcome = service.execute(session, [other])[0]

        assert errors([outcome]) == ["idempotency_conflict"]
        assert deposit_balance(session, alice) == START


class TestOverdraft:
    def test_allows_going_negative_down_to_the_limit(
        self, session: Session, service: LedgerService, new_deposit: Callable[..., int], bob: int
    ) -> None:
        carol = new_deposit(funds=1_000, overdraft_limit=500)

        service.transfer(session, pay(carol, bob, 1_500))

        assert deposit_balance(session, carol) == -500
        assert balance(service, session, carol).available == 0

    def test_refuses_going_past_the_limit(
        self, session: Session, service: LedgerService, new_deposit: Callable[..., int], bob: int
    ) -> None:
        carol = new_deposit(funds=1_000, overdraft_limit=500)

        with pytest.raises(ExceedsCredits):
            service.transfer(session, pay(carol, bob, 1_501))
        assert deposit_balance(session, carol) == 1_000


class TestRefusedAccounts:
    def test_refuses_a_currency_other_than_the_accounts(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        command = Transfer(
            client_id=unique("t"), debit_account=alice, credit_account=bob, amount=1, currency="USD"
        )
        with pytest.raises(CurrencyMismatch) as raised:
            service.transfer(session, command)
        assert raised.value.code == "currency_mismatch"
        assert deposit_balance(session, alice) == START

    def test_refuses_accounts_in_different_currencies(
        self, session: Session, service: LedgerService, alice: int
    ) -> None:
        dollars = create_deposit(session, currency="USD")
        with pytest.raises(CurrencyMismatch):
            service.transfer(session, pay(alice, dollars, 100))
        assert deposit_balance(session, alice) == START

    def test_refuses_the_same_account_on_both_sides(
        self, session: Session, service: LedgerService, alice: int
    ) -> None:
        with pytest.raises(SameAccount):
            service.transfer(session, pay(alice, alice, 1))

    def test_refuses_the_same_account_by_id_and_by_code(
        self, session: Session, service: LedgerService, alice: int
    ) -> None:
        with pytest.raises(SameAccount):
            service.transfer(session, pay(alice, code_of(service, session, alice), 1))
        assert totals(session, alice).debits_posted == 0

    def test_refuses_an_unknown_code(
        self, session: Session, service: LedgerService, alice: int
    ) -> None:
        with pytest.raises(AccountNotFound) as raised:
            service.transfer(session, pay(alice, "no-such-account", 1))
        assert raised.value.code == "ledger_account_not_found"
        assert deposit_balance(session, alice) == START

    def test_refuses_an_unknown_id(
        self, session: Session, service: LedgerService, alice: int
    ) -> None:
        missing = int(
            session.execute(text("SELECT max(id) + 1000 FROM ledger_account")).scalar_one()
        )
        with pytest.raises(AccountNotFound):
            service.transfer(session, pay(missing, alice, 1))
        assert deposit_balance(session, alice) == START


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


class TestPending:
    def reserve(
        self,
        service: LedgerService,
        session: Session,
        debit: int,
        credit: int,
        amount: int,
        timeout: timedelta | None = None,
    ) -> int:
        command = pay(debit, credit, amount, pending=True, timeout=timeout)
        return service.transfer(session, command).entry_id_or_raise()

    def test_a_reservation_reduces_available_funds_only(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        self.reserve(service, session, alice, bob, 3_000)

        seen = balance(service, session, alice)
        assert (seen.posted, seen.pending_debits, seen.available) == (START, 3_000, START - 3_000)
        assert balance(service, session, bob).available == START  # not there yet
        assert balance(service, session, bob).pending_credits == 3_000

    def test_reserved_money_cannot_be_spent_twice(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        self.reserve(service, session, alice, bob, 3_000)
        with pytest.raises(ExceedsCredits):
            service.transfer(session, pay(alice, bob, START - 3_000 + 1))
        with pytest.raises(ExceedsCredits):
            self.reserve(service, session, alice, bob, START - 3_000 + 1)

    def test_posting_in_full_moves_the_money(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)

        service.transfer(session, PostPending(client_id=unique("post"), pending=pending))

        assert deposit_balance(session, alice) == START - 3_000
        assert deposit_balance(session, bob) == START + 3_000
        assert totals(session, alice).debits_pending == 0
        assert totals(session, bob).credits_pending == 0
        assert hold_state(session, pending) == "posted"

    def test_posting_part_releases_the_rest(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)

        service.transfer(
            session, PostPending(client_id=unique("post"), pending=pending, amount=1_200)
        )

        assert deposit_balance(session, alice) == START - 1_200
        assert balance(service, session, alice).available == START - 1_200
        assert deposit_balance(session, bob) == START + 1_200
        hold = service.entry(session, pending).hold
        assert hold is not None
        assert (hold.state, hold.posted_amount) == ("posted", 1_200)

    def test_posting_by_the_pending_transfers_client_id(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        command = pay(alice, bob, 500, pending=True)
        service.transfer(session, command)
        service.transfer(session, PostPending(client_id=unique("post"), pending=command.client_id))
        assert deposit_balance(session, bob) == START + 500

    def test_voiding_releases_the_reservation(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)

        service.transfer(session, VoidPending(client_id=unique("void"), pending=pending))

        assert balance(service, session, alice) == Balance(START, 0, 0, START)
        assert deposit_balance(session, bob) == START
        assert hold_state(session, pending) == "voided"

    def test_refuses_posting_more_than_pending(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)
        with pytest.raises(PostExceedsPending):
            service.transfer(
                session, PostPending(client_id=unique("post"), pending=pending, amount=3_001)
            )
        assert hold_state(session, pending) == "pending"
        assert totals(session, alice).debits_pending == 3_000

    def test_refuses_posting_twice(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)
        service.transfer(session, PostPending(client_id=unique("post"), pending=pending))

        with pytest.raises(PendingAlreadyResolved) as raised:
            service.transfer(session, PostPending(client_id=unique("post"), pending=pending))
        assert raised.value.code == "pending_transfer_already_resolved"
        assert deposit_balance(session, alice) == START - 3_000

    def test_refuses_posting_after_a_void(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)
        service.transfer(session, VoidPending(client_id=unique("void"), pending=pending))
        with pytest.raises(PendingAlreadyResolved):
            service.transfer(session, PostPending(client_id=unique("post"), pending=pending))
        assert deposit_balance(session, alice) == START

    def test_a_retried_post_is_not_applied_twice(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000)
        post = PostPending(client_id=unique("post"), pending=pending, amount=1_000)
        first = service.transfer(session, post)
        again = service.transfer(session, post)
        assert (again.status, again.entry_id) == ("exists", first.entry_id)
        assert deposit_balance(session, alice) == START - 1_000

    def test_refuses_an_unknown_pending_transfer(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        entry_id = service.transfer(session, pay(alice, bob, 1)).entry_id_or_raise()
        with pytest.raises(PendingNotFound):
            service.transfer(session, PostPending(client_id=unique("post"), pending=entry_id))

    def test_refuses_a_timeout_on_a_plain_transfer(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        with pytest.raises(InvalidEntry):
            service.transfer(session, pay(alice, bob, 1, timeout=timedelta(minutes=5)))

    def test_posting_before_the_timeout_succeeds(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000, timedelta(minutes=30))
        clock.advance(timedelta(minutes=29))
        service.transfer(session, PostPending(client_id=unique("post"), pending=pending))
        assert deposit_balance(session, bob) == START + 3_000

    def test_posting_after_the_timeout_fails_and_releases_the_reservation(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000, timedelta(minutes=30))
        clock.advance(timedelta(minutes=31))

        with pytest.raises(PendingExpired) as raised:
            service.transfer(session, PostPending(client_id=unique("post"), pending=pending))

        assert raised.value.code == "pending_transfer_expired"
        assert balance(service, session, alice) == Balance(START, 0, 0, START)
        assert deposit_balance(session, bob) == START
        assert hold_state(session, pending) == "expired"
        assert service.verify(session) == {}

    def test_a_late_post_inside_a_linked_chain_still_expires_the_hold(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 3_000, timedelta(minutes=30))
        clock.advance(timedelta(minutes=31))

        outcomes = service.execute(
            session,
            [
                PostPending(client_id=unique("post"), pending=pending, linked=True),
                pay(alice, bob, 100),
            ],
        )

        assert errors(outcomes) == ["pending_transfer_expired", "linked_chain_failed"]
        assert hold_state(session, pending) == "expired"
        assert balance(service, session, alice) == Balance(START, 0, 0, START)

    def test_expire_due_holds_releases_only_due_holds(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        short = self.reserve(service, session, alice, bob, 1_000, timedelta(minutes=10))
        long = self.reserve(service, session, alice, bob, 2_000, timedelta(hours=2))
        forever = self.reserve(service, session, alice, bob, 3_000)
        clock.advance(timedelta(minutes=11))

        assert service.expire_due_holds(session) == 1
        assert service.expire_due_holds(session) == 0

        assert [hold_state(session, h) for h in (short, long, forever)] == [
            "expired",
            "pending",
            "pending",
        ]
        assert totals(session, alice).debits_pending == 5_000
        assert totals(session, bob).credits_pending == 5_000
        assert deposit_balance(session, alice) == START

    # A client's ids and the ids the ledger gives its own expiry entries must never
    # collide: a collision once kept a hold pending for ever.
    def test_a_client_id_like_an_expiry_does_not_block_the_expiry(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 1_000, timedelta(minutes=10))
        service.transfer(session, pay(bob, alice, 5, client_id=f"expire:{pending}"))
        clock.advance(timedelta(minutes=11))

        assert service.expire_due_holds(session) == 1
        assert hold_state(session, pending) == "expired"
        assert totals(session, alice).debits_pending == 0

    def test_a_client_id_like_an_expiry_does_not_break_a_late_post(
        self,
        session: Session,
        service: LedgerService,
        clock: FrozenClock,
        alice: int,
        bob: int,
    ) -> None:
        pending = self.reserve(service, session, alice, bob, 1_000, timedelta(minutes=10))
        service.transfer(session, pay(bob, alice, 5, client_id=f"expire:{pending}"))
        clock.advance(timedelta(minutes=11))

        with session.begin_nested():
            outcome = service.execute(
                session, [PostPending(client_id=unique("post"), pending=pending)]
            )[0]
        assert isinstance(outcome.error, PendingExpired)
        assert totals(session, alice).debits_pending == 0


class TestReversal:
    def test_reverses_the_postings(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        original = service.transfer(session, pay(alice, bob, 800)).entry_id_or_raise()

        reversal = service.transfer(session, Reverse(client_id=unique("rev"), entry=original))

        assert deposit_balance(session, alice) == START
        assert deposit_balance(session, bob) == START
        entry = service.entry(session, reversal.entry_id_or_raise())
        assert (entry.kind, entry.reverses_id) == ("reversal", original)
        assert [(p.account_id, p.amount) for p in entry.postings] == [(alice, -800), (bob, 800)]
        assert service.entry(session, original).reversed_by == entry.id

    def test_refuses_a_second_reversal(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        original = service.transfer(session, pay(alice, bob, 800)).entry_id_or_raise()
        service.transfer(session, Reverse(client_id=unique("rev"), entry=original))

        with pytest.raises(AlreadyReversed) as raised:
            service.transfer(session, Reverse(client_id=unique("rev"), entry=original))
        assert raised.value.code == "entry_already_reversed"
        assert deposit_balance(session, alice) == START

    def test_refuses_two_reversals_in_one_batch(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        original = service.transfer(session, pay(alice, bob, 800)).entry_id_or_raise()
        outcomes = service.execute(
            session,
            [
                Reverse(client_id=unique("rev"), entry=original),
                Reverse(client_id=unique("rev"), entry=original),
            ],
        )
        assert errors(outcomes) == [None, "entry_already_reversed"]
        assert deposit_balance(session, alice) == START

    def test_refuses_reversing_a_pending_transfer(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = service.transfer(session, pay(alice, bob, 800, pending=True))
        with pytest.raises(NotReversible) as raised:
            service.transfer(
                session, Reverse(client_id=unique("rev"), entry=pending.entry_id_or_raise())
            )
        assert raised.value.code == "entry_not_reversible"
        assert totals(session, alice).debits_pending == 800

    def test_refuses_reversing_a_reversal(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        original = service.transfer(session, pay(alice, bob, 800)).entry_id_or_raise()
        reversal = service.transfer(session, Reverse(client_id=unique("rev"), entry=original))
        with pytest.raises(NotReversible):
            service.transfer(
                session, Reverse(client_id=unique("rev"), entry=reversal.entry_id_or_raise())
            )

    def test_reverses_a_posted_pending_transfer_by_client_id(
        self, session: Session, service: LedgerService, alice: int, bob: int
    ) -> None:
        pending = service.transfer(session, pay(alice, bob, 800, pending=True))
        post = PostPending(client_id=unique("post"), pending=pending.entry_id_or_raise())
        service.transfer(session, post)

        service.transfer(session, Reverse(client_id=unique("rev"), entry=post.client_id))

        assert deposit_balance(session, alice) == START
        assert deposit_balance(session, bob) == START

    def test_refuses_a_reversal_the_payee_cannot_afford(
        self,
        session: Session,
        service: LedgerService,
        new_deposit: Callable[..., int],
        alice: int,
        bob: int,
    ) -> None:
        carol = new_deposit(funds=0)
        original = service.transfer(session, pay(alice, carol, 800)).entry_id_or_raise()
        service.transfer(session, pay(carol, bob, 500))

        with pytest.raises(ExceedsCredits):
            service.transfer(session, Reverse(client_id=unique("rev"), entry=original))
        assert deposit_balance(session, carol) == 300

    def test_refuses_an_unknown_entry(self, session: Session, service: LedgerService) -> None:
        with pytest.raises(TransferNotFound):
            service.transfer(session, Reverse(client_id=unique("rev"), entry="no-such-entry"))


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
