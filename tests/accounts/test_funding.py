"""Money in and out through cards bound at other banks.

The service tests run on a fresh database with real commits: top-ups and
withdrawals commit between their steps (the network call sits outside any
transaction), so the test's rolled-back transaction cannot hold them. Every such
test ends by checking that the ledger verifies clean.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.accounts.bound_cards import (
    BoundCardLimitReached,
    CardAlreadyBound,
    CardHolderMismatch,
    CardNotFound,
    CardNumberInvalid,
    CardRefused,
)
from rongbank.accounts.clearing import (
    ClearingRequest,
    ClearingResult,
    Decline,
    FakeClearingNetwork,
    TimeOut,
)
from rongbank.accounts.errors import (
    AccountFrozen,
    BalanceCapExceeded,
    NewCardLimitExceeded,
    NotYourAccount,
)
from rongbank.accounts.funding import (
    CLEARING_ACCOUNT,
    FundingDone,
    FundingService,
    FundingState,
    Resolved,
)
from rongbank.accounts.rules import NewCardLimit
from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.idempotency import remembering
from rongbank.ledger.errors import ExceedsCredits, IdempotencyConflict
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer, balance_of
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.factories.cards import CARD, card_number
from tests.factories.identity import resident_id
from tests.factories.people import V1, People
from tests.support.funding import CardHolder

CARD_KEY = b"test-card-hash-key"
WINDOW = timedelta(seconds=60)
AFTER_DEADLINE = WINDOW + timedelta(seconds=10)
NO_NEW_CARD_LIMIT = NewCardLimit(period=timedelta(0), daily=0)
"""These tests follow the money's path; the new-card limit has tests of its own
(``tests/accounts/test_payout_cards.py``)."""


class Bank:
    """A platform on a fresh database, a fake clearing network and the funding
    service, with the few steps the tests repeat."""

    def __init__(self, url: str) -> None:
        self.clock = FrozenClock(datetime(2026, 3, 2, 1, 30, tzinfo=UTC))
        self.platform = Platform.connect(url, Settings(), clock=self.clock, group_commit=False)
        self.network = FakeClearingNetwork(clock=self.clock)
        self.funding = FundingService(
            self.platform.ledger,
            self.platform.accounts,
            self.clock,
            self.network,
            card_hash_key=CARD_KEY,
            new_card=NO_NEW_CARD_LIMIT,
            request_window=WINDOW,
        )
        self.factory = self.platform.session_factory
        self._people = 0

    def customer(self, name: str = "张三", *, account_class: int = 2) -> tuple[int, str]:
        """A registered person and the number of an account of theirs in the class."""
        self._people += 1
        with self.platform.transaction() as session:
            person, account = self.platform.accounts.register_person(
                session,
                name=name,
                mobile=f"1390000{self._people:04d}",
                resident_id=resident_id(self._people),
            )
            if account_class != account.account_class:
                account = self.platform.accounts.open_account(
                    session, customer_id=person.id, account_class=account_class
                )
        return person.id, account.number

    def bind(self, customer_id: int, number: str = CARD, holder: str = "张三") -> int:
        with self.platform.transaction() as session:
            card = self.funding.bind_card(
                session, customer_id=customer_id, card_number=number, holder_name=holder
            )
        return card.id

    def fund(self, number: str, amount: int) -> None:
        with self.platform.transaction() as session:
            vault, _ = self.platform.ledger.create_account(
                session, code="bank:vault", currency="CNY", type=AccountType.ASSET
            )
            account = self.platform.accounts.account(session, number)
            self.platform.ledger.transfer(
                session,
                Transfer(
                    client_id=f"fund-{number}-{amount}",
                    debit_account=vault.id,
                    credit_account=account.ledger_account_id,
                    amount=amount,
                    currency="CNY",
                ),
            )

    def available(self, number: str) -> int:
        with self.platform.transaction() as session:
            return self.platform.accounts.available(
                session, self.platform.accounts.account(session, number)
            )

    def posted(self, number: str) -> int:
        with self.platform.transaction() as session:
            account = self.platform.accounts.account(session, number)
            return balance_of(
                self.platform.ledger.account(session, account.ledger_account_id)
            ).posted

    def clearing(self) -> int:
        """What other banks owe us, net (an asset: debits minus credits)."""
        with self.platform.transaction() as session:
            return balance_of(self.platform.ledger.account(session, CLEARING_ACCOUNT)).posted

    def top_up(self, customer: tuple[int, str], card_id: int, amount: int, cid: str) -> FundingDone:
        return self.funding.top_up(
            self.factory,
            customer_id=customer[0],
            account_number=customer[1],
            card_id=card_id,
            amount=amount,
            client_id=cid,
            opened=lambda key: remembering(self.platform.transaction, key, self.platform.clock),
        )

    def withdraw(
        self, customer: tuple[int, str], card_id: int, amount: int, cid: str
    ) -> FundingDone:
        return self.funding.withdraw(
            self.factory,
            customer_id=customer[0],
            account_number=customer[1],
            card_id=card_id,
            amount=amount,
            client_id=cid,
            opened=lambda key: remembering(self.platform.transaction, key, self.platform.clock),
        )

    def resolve_after_deadline(self) -> Resolved:
        self.clock.advance(AFTER_DEADLINE)
        return self.funding.resolve_unknown(self.factory)

    def state(self, done: FundingDone) -> FundingState:
        with self.platform.transaction() as session:
            request = self.funding.request(
                session, customer_id=done.request.customer_id, request_id=done.request.id
            )
        return request.state

    def requests(self) -> int:
        with self.platform.transaction() as session:
            return int(session.execute(text("SELECT count(*) FROM funding_request")).scalar_one())


@pytest.fixture
def bank(fresh_db: str) -> Iterator[Bank]:
    bank = Bank(fresh_db)
    try:
        yield bank
        with bank.platform.transaction() as session:
            assert bank.platform.ledger.verify(session) == {}
    finally:
        bank.platform.close()


@pytest.fixture
def alice(bank: Bank) -> tuple[int, str]:
    return bank.customer()


@pytest.fixture
def alice_card(bank: Bank, alice: tuple[int, str]) -> int:
    return bank.bind(alice[0])


class TestBindCard:
    def test_a_card_is_shown_masked_and_its_number_is_not_stored(
        self, bank: Bank, alice: tuple[int, str]
    ) -> None:
        bank.bind(alice[0])
        with bank.platform.transaction() as session:
            cards = bank.funding.cards(session, alice[0])
            stored = session.execute(text("SELECT bound_card::text FROM bound_card")).scalars()
            assert not any(CARD in row for row in stored)
        assert [(c.masked, c.holder_name, c.bank_name) for c in cards] == [
            (f"{CARD[:6]}*********{CARD[-4:]}", "张三", "工商银行")
        ]

    def test_the_cards_bank_is_named_by_its_first_digits_or_not_at_all(
        self, bank: Bank, alice: tuple[int, str]
    ) -> None:
        bank.bind(alice[0], card_number(2, bin_="621661"))
        bank.bind(alice[0], card_number(3, bin_="411111", length=16))  # an issuer not known
        with bank.platform.transaction() as session:
            cards = bank.funding.cards(session, alice[0])
        assert sorted((c.masked[:6], c.bank_name or "") for c in cards) == [
            ("411111", ""),
            ("621661", "中国银行"),
        ]

    def test_spaces_and_full_width_digits_are_accepted(
        self, bank: Bank, alice: tuple[int, str]
    ) -> None:
        typed = " ".join(CARD[i : i + 4] for i in range(0, len(CARD), 4))
        full_width = typed.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        bank.bind(alice[0], full_width)
        with pytest.raises(CardAlreadyBound):
            bank.bind(alice[0], CARD)

    @pytest.mark.parametrize(
        "number",
        [
            CARD[:-1] + str((int(CARD[-1]) + 1) % 10),  # check digit wrong
            card_number(1, length=15),
            card_number(1, length=20),
            "6222O2" + CARD[6:],  # a letter O typed for a zero
        ],
    )
    def test_invalid_numbers_are_refused_before_asking_the_issuer(
        self, bank: Bank, alice: tuple[int, str], number: str
    ) -> None:
        with pytest.raises(CardNumberInvalid):
            bank.bind(alice[0], number)
        assert bank.network.count("enrol_card") == 0

    def test_the_same_card_cannot_be_bound_twice_until_unbound(
        self, bank: Bank, alice: tuple[int, str]
    ) -> None:
        card_id = bank.bind(alice[0])
        with pytest.raises(CardAlreadyBound):
            bank.bind(alice[0])
        with bank.platform.transaction() as session:
            bank.funding.unbind_card(session, customer_id=alice[0], card_id=card_id)
        assert bank.bind(alice[0]) != card_id

    def test_at_most_five_cards(self, bank: Bank, alice: tuple[int, str]) -> None:
        for sequence in range(1, 6):
            bank.bind(alice[0], card_number(sequence))
        with pytest.raises(BoundCardLimitReached):
            bank.bind(alice[0], card_number(6))
        assert bank.network.count("enrol_card") == 5

    def test_only_a_card_in_the_customers_own_name(
        self, bank: Bank, alice: tuple[int, str]
    ) -> None:
        with pytest.raises(CardHolderMismatch):
            bank.bind(alice[0], holder="李四")

    def test_a_card_the_issuer_refuses_is_not_bound(
        self, bank: Bank, alice: tuple[int, str]
    ) -> None:
        bank.network.refuse_enrolment(CARD, "card reported lost")
        with pytest.raises(CardRefused):
            bank.bind(alice[0])
        with bank.platform.transaction() as session:
            assert bank.funding.cards(session, alice[0]) == []

    def test_another_customers_card_cannot_be_unbound(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bob = bank.customer("李雷")
        with pytest.raises(CardNotFound), bank.platform.transaction() as session:
            bank.funding.unbind_card(session, customer_id=bob[0], card_id=alice_card)


class TestTopUp:
    def test_the_account_is_credited_once_the_card_is_debited(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        done = bank.top_up(alice, alice_card, 50_000, "t1")
        assert (done.status, done.request.state) == ("created", FundingState.SUCCEEDED)
        assert bank.available(alice[1]) == 50_000
        assert bank.network.moved(CARD) == -50_000
        assert bank.clearing() == 50_000

    def test_a_declined_card_credits_nothing(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.network.script(CARD, Decline("insufficient balance on card"))
        done = bank.top_up(alice, alice_card, 50_000, "t1")
        assert (done.request.state, done.request.reason) == (
            FundingState.FAILED,
            "insufficient balance on card",
        )
        assert bank.available(alice[1]) == 0

    def test_no_answer_then_the_network_says_it_succeeded(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.network.script(CARD, TimeOut(carried_out=True))
        done = bank.top_up(alice, alice_card, 50_000, "t1")
        assert done.request.state is FundingState.UNKNOWN
        assert bank.available(alice[1]) == 0
        assert bank.funding.resolve_unknown(bank.factory) == Resolved()  # deadline not passed
        assert bank.resolve_after_deadline() == Resolved(succeeded=1)
        assert bank.state(done) is FundingState.SUCCEEDED
        assert bank.available(alice[1]) == 50_000
        assert bank.funding.resolve_unknown(bank.factory) == Resolved()
        assert bank.available(alice[1]) == 50_000

    def test_no_answer_then_the_network_says_it_failed(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.network.script(CARD, TimeOut(carried_out=False))
        done = bank.top_up(alice, alice_card, 50_000, "t1")
        assert bank.resolve_after_deadline() == Resolved(failed=1)
        assert bank.state(done) is FundingState.FAILED
        assert bank.available(alice[1]) == 0
        assert bank.network.moved(CARD) == 0

    def test_a_crash_after_the_pull_is_credited_by_the_resolver(
        self,
        bank: Bank,
        alice: tuple[int, str],
        alice_card: int,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(bank.network, "debit_card", dies_after(bank.network.debit_card))
        with pytest.raises(ProcessDied):
            bank.top_up(alice, alice_card, 50_000, "t1")
        monkeypatch.undo()
        assert bank.resolve_after_deadline() == Resolved(succeeded=1)
        assert bank.available(alice[1]) == 50_000

    def test_a_retry_returns_the_stored_result_and_never_calls_the_network(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        first = bank.top_up(alice, alice_card, 50_000, "t1")
        again = bank.top_up(alice, alice_card, 50_000, "t1")
        assert (again.status, again.request) == ("exists", first.request)
        assert bank.network.count("debit_card") == 1
        assert bank.available(alice[1]) == 50_000

    def test_a_retry_of_an_unanswered_request_does_not_call_again(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.network.script(CARD, TimeOut(carried_out=True))
        bank.top_up(alice, alice_card, 50_000, "t1")
        again = bank.top_up(alice, alice_card, 50_000, "t1")
        assert (again.status, again.request.state) == ("exists", FundingState.UNKNOWN)
        assert bank.network.count("debit_card") == 1

    def test_the_same_client_id_for_another_request_is_a_conflict(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.top_up(alice, alice_card, 50_000, "t1")
        with pytest.raises(IdempotencyConflict):
            bank.top_up(alice, alice_card, 60_000, "t1")
        with pytest.raises(IdempotencyConflict):
            bank.withdraw(alice, alice_card, 50_000, "t1")
        assert bank.network.count("debit_card") + bank.network.count("credit_card") == 1

    def test_a_class_three_account_keeps_its_balance_cap(self, bank: Bank) -> None:
        customer = bank.customer(account_class=3)
        card_id = bank.bind(customer[0])
        bank.fund(customer[1], 150_000)
        with pytest.raises(BalanceCapExceeded):
            bank.top_up(customer, card_id, 50_001, "t1")
        assert (bank.network.count("debit_card"), bank.requests()) == (0, 0)
        assert bank.top_up(customer, card_id, 50_000, "t2").request.state is FundingState.SUCCEEDED
        assert bank.available(customer[1]) == 200_000

    def test_top_ups_under_way_count_towards_the_cap(self, bank: Bank) -> None:
        customer = bank.customer(account_class=3)
        card_id = bank.bind(customer[0])
        bank.network.script(CARD, TimeOut(carried_out=True))
        bank.top_up(customer, card_id, 150_000, "t1")
        with pytest.raises(BalanceCapExceeded):
            bank.top_up(customer, card_id, 60_000, "t2")

    def test_bound_card_money_is_outside_the_daily_limits(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        # Class II may take in 10,000 yuan a day from others; its own card is not limited.
        bank.top_up(alice, alice_card, 3_000_000, "t1")
        bank.withdraw(alice, alice_card, 2_500_000, "w1")
        assert bank.available(alice[1]) == 500_000

    def test_only_own_accounts_and_cards(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bob = bank.customer("李雷")
        with pytest.raises(NotYourAccount):
            bank.top_up((bob[0], alice[1]), alice_card, 100, "t1")
        with pytest.raises(CardNotFound):
            bank.top_up(bob, alice_card, 100, "t2")
        assert bank.network.count("debit_card") == 0


class TestWithdraw:
    def test_the_card_is_paid_from_the_account(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.fund(alice[1], 100_000)
        done = bank.withdraw(alice, alice_card, 30_000, "w1")
        assert done.request.state is FundingState.SUCCEEDED
        assert (bank.posted(alice[1]), bank.available(alice[1])) == (70_000, 70_000)
        assert bank.network.moved(CARD) == 30_000
        assert bank.clearing() == -30_000

    def test_a_declined_withdrawal_gives_the_money_back(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.fund(alice[1], 100_000)
        bank.network.script(CARD, Decline("card closed"))
        done = bank.withdraw(alice, alice_card, 30_000, "w1")
        assert (done.request.state, done.request.reason) == (FundingState.FAILED, "card closed")
        assert (bank.posted(alice[1]), bank.available(alice[1])) == (100_000, 100_000)

    def test_no_answer_holds_the_money_until_the_network_says_it_paid(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.fund(alice[1], 100_000)
        bank.network.script(CARD, TimeOut(carried_out=True))
        done = bank.withdraw(alice, alice_card, 30_000, "w1")
        assert done.request.state is FundingState.UNKNOWN
        assert (bank.posted(alice[1]), bank.available(alice[1])) == (100_000, 70_000)
        assert bank.resolve_after_deadline() == Resolved(succeeded=1)
        assert (bank.posted(alice[1]), bank.available(alice[1])) == (70_000, 70_000)
        assert bank.network.moved(CARD) == 30_000

    def test_no_answer_then_the_network_says_it_failed_gives_the_money_back(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.fund(alice[1], 100_000)
        bank.network.script(CARD, TimeOut(carried_out=False))
        done = bank.withdraw(alice, alice_card, 30_000, "w1")
        assert bank.resolve_after_deadline() == Resolved(failed=1)
        assert bank.state(done) is FundingState.FAILED
        assert (bank.posted(alice[1]), bank.available(alice[1])) == (100_000, 100_000)
        assert bank.network.moved(CARD) == 0

    def test_the_hold_outlives_its_request_while_the_outcome_is_unknown(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.fund(alice[1], 100_000)
        bank.network.script(CARD, TimeOut(carried_out=True))
        bank.withdraw(alice, alice_card, 30_000, "w1")
        bank.network.unreachable = True
        bank.clock.advance(timedelta(days=30))
        with bank.platform.transaction() as session:
            assert bank.platform.ledger.expire_due_holds(session) == 0
        assert bank.funding.resolve_unknown(bank.factory) == Resolved(left_open=1)
        assert bank.available(alice[1]) == 70_000
        bank.network.unreachable = False
        assert bank.funding.resolve_unknown(bank.factory) == Resolved(succeeded=1)
        assert bank.posted(alice[1]) == 70_000

    def test_a_crash_before_the_call_is_released_after_the_deadline(
        self,
        bank: Bank,
        alice: tuple[int, str],
        alice_card: int,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        bank.fund(alice[1], 100_000)
        sent: list[ClearingRequest] = []
        monkeypatch.setattr(bank.network, "credit_card", dies_before(sent))
        with pytest.raises(ProcessDied):
            bank.withdraw(alice, alice_card, 30_000, "w1")
        monkeypatch.undo()
        assert bank.available(alice[1]) == 70_000  # the hold was committed before the call
        assert bank.resolve_after_deadline() == Resolved(failed=1)
        assert bank.available(alice[1]) == 100_000
        # Had the request still reached the network, it would be refused now.
        late = bank.network.credit_card(sent[0])
        assert late.status == "failed"
        assert bank.network.moved(CARD) == 0

    def test_a_crash_after_the_payment_is_posted_by_the_resolver(
        self,
        bank: Bank,
        alice: tuple[int, str],
        alice_card: int,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        bank.fund(alice[1], 100_000)
        monkeypatch.setattr(bank.network, "credit_card", dies_after(bank.network.credit_card))
        with pytest.raises(ProcessDied):
            bank.withdraw(alice, alice_card, 30_000, "w1")
        monkeypatch.undo()
        assert bank.resolve_after_deadline() == Resolved(succeeded=1)
        assert (bank.posted(alice[1]), bank.network.moved(CARD)) == (70_000, 30_000)

    def test_insufficient_funds_reserve_nothing_and_call_no_one(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.fund(alice[1], 10_000)
        with pytest.raises(ExceedsCredits):
            bank.withdraw(alice, alice_card, 10_001, "w1")
        assert (bank.network.count("credit_card"), bank.requests()) == (0, 0)
        assert bank.available(alice[1]) == 10_000

    def test_a_frozen_account_cannot_withdraw(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.fund(alice[1], 10_000)
        with bank.platform.transaction() as session:
            bank.platform.accounts.set_status(
                session, number=alice[1], status="frozen", reason="涉嫌诈骗"
            )
        with pytest.raises(AccountFrozen):
            bank.withdraw(alice, alice_card, 1_000, "w1")
        assert bank.network.count("credit_card") == 0

    def test_concurrent_retries_pay_once(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.fund(alice[1], 100_000)
        start = threading.Barrier(8)
        results: list[FundingDone] = []

        def attempt() -> None:
            start.wait()
            results.append(bank.withdraw(alice, alice_card, 30_000, "w1"))

        threads = [threading.Thread(target=attempt) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 8
        assert len({r.request.id for r in results}) == 1
        assert sorted(r.status for r in results).count("created") == 1
        assert bank.network.count("credit_card") == 1
        assert bank.posted(alice[1]) == 70_000


class TestNewCard:
    """The lower limit of a card's first days, where the money moves (HTTP:
    ``tests/accounts/test_payout_cards.py``)."""

    LIMIT = NewCardLimit(period=timedelta(days=3), daily=100_000)

    def test_withdrawals_from_two_accounts_at_once_stay_within_it(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.funding.new_card = self.LIMIT
        with bank.platform.transaction() as session:
            other = bank.platform.accounts.open_account(
                session, customer_id=alice[0], account_class=2
            ).number
        for number in (alice[1], other):
            bank.fund(number, 100_000)
        start = threading.Barrier(8)
        outcomes: list[str] = []

        def attempt(n: int) -> None:
            start.wait()
            account = (alice[0], alice[1] if n % 2 else other)
            try:
                bank.withdraw(account, alice_card, 30_000, f"w{n}")
                outcomes.append("paid")
            except NewCardLimitExceeded:
                outcomes.append("refused")

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["paid"] * 3 + ["refused"] * 5
        assert bank.network.moved(CARD) == 90_000

    def test_a_declined_withdrawal_does_not_count_and_an_unanswered_one_does(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.funding.new_card = self.LIMIT
        bank.fund(alice[1], 200_000)
        bank.network.script(CARD, Decline("card closed"))
        bank.withdraw(alice, alice_card, 100_000, "w1")
        bank.network.script(CARD, TimeOut(carried_out=True))
        assert bank.withdraw(alice, alice_card, 60_000, "w2").request.state is FundingState.UNKNOWN
        with pytest.raises(NewCardLimitExceeded):
            bank.withdraw(alice, alice_card, 40_001, "w3")
        assert (
            bank.withdraw(alice, alice_card, 40_000, "w4").request.state is FundingState.SUCCEEDED
        )

    def test_top_ups_and_cards_past_their_first_days_are_not_limited(
        self, bank: Bank, alice: tuple[int, str], alice_card: int
    ) -> None:
        bank.funding.new_card = self.LIMIT
        assert bank.top_up(alice, alice_card, 500_000, "t1").request.state is FundingState.SUCCEEDED
        bank.clock.advance(self.LIMIT.period)
        done = bank.withdraw(alice, alice_card, 500_000, "w1")
        assert done.request.state is FundingState.SUCCEEDED

    def test_a_binding_names_its_card_and_no_other(
        self, bank: Bank, alice: tuple[int, str]
    ) -> None:
        typed = " ".join(CARD[i : i + 4] for i in range(0, len(CARD), 4))
        with bank.platform.transaction() as session:
            changes = [
                bank.funding.card_binding(
                    session, customer_id=alice[0], card_number=number, holder_name="张三"
                )
                for number in (CARD, typed, card_number(2))
            ]
        digests = [binding.change.digest() for binding in changes]
        assert digests[0] == digests[1] != digests[2]
        assert changes[0].masked == f"{CARD[:6]}*********{CARD[-4:]}"
        assert CARD not in repr(changes[0].change)  # the keyed hash, never the number
        assert bank.network.count("enrol_card") == 0


class ProcessDied(Exception):
    """Stands for the process dying around the network call."""


def dies_after(call: Callable[[ClearingRequest], ClearingResult]) -> Any:
    def dying(request: ClearingRequest) -> ClearingResult:
        call(request)
        raise ProcessDied()

    return dying


def dies_before(sent: list[ClearingRequest]) -> Any:
    def dying(request: ClearingRequest) -> ClearingResult:
        sent.append(request)
        raise ProcessDied()

    return dying


# -- over HTTP -----------------------------------------------------------------------


@pytest.fixture
def network(platform: Platform) -> FakeClearingNetwork:
    assert isinstance(platform.funding.network, FakeClearingNetwork)
    return platform.funding.network


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


def bind(client: TestClient, person: dict[str, Any], number: str = CARD) -> Any:
    """Bind a card as its owner does, answering the SMS code; the card, or the refusal."""
    holder = CardHolder(client, client.app.state.platform, person)  # type: ignore[attr-defined]
    asked = holder.bind(number)
    if asked.status_code != 403:
        return asked
    challenge = asked.json()["error"]["details"]["challenge"]
    return holder.bind(number, challenge_id=challenge["id"], response=holder.code())


def move(
    client: TestClient,
    kind: str,
    person: dict[str, Any],
    card_id: int,
    amount: str,
    *,
    key: str,
) -> Any:
    return client.post(
        f"{V1}/me/{kind}",
        headers={**person["headers"], "Idempotency-Key": key},
        json={"account": person["account"]["number"], "card_id": card_id, "amount": amount},
    )


class TestHttp:
    def test_bind_top_up_withdraw_and_retry(self, client: TestClient, people: People) -> None:
        alice = people.register()
        bound = bind(client, alice)
        assert bound.status_code == 201, bound.text
        card = bound.json()
        assert card["masked"] == f"{CARD[:6]}*********{CARD[-4:]}"
        listed = client.get(f"{V1}/me/cards", headers=alice["headers"]).json()
        assert [c["id"] for c in listed] == [card["id"]]

        top_up = move(client, "top-ups", alice, card["id"], "500.00", key="t1")
        again = move(client, "top-ups", alice, card["id"], "500.00", key="t1")
        assert (top_up.status_code, again.status_code) == (201, 200)
        assert top_up.json() == again.json()
        assert top_up.json()["state"] == "succeeded"

        withdrawal = move(client, "withdrawals", alice, card["id"], "120.50", key="w1")
        assert withdrawal.status_code == 201
        assert (withdrawal.json()["kind"], withdrawal.json()["amount"]) == ("withdraw", "120.50")
        accounts = client.get(f"{V1}/me/accounts", headers=alice["headers"]).json()
        assert accounts[0]["available"] == "379.50"

        shown = client.get(f"{V1}/me/funding/{withdrawal.json()['id']}", headers=alice["headers"])
        assert shown.json() == withdrawal.json()

    def test_no_answer_from_the_network_is_202_unknown(
        self, client: TestClient, people: People, network: FakeClearingNetwork
    ) -> None:
        alice = people.register()
        card_id = bind(client, alice).json()["id"]
        network.script(CARD, TimeOut(carried_out=True))
        response = move(client, "top-ups", alice, card_id, "10.00", key="t1")
        assert response.status_code == 202
        assert response.json()["state"] == "unknown"
        again = move(client, "top-ups", alice, card_id, "10.00", key="t1")
        assert (again.status_code, again.json()["state"]) == (202, "unknown")

    def test_a_declined_card_is_a_failed_request(
        self, client: TestClient, people: People, network: FakeClearingNetwork
    ) -> None:
        alice = people.register()
        card_id = bind(client, alice).json()["id"]
        network.script(CARD, Decline("card closed"))
        response = move(client, "top-ups", alice, card_id, "10.00", key="t1")
        assert response.status_code == 201
        assert (response.json()["state"], response.json()["reason"]) == ("failed", "card closed")

    def test_another_customers_cards_and_requests_are_not_found(
        self, client: TestClient, people: People
    ) -> None:
        alice, bob = people.register(), people.register("李雷")
        card_id = bind(client, alice).json()["id"]
        request_id = move(client, "top-ups", alice, card_id, "10.00", key="t1").json()["id"]
        looks = [
            client.get(f"{V1}/me/funding/{request_id}", headers=bob["headers"]),
            client.delete(f"{V1}/me/cards/{card_id}", headers=bob["headers"]),
            move(client, "top-ups", bob, card_id, "10.00", key="t2"),
        ]
        assert [r.status_code for r in looks] == [404, 404, 404]
        assert client.get(f"{V1}/me/cards", headers=bob["headers"]).json() == []

    def test_unbinding_removes_the_card(self, client: TestClient, people: People) -> None:
        alice = people.register()
        card_id = bind(client, alice).json()["id"]
        response = client.delete(f"{V1}/me/cards/{card_id}", headers=alice["headers"])
        assert response.status_code == 204
        assert client.get(f"{V1}/me/cards", headers=alice["headers"]).json() == []

    def test_refusals_are_clear_errors(self, client: TestClient, people: People) -> None:
        alice = people.register()
        card_id = bind(client, alice).json()["id"]
        no_key = client.post(
            f"{V1}/me/top-ups",
            headers=alice["headers"],
            json={"account": alice["account"]["number"], "card_id": card_id, "amount": "1.00"},
        )
        bad_card = bind(client, alice, CARD[:-1] + str((int(CARD[-1]) + 1) % 10))
        too_much = move(client, "withdrawals", alice, card_id, "1.00", key="w1")
        codes = [r.json()["error"]["code"] for r in (no_key, bad_card, too_much)]
        assert codes == ["client_id_required", "card_number_invalid", "insufficient_funds"]

    def test_customers_only(self, client: TestClient) -> None:
        assert client.get(f"{V1}/me/cards").status_code == 401


class TestFakeNetwork:
    def test_a_repeated_reference_moves_money_once(self) -> None:
        network = FakeClearingNetwork()
        token = network.enrol_card(card_number=CARD, holder_name="张三").token
        assert token is not None
        request = ClearingRequest(
            reference="RB1",
            card_token=token,
            amount=100,
            currency="CNY",
            deadline=datetime(2026, 1, 1, tzinfo=UTC),
        )
        first, second = network.credit_card(request), network.credit_card(request)
        assert first == second == network.status("RB1")
        assert network.moved(CARD) == 100
        assert network.status("RB2").status == "failed"
