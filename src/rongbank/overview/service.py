"""The overview's use cases: a customer's assets, their movements (a page of them,
filtered, newest first; one of them), and their spending by category and month."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from rongbank.accounts.identity import mask_name
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.accounts.statements import mask_account_number
from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.ledger.service import LedgerService, balance_of
from rongbank.overview import repository as repo
from rongbank.overview.categories import MERCHANT_CATEGORIES, SPENDING, Category
from rongbank.overview.errors import HistoryFilterInvalid, MovementNotFound
from rongbank.wealth.service import HoldingValue, WealthService

SPENDING_MONTHS = 6
"""Spending is shown for this month and the five before it."""


@dataclass(frozen=True, slots=True)
class AccountValue:
    account: EAccount
    balance: int
    """Fen the customer owns in it (posted)."""
    available: int
    """Fen they can spend now: the balance less what is held for payments under way."""


@dataclass(frozen=True, slots=True)
class Assets:
    """What the customer owns at the bank. Loans (lending) and investments (invest)
    join here as their domains land; until then they are none."""

    accounts: list[AccountValue]
    wealth: list[HoldingValue]

    @property
    def accounts_total(self) -> int:
        return sum(a.balance for a in self.accounts)

    @property
    def wealth_total(self) -> int:
        return sum(h.total for h in self.wealth)

    @property
    def total(self) -> int:
        return self.accounts_total + self.wealth_total


class MovementStatus(StrEnum):
    COMPLETED = "completed"
    """Booked."""
    PENDING = "pending"
    """Held, not booked yet: an e-Pay authorisation, a withdrawal under way. The money
    is not available, and comes back if the hold is released."""
    REVERSED = "reversed"
    """Booked, and since reversed by an entry of its own (which shows too)."""


class PartyKind(StrEnum):
    PERSON = "person"
    OWN = "own"
    MERCHANT = "merchant"
    PRODUCT = "product"
    CARD = "card"
    BANK = "bank"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Counterparty:
    """The other side of a movement, as the customer may see it: another customer's
    name and account masked, a merchant or product by name, a card masked."""

    kind: PartyKind
    name: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class Movement:
    posting_id: int
    entry_id: int
    at: datetime
    account: str
    """The customer's account it moved."""
    amount: int
    """Fen: > 0 in, < 0 out."""
    balance: int | None
    """The account's balance once booked; None while pending."""
    description: str
    memo: str
    """The bank's own name of it, a key of ``BANK_MEMOS`` (a page shows the name in
    its reader's language); "" when ``description`` was given by someone."""
    status: MovementStatus
    category: Category
    counterparty: Counterparty

    @property
    def direction(self) -> str:
        return "in" if self.amount > 0 else "out"


@dataclass(frozen=True, slots=True)
class MovementFilter:
    """What the customer narrows their history to; None leaves a side open."""

    account: str | None = None
    start: date | None = None
    end: date | None = None
    """Business dates (Beijing), both included."""
    min_amount: int | None = None
    max_amount: int | None = None
    direction: str | None = None
    category: Category | None = None
    text: str | None = None
    memos: tuple[str, ...] = ()
    """The bank's own names (keys of ``BANK_MEMOS``) ``text`` is found in, in the
    languages the pages show them in: their movements match too."""


@dataclass(frozen=True, slots=True)
class MovementPage:
    movements: list[Movement]
    next_before: int | None
    """Pass as ``before`` for the next (older) page; None when there is none."""


@dataclass(frozen=True, slots=True)
class Spending:
    """Money spent (:data:`categories.SPENDING`, out, completed) per Beijing month,
    oldest first, and per category, most first."""

    months: list[str]
    """``YYYY-MM`` of every month shown, with or without spending."""
    by_month: dict[str, dict[Category, int]] = field(default_factory=dict)

    @property
    def by_category(self) -> list[tuple[Category, int]]:
        totals: dict[Category, int] = {}
        for spent in self.by_month.values():
            for category, amount in spent.items():
                totals[category] = totals.get(category, 0) + amount
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))

    def month_total(self, month: str) -> int:
        return sum(self.by_month.get(month, {}).values())

    @property
    def total(self) -> int:
        return sum(amount for _, amount in self.by_category)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), BUSINESS_TIME_ZONE)


def _months_back(day: date, months: int) -> date:
    """The first day of the month ``months`` before ``day``'s."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


class OverviewService:
    def __init__(
        self,
        accounts: AccountsService,
        ledger: LedgerService,
        wealth: WealthService,
        clock: Clock,
    ) -> None:
        self.accounts = accounts
        self.ledger = ledger
        self.wealth = wealth
        self.clock = clock

    def assets(self, session: Session, customer_id: int) -> Assets:
        accounts = []
        for account, available in self.accounts.accounts_of(session, customer_id):
            posted = balance_of(self.ledger.account(session, account.ledger_account_id)).posted
            accounts.append(AccountValue(account, balance=posted, available=available))
        return Assets(accounts, self.wealth.values(session, customer_id))

    def movements(
        self,
        session: Session,
        customer_id: int,
        filters: MovementFilter,
        *,
        before: int | None = None,
        limit: int = 20,
    ) -> MovementPage:
        """A page of the customer's movements matching ``filters``, newest first,
        starting just before the movement ``before`` (from the previous page)."""
        if (filters.start and filters.end and filters.start > filters.end) or (
            filters.min_amount is not None
            and filters.max_amount is not None
            and filters.min_amount > filters.max_amount
        ):
            raise HistoryFilterInvalid()
        query = repo.MovementQuery(
            account=filters.account,
            start=_midnight(filters.start) if filters.start else None,
            # the last day has no next day to end before: open
            end=_midnight(filters.end + timedelta(days=1))
            if filters.end and filters.end < date.max
            else None,
            min_amount=filters.min_amount,
            max_amount=filters.max_amount,
            direction=filters.direction,
            category=filters.category,
            text=filters.text,
            memos=filters.memos,
        )
        rows = repo.movements(session, customer_id, query, before=before, limit=limit + 1)
        found = [_movement(row) for row in rows[:limit]]
        return MovementPage(found, found[-1].posting_id if len(rows) > limit else None)

    def movement(self, session: Session, customer_id: int, posting_id: int) -> Movement:
        row = repo.movement(session, customer_id, posting_id)
        if row is None:
            raise MovementNotFound(posting_id=posting_id)
        return _movement(row)

    def spending(
        self, session: Session, customer_id: int, *, months: int = SPENDING_MONTHS
    ) -> Spending:
        """This month's spending and the ``months - 1`` months' before it."""
        first = _months_back(self.clock.now().astimezone(BUSINESS_TIME_ZONE).date(), months - 1)
        shown = [f"{_months_back(first, -i):%Y-%m}" for i in range(months)]
        spending = Spending(shown)
        for row in repo.spending(session, customer_id, start=_midnight(first), spent=SPENDING):
            spending.by_month.setdefault(row.month, {})[row.category] = row.amount
        return spending


def _movement(row: repo.MovementRow) -> Movement:
    return Movement(
        posting_id=row.posting_id,
        entry_id=row.entry_id,
        at=row.at,
        account=row.account,
        amount=row.amount,
        balance=row.balance,
        description=row.description,
        memo=row.memo,
        status=MovementStatus(row.status),
        category=Category(row.category),
        counterparty=_counterparty(row),
    )


def _counterparty(row: repo.MovementRow) -> Counterparty:
    category = Category(row.category)
    if row.other_account is not None:
        kind = PartyKind.OWN if category is Category.OWN_TRANSFER else PartyKind.PERSON
        return Counterparty(
            kind, mask_name(row.other_name or ""), mask_account_number(row.other_account)
        )
    if category in MERCHANT_CATEGORIES or category is Category.REFUND:
        return Counterparty(PartyKind.MERCHANT, row.other_party or "")
    if category in (Category.WEALTH, Category.WEALTH_PAYOUT):
        return Counterparty(PartyKind.PRODUCT, row.other_party or "")
    if category in (Category.TOPUP, Category.WITHDRAWAL):
        return Counterparty(PartyKind.CARD, row.other_party or "", _masked_card(row.card))
    if category in (Category.INTEREST, Category.FEE):
        return Counterparty(PartyKind.BANK)
    return Counterparty(PartyKind.NONE)


def _masked_card(masked: str | None) -> str:
    """A bound card as stored (``622202******1234``), shown by its last four."""
    return f"**** {masked[-4:]}" if masked else ""
