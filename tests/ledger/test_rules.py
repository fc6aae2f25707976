"""The ledger's pure state machine: balancing, balance rules, undo, running balances."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import fields
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongbank.ledger.errors import BalanceOverflow, ExceedsCredits, ExceedsDebits, UnbalancedEntry
from rongbank.ledger.rules import (
    MAX_TOTAL,
    AccountState,
    AccountType,
    BalanceRule,
    Book,
    Leg,
    PostingPlan,
    check_balanced,
)
from rongbank.ledger.service import (
    Transfer,
    _any_nul,
    _fields_fingerprint,
    _has_nul,
    _transfer_fingerprint,
)
from rongbank.money import MAX_AMOUNT_MINOR


def chart() -> dict[int, AccountState]:
    """Two currencies; in CNY a bank asset, two protected deposits (one with an
    overdraft), a loan that cannot be over-repaid; in USD an asset and a deposit."""
    accounts = [
        AccountState(1, "CNY", AccountType.ASSET, BalanceRule.NONE, 0),
        AccountState(
            2, "CNY", AccountType.LIABILITY, BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS, 0
        ),
        AccountState(
            3, "CNY", AccountType.LIABILITY, BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS, 5_000
        ),
        AccountState(4, "CNY", AccountType.ASSET, BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS, 0),
        AccountState(5, "USD", AccountType.ASSET, BalanceRule.NONE, 0),
        AccountState(
            6, "USD", AccountType.LIABILITY, BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS, 0
        ),
    ]
    return {a.id: a for a in accounts}


BY_CURRENCY = {"CNY": [1, 2, 3, 4], "USD": [5, 6]}
small_amounts = st.integers(min_value=1, max_value=20_000)


@st.composite
def movements(draw: st.DrawFn) -> tuple[list[Leg], bool]:
    """Balanced legs: a two-account transfer, or a multi-leg entry over one or both
    currencies; posted or pending."""
    legs: list[Leg] = []
    currencies = draw(st.sampled_from([["CNY"], ["USD"], ["CNY", "USD"]]))
    for currency in currencies:
        ids = BY_CURRENCY[currency]
        n = draw(st.integers(min_value=1, max_value=3))
        debits = [Leg(draw(st.sampled_from(ids)), draw(small_amounts)) for _ in range(n)]
        credit = draw(st.sampled_from(ids))
        legs.extend(debits)
        legs.append(Leg(credit, -sum(leg.amount for leg in debits)))
    shuffled = draw(st.permutations(legs))
    return list(shuffled), draw(st.booleans())


def snapshot(book: Book) -> dict[int, tuple[int, int, int, int]]:
    return {
        a.id: (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
        for a in book.accounts.values()
    }


def try_apply(book: Book, legs: Sequence[Leg], pending: bool) -> list[PostingPlan] | None:
    try:
        return book.apply(legs, pending=pending)
    except (ExceedsCredits, ExceedsDebits):
        return None


def respects_rule(account: AccountState) -> bool:
    if account.rule is BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS:
        return (
            account.debits_posted + account.debits_pending
            <= account.credits_posted + account.overdraft_limit
        )
    if account.rule is BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS:
        return (
            account.credits_posted + account.credits_pending
            <= account.debits_posted + account.overdraft_limit
        )
    return True


class TestCheckBalanced:
    def test_accepts_legs_summing_to_zero_per_currency(self) -> None:
        check_balanced([("CNY", 100), ("CNY", -100), ("USD", 7), ("USD", -3), ("USD", -4)])

    def test_refuses_legs_that_net_to_zero_only_across_currencies(self) -> None:
        with pytest.raises(UnbalancedEntry) as raised:
            check_balanced([("CNY", 100), ("USD", -100)])
        assert raised.value.code == "unbalanced_entry"
        assert raised.value.details["totals"] == {"CNY": "100", "USD": "-100"}

    @given(
        amounts=st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1),
        currency=st.sampled_from(["CNY", "JPY"]),
    )
    def test_refuses_any_nonzero_sum(self, amounts: list[int], currency: str) -> None:
        legs = [(currency, a) for a in amounts]
        if sum(amounts) == 0:
            check_balanced(legs)
        else:
            with pytest.raises(UnbalancedEntry):
                check_balanced(legs)


class TestBookApply:
    def test_moves_money_between_accounts(self) -> None:
        book = Book(chart())
        plans = book.apply([Leg(1, 1_000), Leg(2, -1_000)])
        assert [(p.account_id, p.amount, p.balance_after) for p in plans] == [
            (1, 1_000, 1_000),
            (2, -1_000, -1_000),
        ]
        assert book.accounts[2].credits_posted == 1_000
        assert book.touched == {1, 2}

    def test_refuses_spending_an_empty_deposit(self) -> None:
        book = Book(chart())
        with pytest.raises(ExceedsCredits) as raised:
            book.apply([Leg(2, 1), Leg(1, -1)])
        assert raised.value.code == "insufficient_funds"
        assert snapshot(book) == snapshot(Book(chart()))
        assert book.touched == set()

    def test_overdraft_allows_going_negative_down_to_the_limit(self) -> None:
        book = Book(chart())
        book.apply([Leg(3, 5_000), Leg(1, -5_000)])
        assert book.accounts[3].net_posted == 5_000
        with pytest.raises(ExceedsCredits):
            book.apply([Leg(3, 1), Leg(1, -1)])

    def test_pending_debits_count_against_available_funds(self) -> None:
        book = Book(chart())
        book.apply([Leg(1, 100), Leg(2, -100)])
        book.apply([Leg(2, 80), Leg(1, -80)], pending=True)
        with pytest.raises(ExceedsCredits):
            book.apply([Leg(2, 21), Leg(1, -21)])
        book.apply([Leg(2, 20), Leg(1, -20)])
        assert book.accounts[2].net_posted == -80

    def test_pending_leaves_the_running_balance_unchanged(self) -> None:
        book = Book(chart())
        book.apply([Leg(1, 100), Leg(2, -100)])
        plans = book.apply([Leg(2, 30), Leg(1, -30)], pending=True)
        assert [(p.pending, p.balance_after) for p in plans] == [(True, -100), (True, 100)]

    def test_release_then_post_part_of_a_hold(self) -> None:
        book = Book(chart())
        book.apply([Leg(1, 100), Leg(2, -100)])
        book.apply([Leg(2, 60), Leg(1, -60)], pending=True)
        book.apply([Leg(2, 25), Leg(1, -25)], release=(2, 1, 60))
        account = book.accounts[2]
        assert (account.debits_pending, account.net_posted) == (0, -75)
        assert book.accounts[1].credits_pending == 0

    def test_void_releases_the_reservation(self) -> None:
        book = Book(chart())
        book.apply([Leg(1, 100), Leg(2, -100)])
        book.apply([Leg(2, 100), Leg(1, -100)], pending=True)
        assert book.apply([], release=(2, 1, 100)) == []
        book.apply([Leg(2, 100), Leg(1, -100)])
        assert book.accounts[2].net_posted == 0

    def test_refuses_repaying_a_loan_beyond_what_was_lent(self) -> None:
        book = Book(chart())
        book.apply([Leg(4, 500), Leg(1, -500)])
        with pytest.raises(ExceedsDebits) as raised:
            book.apply([Leg(1, 501), Leg(4, -501)])
        assert raised.value.code == "exceeds_debits"

    def test_refuses_unbalanced_legs(self) -> None:
        book = Book(chart())
        with pytest.raises(UnbalancedEntry):
            book.apply([Leg(1, 100), Leg(2, -99)])
        assert book.touched == set()

    def test_refuses_to_overflow_a_total(self) -> None:
        accounts = chart()
        accounts[1].debits_posted = MAX_TOTAL - 10
        book = Book(accounts)
        with pytest.raises(BalanceOverflow):
            book.apply([Leg(1, 11), Leg(2, -11)])
        assert book.accounts[1].debits_posted == MAX_TOTAL - 10


class TestBookProperties:
    @given(st.lists(movements(), max_size=40))
    def test_every_applied_movement_sums_to_zero_per_currency(
        self, moves: list[tuple[list[Leg], bool]]
    ) -> None:
        book = Book(chart())
        for legs, pending in moves:
            plans = try_apply(book, legs, pending)
            if plans is None:
                continue
            sums: dict[str, int] = defaultdict(int)
            for plan in plans:
                sums[plan.currency] += plan.amount
                assert plan.pending is pending
            assert all(total == 0 for total in sums.values())
        for currency, ids in BY_CURRENCY.items():
            assert sum(book.accounts[i].net_posted for i in ids) == 0, currency
            assert sum(book.accounts[i].debits_pending for i in ids) == sum(
                book.accounts[i].credits_pending for i in ids
            )

    @given(st.lists(movements(), max_size=40))
    def test_protected_accounts_never_pass_their_limit(
        self, moves: list[tuple[list[Leg], bool]]
    ) -> None:
        book = Book(chart())
        for legs, pending in moves:
            before = snapshot(book)
            if try_apply(book, legs, pending) is None:
                assert snapshot(book) == before  # a refusal changes nothing
            assert all(respects_rule(a) for a in book.accounts.values())
        # The overdrafted deposit may be negative, but never below its limit.
        assert book.accounts[3].net_posted <= 5_000
        assert book.accounts[2].net_posted <= 0

    @given(
        before=st.lists(movements(), max_size=10),
        after=st.lists(movements(), min_size=1, max_size=10),
    )
    def test_rollback_to_restores_the_exact_state(
        self,
        before: list[tuple[list[Leg], bool]],
        after: list[tuple[list[Leg], bool]],
    ) -> None:
        book = Book(chart())
        for legs, pending in before:
            try_apply(book, legs, pending)
        state = snapshot(book)
        savepoint = book.savepoint()
        for legs, pending in after:
            try_apply(book, legs, pending)
        book.rollback_to(savepoint)
        assert snapshot(book) == state

    @given(st.lists(movements(), max_size=40))
    def test_balance_after_is_the_running_net_posted(
        self, moves: list[tuple[list[Leg], bool]]
    ) -> None:
        book = Book(chart())
        running: dict[int, int] = defaultdict(int)
        for legs, pending in moves:
            plans = try_apply(book, legs, pending)
            if plans is None:
                continue
            for plan in plans:
                if not plan.pending:
                    running[plan.account_id] += plan.amount
                assert plan.balance_after == running[plan.account_id]
        for account_id, net in running.items():
            assert book.accounts[account_id].net_posted == net

    @given(
        amount=st.integers(min_value=1, max_value=MAX_AMOUNT_MINOR),
        overdraft=st.integers(min_value=0, max_value=MAX_AMOUNT_MINOR),
    )
    def test_a_deposit_can_spend_exactly_its_funds_plus_overdraft(
        self, amount: int, overdraft: int
    ) -> None:
        accounts = chart()
        accounts[2].overdraft_limit = overdraft
        book = Book(accounts)
        book.apply([Leg(1, amount), Leg(2, -amount)])
        book.apply([Leg(2, amount + overdraft), Leg(1, -(amount + overdraft))])
        with pytest.raises(ExceedsCredits):
            book.apply([Leg(2, 1), Leg(1, -1)])


class TestBookTransfer:
    """The two-leg fast path must decide and record exactly what the general path
    does."""

    @given(
        setup=st.lists(movements(), max_size=15),
        pairs=st.lists(
            st.tuples(
                st.sampled_from(sorted(chart())),
                st.sampled_from(sorted(chart())),
                small_amounts,
                st.booleans(),
            ).filter(lambda t: t[0] != t[1]),
            min_size=1,
            max_size=20,
        ),
    )
    @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a busy machine
    def test_agrees_with_apply(
        self,
        setup: list[tuple[list[Leg], bool]],
        pairs: list[tuple[int, int, int, bool]],
    ) -> None:
        fast, general = Book(chart()), Book(chart())
        for legs, pending in setup:
            try_apply(fast, legs, pending)
            try_apply(general, legs, pending)
        for debit, credit, amount, pending in pairs:
            outcomes: list[list[PostingPlan] | type[Exception]] = []
            for book in (fast, general):
                try:
                    if book is fast:
                        outcomes.append(book.transfer(debit, credit, amount, pending=pending))
                    else:
                        legs = [Leg(debit, amount), Leg(credit, -amount)]
                        outcomes.append(book.apply(legs, pending=pending))
                except (ExceedsCredits, ExceedsDebits, UnbalancedEntry) as error:
                    outcomes.append(type(error))
            assert outcomes[0] == outcomes[1]
            assert snapshot(fast) == snapshot(general)
            assert fast.touched == general.touched

    def test_refuses_accounts_in_two_currencies(self) -> None:
        book = Book(chart())
        with pytest.raises(UnbalancedEntry):
            book.transfer(1, 5, 100)
        assert snapshot(book) == snapshot(Book(chart()))

    def test_is_undone_by_rollback_to(self) -> None:
        book = Book(chart())
        savepoint = book.savepoint()
        book.transfer(1, 2, 100)
        book.transfer(2, 3, 40, pending=True)
        book.rollback_to(savepoint)
        assert snapshot(book) == snapshot(Book(chart()))


_texts_st = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
_refs = st.one_of(st.integers(min_value=1, max_value=10**6), _texts_st)


class TestTransferFastPaths:
    """The batch's fast paths for a plain transfer answer exactly as the general ones
    (the fingerprint is stored: a retry must find the same bytes)."""

    def test_a_transfer_has_the_fields_the_fast_paths_read(self) -> None:
        # A new field would be missed by the fast paths: this fails until they read it.
        assert [f.name for f in fields(Transfer)] == [
            "client_id",
            "debit_account",
            "credit_account",
            "amount",
            "currency",
            "pending",
            "timeout",
            "description",
            "metadata",
            "linked",
            "frozen_debit_reason",
        ]

    @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a busy machine
    @given(
        client_id=_texts_st,
        debit=_refs,
        credit=_refs,
        amount=st.integers(min_value=-5, max_value=10**12),
        currency=_texts_st,
        pending=st.booleans(),
        timeout=st.one_of(st.none(), st.timedeltas(min_value=timedelta(seconds=-5))),
        description=_texts_st,
        metadata=st.dictionaries(_texts_st, st.one_of(_texts_st, st.integers())),
        frozen=_texts_st,
    )
    def test_fingerprint_and_nul_check_equal_the_general_ones(
        self,
        client_id: str,
        debit: int | str,
        credit: int | str,
        amount: int,
        currency: str,
        pending: bool,
        timeout: timedelta | None,
        description: str,
        metadata: dict[str, str | int],
        frozen: str,
    ) -> None:
        transfer = Transfer(
            client_id=client_id,
            debit_account=debit,
            credit_account=credit,
            amount=amount,
            currency=currency,
            pending=pending,
            timeout=timeout,
            description=description,
            metadata=metadata,
            frozen_debit_reason=frozen,
        )
        assert _transfer_fingerprint(transfer) == _fields_fingerprint(transfer)
        assert _has_nul(transfer) == _any_nul(transfer)
