"""Wealth-product use cases: the catalogue (staff); the risk-tolerance assessment,
purchases, redemptions and holdings (customers); the maturity job.

Each product's custody is :data:`CUSTODY_SHARDS` ledger accounts (its shards): a
purchase moves the amount from the customer's e-account into the shard of its
customer (:meth:`Product.custody_of`) in one ledger entry, and records a holding
that remembers the shard, in the caller's transaction. The ledger locks each account
it moves until the commit, so one custody account made every purchase of a product
wait for the one before it to commit (a hot account); shards let purchases of
different customers run side by side, and one customer's purchases queue anyway (on
``wealth_buy``). A holding's payouts debit the shard it credited, so each shard holds
exactly what its holdings have left (and their redemptions waiting to be paid): none
is ever overdrawn. What a product holds is the sum of its shards.

A purchase moves the customer's money, so the boundary runs it inside
``Platform.authorised`` (step-up, as every payment). The e-account class limits do
not apply: class II and III accounts may buy the bank's wealth products without the
payment limits (银发〔2016〕302号; see ``account_classes.toml``).

Suitability (适当性) is checked inside :meth:`WealthService.buy`, so every way of
buying (the API, a chat card's buy button) gets it: no purchase without a valid
risk-tolerance assessment, and none of a product riskier than the customer's level
(《商业银行理财业务监督管理办法》, 2018). The check runs in the body of
``Platform.authorised``, so the refusal comes before any request for a code.

Payouts (a customer's redemption of an open-ended holding, the maturity of a
fixed-term one) move the principal back from custody and the yield from the
product's yield account (``wealth:<code>:yield``, an expense of the bank standing in
for the product's investment income, which lives outside this platform) into the
account the holding was paid from, through the same ledger helper as the purchase.
Yield and rounding: :mod:`rongbank.wealth.rules` (ACT/365, rounded down to the fen).

Dealing days (:func:`rules.order_date`): a purchase earns from its T, the business
day it counts for under the product's cut-off and the bank's calendar; a redemption
whose T is today is paid at once, any other (placed after the cut-off, or on a day
off) is recorded as due on its T, its principal set aside from the holding at once,
and paid by :meth:`WealthService.pay_due` (the server's ``wealth-payouts`` job) when
that day has begun, the yield running up to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.errors import (
    AccountNotActive,
)
from rongbank.accounts.service import AccountsService
from rongbank.auth.tools import PaymentRequest
from rongbank.business_calendar import BusinessCalendar
from rongbank.clock import Clock
from rongbank.db import advisory_lock
from rongbank.ledger.client_ids import CardKey, Namespace, RequestKey, request_id
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import AccountRef, LedgerService, Transfer
from rongbank.wealth import rules
from rongbank.wealth.errors import (
    HoldingNotFound,
    ProductCodeTaken,
    ProductNotFound,
    PurchaseConflict,
    RedemptionConflict,
)
from rongbank.wealth.events import PayoutMade
from rongbank.wealth.suitability import Suitability

CUSTODY_SHARDS = 32
"""Custody accounts a new product gets. Purchases of different customers wait for
each other only when their customers fall on the same shard: ``rongbank bench paths``
(32 clients buying one product) had 3 of its 32 purchases in flight waiting for a
custody lock with 16 shards, none seen with 32. More shards cost only ledger accounts
(a row each; readers of custody sum them, a payout locks only its holding's) and, at
a product's creation, an account each. Products keep the shards they were created
with (a purchase picks among its product's own), so a change here changes new
products only."""


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    code: str
    name: str
    risk_level: int
    yield_bps: int
    min_amount: int
    step_amount: int
    sale_start: datetime
    sale_end: datetime
    maturity_date: date | None
    cutoff: time | None
    """The product's own cut-off; None: the bank's (``WealthService.cutoff``)."""
    custody: Sequence[int]
    """Its custody ledger accounts, by shard."""

    def custody_of(self, customer_id: int) -> int:
        """The custody account a purchase of ``customer_id`` credits."""
        return self.custody[customer_id % len(self.custody)]

    @property
    def terms(self) -> rules.Terms:
        return rules.Terms(
            risk_level=self.risk_level,
            yield_bps=self.yield_bps,
            min_amount=self.min_amount,
            step_amount=self.step_amount,
            sale_start=self.sale_start,
            sale_end=self.sale_end,
            maturity_date=self.maturity_date,
            cutoff=self.cutoff,
        )


@dataclass(frozen=True, slots=True)
class Holding:
    id: int
    customer_id: int
    product_code: str
    product_name: str
    account_number: str
    amount: int
    client_id: str
    entry_id: int
    created_at: datetime
    value_date: date
    redeemed: int
    status: str
    """``held``; ``redeemed`` (all of it paid back on request); ``matured`` (paid out
    by the maturity job)."""
    maturity_date: date | None
    custody_account_id: int
    """The custody shard its purchase credited, which its payouts debit."""

    @property
    def left(self) -> int:
        """Principal still held."""
        return self.amount - self.redeemed


@dataclass(frozen=True, slots=True)
class Payout:
    """Money paid back from a holding: a redemption or its maturity."""

    id: int
    holding_id: int
    kind: str
    client_id: str
    principal: int
    yield_amount: int
    days: int
    entry_id: int | None
    created_at: datetime
    value_date: date
    """The business day it counts for: the yield runs up to it, and it is paid on it."""
    paid_at: datetime | None
    """When the money moved; None while a redemption waits for its value date."""

    @property
    def paid(self) -> bool:
        return self.paid_at is not None


@dataclass(frozen=True, slots=True)
class HoldingValue:
    """What a holding is worth to its customer now."""

    holding: Holding
    accrued: int
    """Yield earned on the principal still held, not yet paid (:func:`rules.accrued_yield`)."""
    pending: int
    """Redemptions asked for and waiting for their value date: principal and yield."""

    @property
    def total(self) -> int:
        return self.holding.left + self.accrued + self.pending


@dataclass(frozen=True, slots=True)
class MaturityRun:
    """What one run of the payout job paid: matured holdings, and redemptions that
    were waiting for their value date."""

    holdings: int = 0
    principal: int = 0
    yield_amount: int = 0
    redemptions: int = 0

    @classmethod
    def of(cls, paid: Sequence[Payout]) -> MaturityRun:
        return cls(
            holdings=sum(1 for p in paid if p.kind == "maturity"),
            principal=sum(p.principal for p in paid),
            yield_amount=sum(p.yield_amount for p in paid),
            redemptions=sum(1 for p in paid if p.kind == "redemption"),
        )

    def __add__(self, other: MaturityRun) -> MaturityRun:
        return MaturityRun(
            holdings=self.holdings + other.holdings,
            principal=self.principal + other.principal,
            yield_amount=self.yield_amount + other.yield_amount,
            redemptions=self.redemptions + other.redemptions,
        )


Due = tuple[Product, Holding, Payout]
"""A recorded payout to pay, with its product and holding."""

_PRODUCT = (
    "id, code, name, risk_level, yield_bps, min_amount, step_amount, sale_start, sale_end, "
    "maturity_date, cutoff, ARRAY(SELECT c.account_id FROM wealth_product_custody c "
    "WHERE c.product_id = wealth_product.id ORDER BY c.shard)"
)
_HOLDING = (
    "h.id, h.customer_id, p.code, p.name, a.number, h.amount, h.client_id, h.entry_id, "
    "h.created_at, h.value_date, h.redeemed, h.status, p.maturity_date, h.custody_account_id "
    "FROM wealth_holding h JOIN wealth_product p ON p.id = h.product_id "
    "JOIN e_account a ON a.id = h.e_account_id"
)


def _stored_key(key: RequestKey) -> dict[str, str]:
    """A purchase's key as its holding keeps it: whose it is (``keyed_by``) and its
    text, so that a card's purchase and a customer's own key never meet, even when
    the customer's key reads like the card's."""
    return {"kb": "chat_card" if isinstance(key, CardKey) else "customer", "cid": str(key)}


_PAYOUT_COLUMNS = [f.name for f in fields(Payout)]
_PAYOUT = ", ".join(_PAYOUT_COLUMNS)


class WealthService(Suitability):
    def __init__(
        self,
        ledger: LedgerService,
        accounts: AccountsService,
        clock: Clock,
        *,
        calendar: BusinessCalendar,
        cutoff: time = rules.DEFAULT_CUTOFF,
        assessments_per_day: int = rules.ASSESSMENTS_PER_DAY,
    ) -> None:
        self.ledger = ledger
        self.accounts = accounts
        self.clock = clock
        if cutoff.tzinfo is not None:
            raise ValueError("the wealth cut-off is a Beijing time of day, without a zone")
        self.calendar = calendar
        self.cutoff = cutoff
        """The bank's cut-off, for products without one of their own."""
        self.assessments_per_day = assessments_per_day

    # -- the catalogue (staff) -----------------------------------------------------------

    def create_product(
        self, session: Session, *, staff_id: int, code: str, name: str, terms: rules.Terms
    ) -> Product:
        rules.check_terms(terms)
        code = code.strip().upper()
        if session.execute(
            text("SELECT 1 FROM wealth_product WHERE code = :c"), {"c": code}
        ).first():
            raise ProductCodeTaken(code=code)
        # Shard 0 keeps the code a product's one custody account had (0053_hot).
        opened = [
            self.ledger.create_account(
                session,
                code=f"wealth:{code}" + (f":{shard}" if shard else ""),
                name=f"custody of wealth product {code}" + (f" (shard {shard})" if shard else ""),
                currency="CNY",
                type=AccountType.LIABILITY,
                rule=BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS,
            )
            for shard in range(CUSTODY_SHARDS)
        ]
        row = session.execute(
            text(
                "INSERT INTO wealth_product (code, name, risk_level, yield_bps, min_amount, "  # noqa: S608
                "step_amount, sale_start, sale_end, maturity_date, cutoff, "
                "created_by, created_at) VALUES (:code, :name, :risk, :bps, :min, :step, "
                ":start, :end, :maturity, :cutoff, :staff, :at) "
                f"ON CONFLICT (code) DO NOTHING RETURNING {_PRODUCT}"
            ),
            {
                "code": code,
                "name": name.strip(),
                "risk": terms.risk_level,
                "bps": terms.yield_bps,
                "min": terms.min_amount,
                "step": terms.step_amount,
                "start": terms.sale_start,
                "end": terms.sale_end,
                "maturity": terms.maturity_date,
                "cutoff": terms.cutoff,
                "staff": staff_id,
                "at": self.clock.now(),
            },
        ).first()
        # A concurrent request took the code first.
        if row is None or not all(created for _, created in opened):
            raise ProductCodeTaken(code=code)
        custody = [account.id for account, _ in opened]
        session.execute(
            text(
                "INSERT INTO wealth_product_custody (product_id, shard, account_id) "
                "SELECT :p, s.n - 1, s.a "
                "FROM unnest(CAST(:a AS bigint[])) WITH ORDINALITY AS s(a, n)"
            ),
            {"p": row.id, "a": custody},
        )
        return replace(Product(*row), custody=custody)

    def close_sale(self, session: Session, code: str) -> Product:
        """End a product's sale now: nothing more is bought from then on (one not on
        sale yet never will be). Holdings keep the value date they were sold with
        (a fixed-term product's is the close it was sold with). Closing a product
        whose sale is over answers it as it is."""
        row = session.execute(
            text(
                "UPDATE wealth_product SET sale_end = :now, sale_start = least(sale_start, :now) "  # noqa: S608
                f"WHERE code = :c AND sale_end > :now RETURNING {_PRODUCT}"
            ),
            {"c": code.strip().upper(), "now": self.clock.now()},
        ).first()
        return Product(*row) if row is not None else self.product(session, code)

    def product(self, session: Session, code: str) -> Product:
        row = session.execute(
            text(f"SELECT {_PRODUCT} FROM wealth_product WHERE code = :c"),  # noqa: S608
            {"c": code.strip().upper()},
        ).first()
        if row is None:
            raise ProductNotFound(code=code)
        return Product(*row)

    def cutoff_of(self, product: Product) -> time:
        return product.cutoff or self.cutoff

    def value_date(self, product: Product, at: datetime | None = None) -> date:
        """The value date of a purchase of ``product`` made ``at`` (default: now), as
        :meth:`buy` gives it; for showing before the customer buys."""
        return rules.value_date(
            product.terms,
            at or self.clock.now(),
            cutoff=self.cutoff_of(product),
            calendar=self.calendar,
        )

    def products(self, session: Session, *, on_sale: bool = False) -> list[Product]:
        """The catalogue; with ``on_sale``, only what can be bought now."""
        rows = session.execute(
            text(
                f"SELECT {_PRODUCT} FROM wealth_product "  # noqa: S608
                "WHERE NOT :on_sale OR (sale_start <= :now AND :now < sale_end) ORDER BY code"
            ),
            {"on_sale": on_sale, "now": self.clock.now()},
        ).all()
        return [Product(*row) for row in rows]

    # -- purchases (customers) -----------------------------------------------------------

    @staticmethod
    def payment_request(
        product: Product, *, amount: int, account_number: str, client_id: RequestKey
    ) -> PaymentRequest:
        """What the customer authorises (and a challenge is bound to)."""
        return PaymentRequest(
            purpose="wealth_purchase",
            payer=account_number,
            payee=f"wealth:{product.code}",
            amount=amount,
            currency="CNY",
            client_id=str(client_id),
        )

    def purchase_made(self, session: Session, *, customer_id: int, client_id: RequestKey) -> bool:
        return self._holding_by_client_id(session, customer_id, client_id) is not None

    def buy(
        self,
        session: Session,
        *,
        customer_id: int,
        code: str,
        account_number: str,
        amount: int,
        client_id: RequestKey,
        product: Product | None = None,
    ) -> tuple[Holding, bool]:
        """Buy ``amount`` fen of the product from one of the customer's accounts,
        once per ``client_id`` (the customer's own key, or a card's); returns the
        holding and whether it was bought now (a retry of the same purchase answers
        the original). ``product``: the product of ``code`` as the caller read it
        in this transaction (read here otherwise)."""
        # One purchase of a customer at a time, so that a retry racing its original
        # finds it instead of both writing.
        advisory_lock(session, "wealth_buy", customer_id)
        if product is None:
            product = self.product(session, code)
        existing = self._holding_by_client_id(session, customer_id, client_id)
        if existing is not None:
            if (existing.product_code, existing.amount, existing.account_number) != (
                product.code,
                amount,
                account_number,
            ):
                raise PurchaseConflict(client_id=str(client_id))
            return existing, False
        now = self.clock.now()
        rules.check_purchase(product.terms, amount, now)
        account = self.accounts.own_usable_account(session, customer_id, account_number)
        self.check_suitable(session, customer_id=customer_id, product=product)
        custody = product.custody_of(customer_id)
        entry_id = self.ledger.transfer(
            session,
            self._leg(
                product,
                client_id=request_id(Namespace.WEALTH_PURCHASE, customer_id, client_id),
                debit=account.ledger_account_id,
                credit=custody,
                amount=amount,
                metadata={"payer": account.number},
            ),
        ).entry_id_or_raise()
        holding_id = session.execute(
            text(
                "INSERT INTO wealth_holding (customer_id, product_id, e_account_id, amount, "
                "keyed_by, client_id, entry_id, created_at, value_date, custody_account_id) "
                "VALUES (:c, :p, :a, :x, :kb, :cid, :e, :at, :vd, :custody) RETURNING id"
            ),
            {
                "c": customer_id,
                "p": product.id,
                "a": account.id,
                "x": amount,
                **_stored_key(client_id),
                "e": entry_id,
                "at": now,
                "vd": self.value_date(product, now),
                "custody": custody,
            },
        ).scalar_one()
        return self._holding(session, "h.id = :id", {"id": holding_id})[0], True

    def holdings(self, session: Session, customer_id: int) -> list[Holding]:
        return self._holding(session, "h.customer_id = :c ORDER BY h.id", {"c": customer_id})

    def holding(self, session: Session, *, customer_id: int, holding_id: int) -> Holding:
        """One of the customer's holdings (another's is not found, never shown)."""
        found = self._holding(
            session, "h.id = :id AND h.customer_id = :c", {"id": holding_id, "c": customer_id}
        )
        if not found:
            raise HoldingNotFound(holding_id=holding_id)
        return found[0]

    def values(self, session: Session, customer_id: int) -> list[HoldingValue]:
        """The customer's holdings worth anything now: the principal still held with
        the yield it has earned so far, and what redemptions will pay on their value
        date (its principal no longer counts as held). Paid-out holdings are left out."""
        today = rules.beijing_date(self.clock.now())
        pending: dict[int, int] = {}
        for payout in self.payouts_pending(session, customer_id):
            pending[payout.holding_id] = (
                pending.get(payout.holding_id, 0) + payout.principal + payout.yield_amount
            )
        holdings = self.holdings(session, customer_id)
        rates = {
            code: self.product(session, code).yield_bps
            for code in {h.product_code for h in holdings if h.left}
        }
        found = []
        for holding in holdings:
            value = HoldingValue(
                holding,
                accrued=rules.accrued_yield(
                    holding.left,
                    rates.get(holding.product_code, 0),
                    value_date=holding.value_date,
                    today=today,
                    maturity_date=holding.maturity_date,
                ),
                pending=pending.get(holding.id, 0),
            )
            if value.total:
                found.append(value)
        return found

    def payouts(self, session: Session, *, customer_id: int, holding_id: int) -> list[Payout]:
        self.holding(session, customer_id=customer_id, holding_id=holding_id)
        rows = session.execute(
            text(f"SELECT {_PAYOUT} FROM wealth_payout WHERE holding_id = :h ORDER BY id"),  # noqa: S608
            {"h": holding_id},
        ).all()
        return [Payout(*row) for row in rows]

    def payouts_pending(self, session: Session, customer_id: int) -> list[Payout]:
        """The customer's redemptions waiting for their value date, oldest first."""
        rows = session.execute(
            text(
                f"SELECT {_PAYOUT} FROM wealth_payout "  # noqa: S608
                "WHERE customer_id = :c AND paid_at IS NULL ORDER BY id"
            ),
            {"c": customer_id},
        ).all()
        return [Payout(*row) for row in rows]

    # -- redemption (customers) ----------------------------------------------------------

    def redeem(
        self,
        session: Session,
        *,
        customer_id: int,
        holding_id: int,
        amount: int | None,
        client_id: str,
    ) -> tuple[Payout, bool]:
        """Redeem ``amount`` fen of principal (None: all that is left) of an
        open-ended holding, with the yield it earns up to the redemption's value date
        (its T), into the account it was paid from; once per ``client_id``. Paid at
        once when T is today; otherwise recorded as due on T (``paid_at`` None) and
        paid by :meth:`pay_due`. Returns the payout and whether it was asked now."""
        # A customer's redemptions one at a time: a retry racing its original finds
        # it, and two redemptions of one holding cannot both take what is left.
        advisory_lock(session, "wealth_redeem", customer_id)
        holding = self.holding(session, customer_id=customer_id, holding_id=holding_id)
        existing = self._payout(session, customer_id, "redemption", client_id)
        if existing is not None:
            if existing.holding_id != holding_id or (
                amount is not None and existing.principal != amount
            ):
                raise RedemptionConflict(client_id=client_id)
            return existing, False
        product = self.product(session, holding.product_code)
        principal = holding.amount - holding.redeemed if amount is None else amount
        rules.check_redemption(
            product.terms, amount=principal, held=holding.amount, redeemed=holding.redeemed
        )
        self._check_payable(session, holding)
        now = self.clock.now()
        day = rules.order_date(now, cutoff=self.cutoff_of(product), calendar=self.calendar)
        payout = self._record_payout(
            session,
            product,
            holding,
            kind="redemption",
            client_id=client_id,
            principal=principal,
            value_date=day,
        )
        if day == rules.beijing_date(now):
            (payout,) = self._pay(session, [(product, holding, payout)])
        return payout, True

    # -- maturity (the job) --------------------------------------------------------------

    def payouts_due(self, session: Session) -> int:
        """Payouts whose day has come and that are not paid yet: redemptions due and
        holdings matured. The payout job pays them within a minute; what stays (an
        account closed meanwhile) waits for staff."""
        return int(
            session.execute(
                text(
                    "SELECT (SELECT count(*) FROM wealth_payout WHERE paid_at IS NULL "
                    "AND value_date <= :today) + (SELECT count(*) FROM wealth_holding h "
                    "JOIN wealth_product p ON p.id = h.product_id WHERE h.status = 'held' "
                    "AND p.maturity_date <= :today)"
                ),
                {"today": rules.beijing_date(self.clock.now())},
            ).one()[0]
        )

    def mature_due(self, session: Session, *, limit: int = 200) -> MaturityRun:
        """Pay out, in the caller's transaction, up to ``limit`` holdings of fixed-term
        products whose maturity date (Beijing) has come: the principal left and the
        yield from the value date to the maturity date. Holdings another run has
        locked are skipped (``SKIP LOCKED``), and a paid one is ``matured``, so two
        runs at once pay each holding exactly once."""
        rows = session.execute(
            text(
                f"SELECT {_HOLDING} WHERE h.status = 'held' AND p.maturity_date <= :today "
                "AND a.status <> 'closed' ORDER BY h.id LIMIT :limit FOR UPDATE OF h SKIP LOCKED"
            ),
            {"today": rules.beijing_date(self.clock.now()), "limit": limit},
        ).all()
        products: dict[str, Product] = {}
        due: list[Due] = []
        for row in rows:
            holding = Holding(*row)
            product = products.get(holding.product_code) or self.product(
                session, holding.product_code
            )
            products[product.code] = product
            assert product.maturity_date is not None
            payout = self._record_payout(
                session,
                product,
                holding,
                kind="maturity",
                client_id=f"maturity:{holding.id}",
                principal=holding.amount - holding.redeemed,
                value_date=product.maturity_date,
            )
            due.append((product, holding, payout))
        return MaturityRun.of(self._pay(session, due))

    def pay_due(self, session: Session, *, limit: int = 200) -> MaturityRun:
        """Pay, in the caller's transaction, up to ``limit`` redemptions whose value
        date (Beijing) has come, locked ``FOR UPDATE SKIP LOCKED``: two runs at once
        pay each exactly once. As at maturity, one whose account was closed meanwhile
        waits (for staff), rather than failing every run's batch."""
        columns = ", ".join(f"w.{c}" for c in _PAYOUT_COLUMNS)
        rows = session.execute(
            text(
                f"SELECT {columns} FROM wealth_payout w "  # noqa: S608
                "JOIN wealth_holding h ON h.id = w.holding_id "
                "JOIN e_account a ON a.id = h.e_account_id "
                "WHERE w.paid_at IS NULL AND w.value_date <= :today AND a.status <> 'closed' "
                "ORDER BY w.id LIMIT :limit FOR UPDATE OF w SKIP LOCKED"
            ),
            {"today": rules.beijing_date(self.clock.now()), "limit": limit},
        ).all()
        products: dict[str, Product] = {}
        due: list[Due] = []
        for row in rows:
            payout = Payout(*row)
            (holding,) = self._holding(session, "h.id = :id", {"id": payout.holding_id})
            product = products.get(holding.product_code) or self.product(
                session, holding.product_code
            )
            products[product.code] = product
            due.append((product, holding, payout))
        return MaturityRun.of(self._pay(session, due))

    # -- money movement: one helper for every leg ----------------------------------------------

    @staticmethod
    def _leg(
        product: Product,
        *,
        client_id: str,
        debit: AccountRef,
        credit: AccountRef,
        amount: int,
        metadata: Mapping[str, object],
    ) -> Transfer:
        """One ledger transfer of a wealth product (the purchase, each leg of a
        payout); its ledger client id makes it once only."""
        return Transfer(
            client_id=client_id,
            debit_account=debit,
            credit_account=credit,
            amount=amount,
            currency="CNY",
            description=f"{product.name} {product.code}"[:200],
            metadata={"product": product.code, **metadata},
        )

    def _record_payout(
        self,
        session: Session,
        product: Product,
        holding: Holding,
        *,
        kind: str,
        client_id: str,
        principal: int,
        value_date: date,
    ) -> Payout:
        """A payout of ``principal`` counting for ``value_date``, with the yield earned
        up to it, taken from the holding at once (its redeemed total and status), not
        yet paid."""
        days = rules.days_held(holding.value_date, value_date)
        redeemed = holding.redeemed + principal
        status = "matured" if kind == "maturity" else "redeemed"
        # The CHECK (redeemed BETWEEN 0 AND amount) refuses an over-redemption even if
        # a caller got past the rules.
        session.execute(
            text(
                "UPDATE wealth_holding SET redeemed = :r, "
                "status = CASE WHEN :r = amount THEN :s ELSE status END WHERE id = :id"
            ),
            {"r": redeemed, "s": status, "id": holding.id},
        )
        row = session.execute(
            text(
                "INSERT INTO wealth_payout (holding_id, customer_id, kind, client_id, "  # noqa: S608
                "principal, yield_amount, days, value_date, created_at) "
                "VALUES (:h, :c, :k, :cid, :p, :y, :d, :vd, :at) "
                f"RETURNING {_PAYOUT}"
            ),
            {
                "h": holding.id,
                "c": holding.customer_id,
                "k": kind,
                "cid": client_id,
                "p": principal,
                "y": rules.yield_for(principal, product.yield_bps, days),
                "d": days,
                "vd": value_date,
                "at": self.clock.now(),
            },
        ).one()
        return Payout(*row)

    def _pay(self, session: Session, due: Sequence[Due]) -> list[Payout]:
        """Move the money of recorded payouts: each principal back from the custody
        shard its holding's purchase credited (which holds it, so a payout never
        overdraws a shard) and
        its yield from the product's yield account, into the holding's account, and
        tell the customers. One ledger batch for all of them, so that its accounts are
        locked together in one order: two payout runs at once never deadlock (one
        transfer at a time, each run would lock custody and customers' accounts in
        its own order)."""
        legs: list[Transfer] = []
        for product, holding, payout in due:
            account = self.accounts.account(session, holding.account_number)
            ledger_id = Namespace.WEALTH_PAYOUT.client_id(payout.id)
            legs.append(
                self._leg(
                    product,
                    client_id=ledger_id,
                    debit=holding.custody_account_id,
                    credit=account.ledger_account_id,
                    amount=payout.principal,
                    metadata={"payout": payout.kind, "holding": holding.id},
                )
            )
            if payout.yield_amount:
                source, _ = self.ledger.create_account(
                    session,
                    code=f"wealth:{product.code}:yield",
                    name=f"yield paid on wealth product {product.code}",
                    currency="CNY",
                    type=AccountType.EXPENSE,
                )
                legs.append(
                    self._leg(
                        product,
                        client_id=Namespace.WEALTH_PAYOUT.client_id(payout.id, "yield"),
                        debit=source.id,
                        credit=account.ledger_account_id,
                        amount=payout.yield_amount,
                        metadata={
                            "payout": payout.kind,
                            "holding": holding.id,
                            "days": payout.days,
                        },
                    )
                )
        entries = iter([o.entry_id_or_raise() for o in self.ledger.execute(session, legs)])
        now = self.clock.now()
        paid = []
        for product, holding, payout in due:
            entry_id = next(entries)
            yield_entry_id = next(entries) if payout.yield_amount else None
            row = session.execute(
                text(
                    "UPDATE wealth_payout SET entry_id = :e, yield_entry_id = :ye, paid_at = :at "  # noqa: S608
                    f"WHERE id = :id AND paid_at IS NULL RETURNING {_PAYOUT}"
                ),
                {"e": entry_id, "ye": yield_entry_id, "at": now, "id": payout.id},
            ).one()
            outbox.record(
                session,
                PayoutMade(
                    holding_id=holding.id,
                    customer_id=holding.customer_id,
                    kind=payout.kind,
                    client_id=payout.client_id,
                    product=product.name,
                    principal=payout.principal,
                    yield_amount=payout.yield_amount,
                    currency="CNY",
                    account_tail=holding.account_number[-4:],
                    occurred_at=now,
                ),
            )
            paid.append(Payout(*row))
        return paid

    def _payout(
        self, session: Session, customer_id: int, kind: str, client_id: str
    ) -> Payout | None:
        row = session.execute(
            text(
                f"SELECT {_PAYOUT} FROM wealth_payout "  # noqa: S608
                "WHERE customer_id = :c AND kind = :k AND client_id = :cid"
            ),
            {"c": customer_id, "k": kind, "cid": client_id},
        ).first()
        return Payout(*row) if row else None

    def _holding_by_client_id(
        self, session: Session, customer_id: int, client_id: RequestKey
    ) -> Holding | None:
        found = self._holding(
            session,
            "h.customer_id = :c AND h.keyed_by = :kb AND h.client_id = :cid",
            {"c": customer_id, **_stored_key(client_id)},
        )
        return found[0] if found else None

    @staticmethod
    def _holding(session: Session, where: str, values: dict[str, object]) -> list[Holding]:
        rows = session.execute(text(f"SELECT {_HOLDING} WHERE {where}"), values).all()
        return [Holding(*row) for row in rows]

    def _check_payable(self, session: Session, holding: Holding) -> None:
        """A payout goes to the account the holding was paid from, while it is open
        (a frozen account still receives)."""
        account = self.accounts.account(session, holding.account_number)
        if account.status == "closed":
            raise AccountNotActive(account=account.number[-4:], status=account.status)
