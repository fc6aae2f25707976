"""A customer's money at a glance, from the services: movements across accounts
newest first, each with what it was for and the other side as the customer may see
it; a hold while it holds and its payment once taken; pages that neither skip nor
repeat; spending by category and month that leaves moves between one's own accounts
out; assets with wealth's yield earned so far."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.accounts.service import EAccount
from rongbank.accounts.statements import HistoryFilter, StatementsService
from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.overview.categories import MCC_GROUPS, Category, merchant_category
from rongbank.overview.errors import HistoryFilterInvalid, MovementNotFound
from rongbank.overview.service import MovementFilter, MovementStatus, PartyKind
from rongbank.platform import Platform
from tests.factories.accounts import People
from tests.factories.payments import merchant, paid


@pytest.fixture
def people(platform: Platform) -> People:
    return People(platform.accounts, platform.ledger)


@pytest.fixture
def alice(platform: Platform, people: People) -> EAccount:
    with platform.transaction() as session:
        account = people.person(session, name="韩梅梅")
        people.fund(session, account, 5_000_00)
    return account


@pytest.fixture
def bob(platform: Platform, people: People) -> EAccount:
    with platform.transaction() as session:
        return people.person(session, name="李雷")


def pay(platform: Platform, payer: EAccount, to: str, amount: int, memo: str = "") -> None:
    with platform.transaction() as session:
        platform.accounts.transfer(
            session,
            customer_id=payer.customer_id,
            source=payer.number,
            destination=to,
            amount=amount,
            client_id=f"t-{payer.number}-{to}-{amount}-{memo}",
            description=memo,
        )


def history(platform: Platform, who: EAccount, **filters: object) -> list[tuple[str, int]]:
    with platform.transaction() as session:
        page = platform.overview.movements(
            session, who.customer_id, MovementFilter(**filters), limit=100
        )
    return [(m.category.value, m.amount) for m in page.movements]


class TestCategories:
    @pytest.mark.parametrize(
        ("mcc", "category"),
        [
            ("5812", Category.DINING),
            ("5411", Category.GROCERIES),
            ("4511", Category.TRAVEL),  # an airline, not local transport
            ("4121", Category.TRANSPORT),
            ("5651", Category.SHOPPING),
            ("5912", Category.HEALTH),  # a pharmacy, not retail
            ("0742", Category.MERCHANT_OTHER),
        ],
    )
    def test_a_merchant_code_falls_in_its_group(self, mcc: str, category: Category) -> None:
        assert merchant_category(mcc) is category

    @given(st.integers(0, 9999))
    def test_every_code_has_one_group_the_first_range_decides(self, code: int) -> None:
        holding = [group for low, high, group in MCC_GROUPS if low <= code <= high]
        expected = holding[0] if holding else Category.MERCHANT_OTHER
        assert merchant_category(f"{code:04d}") is expected

    def test_the_database_groups_payments_as_the_rules_do(
        self, platform: Platform, alice: EAccount, bob: EAccount
    ) -> None:
        codes = ["5812", "5411", "4511", "4121", "5651", "5912", "0742", "7832"]
        for n, mcc in enumerate(codes):
            shop = merchant(
                platform, customer_id=bob.customer_id, account=bob.number, name=f"店{n}", mcc=mcc
            )
            paid(
                platform,
                merchant_id=shop,
                customer_id=alice.customer_id,
                account=alice.number,
                amount=10_00 + n,
                order_no=f"N{n}",
            )
        found = history(platform, alice, direction="out")
        assert found == [
            (merchant_category(mcc).value, -(10_00 + n))
            for n, mcc in reversed(list(enumerate(codes)))
        ]


class TestMovements:
    def test_newest_first_across_accounts_with_the_other_side_masked(
        self, platform: Platform, clock: FrozenClock, alice: EAccount, bob: EAccount
    ) -> None:
        with platform.transaction() as session:
            savings = platform.accounts.open_account(
                session, customer_id=alice.customer_id, account_class=3
            )
        clock.advance(timedelta(hours=1))
        pay(platform, alice, bob.number, 300_00, "房租")
        clock.advance(timedelta(hours=1))
        pay(platform, alice, savings.number, 200_00, "存起来")
        assert history(platform, alice) == [
            ("own_transfer", 200_00),  # the same entry: both sides, the later posting first
            ("own_transfer", -200_00),
            ("transfer", -300_00),
            ("other", 5_000_00),
        ]
        with platform.transaction() as session:
            page = platform.overview.movements(session, alice.customer_id, MovementFilter())
        rent = page.movements[2]
        assert rent.counterparty.kind is PartyKind.PERSON
        assert rent.counterparty.name == "*雷"
        assert rent.counterparty.reference == f"{bob.number[:4]}****{bob.number[-4:]}"
        assert (rent.description, rent.balance, rent.status) == (
            "房租",
            4_700_00,
            MovementStatus.COMPLETED,
        )
        assert page.movements[0].counterparty.kind is PartyKind.OWN
        assert history(platform, alice, account=savings.number) == [("own_transfer", 200_00)]

    def test_pages_neither_skip_nor_repeat(
        self, platform: Platform, clock: FrozenClock, alice: EAccount, bob: EAccount
    ) -> None:
        for n in range(7):
            pay(platform, alice, bob.number, 1_00 + n, f"第{n}笔")
            if n % 2:
                clock.advance(timedelta(minutes=1))  # some share a time, some do not
        seen: list[int] = []
        before = None
        with platform.transaction() as session:
            while True:
                page = platform.overview.movements(
                    session,
                    alice.customer_id,
                    MovementFilter(direction="out"),
                    before=before,
                    limit=3,
                )
                seen += [m.amount for m in page.movements]
                if page.next_before is None:
                    break
                before = page.next_before
        assert seen == [-(1_00 + n) for n in reversed(range(7))]

    def test_dates_are_beijing_days_both_included(
        self, platform: Platform, clock: FrozenClock, alice: EAccount, bob: EAccount
    ) -> None:
        clock.advance(datetime(2026, 3, 2, 15, 59, tzinfo=UTC) - clock.now())  # 23:59 Beijing
        pay(platform, alice, bob.number, 1_00)
        clock.advance(timedelta(minutes=1))  # 3/3 00:00 Beijing
        pay(platform, alice, bob.number, 2_00)
        day = date(2026, 3, 3)
        assert history(platform, alice, start=day, end=day) == [("transfer", -2_00)]
        assert history(platform, alice, end=day - timedelta(days=1), direction="out") == [
            ("transfer", -1_00)
        ]

    def test_a_filter_that_makes_no_sense_is_refused(
        self, platform: Platform, alice: EAccount
    ) -> None:
        with platform.transaction() as session, pytest.raises(HistoryFilterInvalid):
            platform.overview.movements(
                session,
                alice.customer_id,
                MovementFilter(start=date(2026, 3, 2), end=date(2026, 3, 1)),
            )
        with platform.transaction() as session, pytest.raises(HistoryFilterInvalid):
            platform.overview.movements(
                session, alice.customer_id, MovementFilter(min_amount=2, max_amount=1)
            )

    def test_words_are_words_not_patterns(
        self, platform: Platform, alice: EAccount, bob: EAccount
    ) -> None:
        pay(platform, alice, bob.number, 1_00, "100%")
        pay(platform, alice, bob.number, 2_00, "1000")
        assert history(platform, alice, text="0%") == [("transfer", -1_00)]
        assert history(platform, alice, text="_") == []
        assert history(platform, alice, text=bob.number[-6:]) == [
            ("transfer", -2_00),
            ("transfer", -1_00),
        ]
        assert history(platform, alice, text="李雷") == []  # a name is not searched

    def test_a_hold_shows_pending_and_then_its_payment(
        self, platform: Platform, alice: EAccount, bob: EAccount
    ) -> None:
        shop = merchant(platform, customer_id=bob.customer_id, account=bob.number, name="老王面馆")
        paid(
            platform,
            merchant_id=shop,
            customer_id=alice.customer_id,
            account=alice.number,
            amount=88_00,
            order_no="H1",
            capture="manual",
        )
        with platform.transaction() as session:
            held = platform.overview.movements(session, alice.customer_id, MovementFilter())
        assert [(m.status, m.amount, m.balance) for m in held.movements[:1]] == [
            (MovementStatus.PENDING, -88_00, None)
        ]
        with platform.transaction() as session:
            platform.payments.capture(session, merchant_id=shop, order_no="H1", amount=80_00)
        with platform.transaction() as session:
            taken = platform.overview.movements(session, alice.customer_id, MovementFilter())
        assert [(m.status, m.amount, m.category) for m in taken.movements] == [
            (MovementStatus.COMPLETED, -80_00, Category.DINING),
            (MovementStatus.COMPLETED, 5_000_00, Category.OTHER),
        ]
        assert taken.movements[0].counterparty.name == "老王面馆"

    def test_another_customers_movement_is_not_found(
        self, platform: Platform, alice: EAccount, bob: EAccount
    ) -> None:
        pay(platform, alice, bob.number, 1_00)
        with platform.transaction() as session:
            (theirs,) = platform.overview.movements(
                session, bob.customer_id, MovementFilter()
            ).movements
            mine = platform.overview.movements(
                session, alice.customer_id, MovementFilter()
            ).movements
            assert (
                platform.overview.movement(session, alice.customer_id, mine[0].posting_id)
                == mine[0]
            )
            with pytest.raises(MovementNotFound):
                platform.overview.movement(session, alice.customer_id, theirs.posting_id)


class TestSpending:
    def test_by_month_and_category_without_own_moves_or_money_in(
        self, platform: Platform, clock: FrozenClock, alice: EAccount, bob: EAccount
    ) -> None:
        with platform.transaction() as session:
            savings = platform.accounts.open_account(
                session, customer_id=alice.customer_id, account_class=3
            )
        shop = merchant(
            platform, customer_id=bob.customer_id, account=bob.number, name="超市", mcc="5411"
        )
        paid(
            platform,
            merchant_id=shop,
            customer_id=alice.customer_id,
            account=alice.number,
            amount=120_00,
            order_no="S1",
        )
        pay(platform, alice, savings.number, 500_00)
        clock.advance(timedelta(days=31))
        pay(platform, alice, bob.number, 300_00)
        with platform.transaction() as session:
            spending = platform.overview.spending(session, alice.customer_id)
        assert spending.months == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]
        assert spending.by_month == {
            "2026-03": {Category.GROCERIES: 120_00},
            "2026-04": {Category.TRANSFER: 300_00},
        }
        assert spending.by_category == [(Category.TRANSFER, 300_00), (Category.GROCERIES, 120_00)]
        assert spending.total == 420_00
        with platform.transaction() as session:
            assert platform.overview.spending(session, bob.customer_id).total == 0


class TestAssets:
    def test_accounts_with_what_is_held_and_nothing_else(
        self, platform: Platform, alice: EAccount, bob: EAccount
    ) -> None:
        shop = merchant(platform, customer_id=bob.customer_id, account=bob.number, name="老王面馆")
        paid(
            platform,
            merchant_id=shop,
            customer_id=alice.customer_id,
            account=alice.number,
            amount=50_00,
            order_no="A1",
            capture="manual",
        )
        with platform.transaction() as session:
            assets = platform.overview.assets(session, alice.customer_id)
        assert [(a.balance, a.available) for a in assets.accounts] == [(5_000_00, 4_950_00)]
        assert (assets.wealth, assets.total) == ([], 5_000_00)


def test_the_bank_names_each_movement_as_its_statement_does(
    platform: Platform, alice: EAccount, bob: EAccount
) -> None:
    """The overview's memo (in SQL, for the history's word filter) and the statement's
    (``bank_memo``) are one rule: the same name for every kind of movement."""
    pay(platform, alice, bob.number, 10_00)  # no description: money out
    pay(platform, alice, bob.number, 20_00, "午饭")  # a description given: no name
    pay(platform, bob, alice.number, 5_00)  # money in
    with platform.transaction() as session:
        vault, _ = platform.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        for n, client_id in enumerate(
            ("funding:1:credit", "funding:2:debit", "funding:3:void", "demo:9", "interest:1:2")
        ):
            platform.ledger.transfer(
                session,
                Transfer(
                    client_id=client_id,
                    debit_account=vault.id,
                    credit_account=alice.ledger_account_id,
                    amount=100 + n,
                    currency="CNY",
                    description="stored in English",
                ),
            )
    statements = StatementsService(platform.accounts, platform.ledger, platform.clock)
    with platform.transaction() as session:
        shown = platform.overview.movements(session, alice.customer_id, MovementFilter(), limit=50)
        printed = statements.history(
            session,
            customer_id=alice.customer_id,
            number=alice.number,
            filters=HistoryFilter(),
            limit=50,
        )
    overview = {m.entry_id: m.memo for m in shown.movements}
    statement = {m.entry_id: m.memo for m in printed.movements}
    assert overview == statement
    assert set(statement.values()) >= {
        "", "money_in", "money_out", "top_up", "withdrawal", "withdrawal_returned",
        "opening_balance", "interest",
    }  # fmt: skip
