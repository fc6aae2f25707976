"""LedgerService transfers against real PostgreSQL, each test rolled back: money
moved or refused, and the text and accounts they leave."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.ledger.errors import (
    AccountCodeTaken,
    AccountNotFound,
    BalanceOverflow,
    CurrencyMismatch,
    CurrencyNotFound,
    ExceedsCredits,
    InvalidEntry,
    SameAccount,
)
from rongbank.ledger.rules import MAX_TOTAL, AccountType, BalanceRule
from rongbank.ledger.service import (
    SYSTEM_PREFIX,
    Balance,
    Command,
    LedgerService,
    PostPending,
    Reverse,
    Transfer,
    VoidPending,
    balance_of,
)
from rongbank.money import MAX_AMOUNT_MINOR, AmountNotPositive, AmountOutOfRange
from tests.ledger.factories import (
    START,
    balance,
    code_of,
    count_entries,
    create_deposit,
    deposit_balance,
    errors,
    fund,
    pay,
    posting_count,
    totals,
    unique,
)


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
