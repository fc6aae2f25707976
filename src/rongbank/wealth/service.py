"""Wealth-product use cases: the catalogue (staff), purchases and holdings (customers).

Each product has its own custody ledger account: a purchase moves the amount from
the customer's e-account into it in one ledger entry, and records a holding, in the
caller's transaction. A purchase moves the customer's money, so the boundary runs it
inside ``Platform.authorised`` (step-up, as every payment). The e-account class
limits do not apply: class II and III accounts may buy the bank's wealth products
without the payment limits (银发〔2016〕302号; see ``account_classes.toml``).

Left for later, and said so: redemption, maturity and yield payment, and the
customer risk assessment that suitability rules ask for before a PR3+ purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.errors import (
    AccountFrozen,
    AccountNotActive,
    AccountNumberInvalid,
    EAccountNotFound,
    NotYourAccount,
)
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.auth.tools import PaymentRequest
from rongbank.clock import Clock
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import LedgerService, Transfer
from rongbank.wealth import rules
from rongbank.wealth.errors import ProductCodeTaken, ProductNotFound, PurchaseConflict


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
    custody_account_id: int

    @property
    def terms(self) -> rules.Terms:
        return rules.Terms(
            risk_level=self.risk_level,
            yield_bps=self.yield_bps,
            min_amount=self.min_amount,
            step_amount=self.step_amount,
            sale_start=self.sale_start,
            sale_end=self.sale_end,
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


_PRODUCT = (
    "id, code, name, risk_level, yield_bps, min_amount, step_amount, sale_start, sale_end, "
    "custody_account_id"
)
_HOLDING = (
    "h.id, h.customer_id, p.code, p.name, a.number, h.amount, h.client_id, h.entry_id, "
    "h.created_at FROM wealth_holding h JOIN wealth_product p ON p.id = h.product_id "
    "JOIN e_account a ON a.id = h.e_account_id"
)


class WealthService:
    def __init__(self, ledger: LedgerService, accounts: AccountsService, clock: Clock) -> None:
        self.ledger = ledger
        self.accounts = accounts
        self.clock = clock

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
        custody, created = self.ledger.create_account(
            session,
            code=f"wealth:{code}",
            name=f"custody of wealth product {code}",
            currency="CNY",
            type=AccountType.LIABILITY,
            rule=BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS,
        )
        row = session.execute(
            text(
                "INSERT INTO wealth_product (code, name, risk_level, yield_bps, min_amount, "  # noqa: S608
                "step_amount, sale_start, sale_end, custody_account_id, created_by, created_at) "
                "VALUES (:code, :name, :risk, :bps, :min, :step, :start, :end, :custody, :staff, "
                f":at) ON CONFLICT (code) DO NOTHING RETURNING {_PRODUCT}"
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
                "custody": custody.id,
                "staff": staff_id,
                "at": self.clock.now(),
            },
        ).first()
        if row is None or not created:  # a concurrent request took the code first
            raise ProductCodeTaken(code=code)
        return Product(*row)

    def product(self, session: Session, code: str) -> Product:
        row = session.execute(
            text(f"SELECT {_PRODUCT} FROM wealth_product WHERE code = :c"),  # noqa: S608
            {"c": code.strip().upper()},
        ).first()
        if row is None:
            raise ProductNotFound(code=code)
        return Product(*row)

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
        product: Product, *, amount: int, account_number: str, client_id: str
    ) -> PaymentRequest:
        """What the customer authorises (and a challenge is bound to)."""
        return PaymentRequest(
            purpose="wealth_purchase",
            payer=account_number,
            payee=f"wealth:{product.code}",
            amount=amount,
            currency="CNY",
            client_id=client_id,
        )

    def purchase_made(self, session: Session, *, customer_id: int, client_id: str) -> bool:
        return self._holding_by_client_id(session, customer_id, client_id) is not None

    def buy(
        self,
        session: Session,
        *,
        customer_id: int,
        code: str,
        account_number: str,
        amount: int,
        client_id: str,
    ) -> tuple[Holding, bool]:
        """Buy ``amount`` fen of the product from one of the customer's accounts,
        once per ``client_id``; returns the holding and whether it was bought now (a
        retry of the same purchase answers the original)."""
        # One purchase of a customer at a time, so that a retry racing its original
        # finds it instead of both writing.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('wealth_buy'), :c)"), {"c": customer_id}
        )
        product = self.product(session, code)
        existing = self._holding_by_client_id(session, customer_id, client_id)
        if existing is not None:
            if (existing.product_code, existing.amount, existing.account_number) != (
                product.code,
                amount,
                account_number,
            ):
                raise PurchaseConflict(client_id=client_id)
            return existing, False
        rules.check_purchase(product.terms, amount, self.clock.now())
        account = self._own_account(session, customer_id, account_number)
        entry_id = self.ledger.transfer(
            session,
            Transfer(
                client_id=f"wealth:{customer_id}:{client_id}",
                debit_account=account.ledger_account_id,
                credit_account=product.custody_account_id,
                amount=amount,
                currency="CNY",
                description=f"{product.name} {product.code}"[:200],
                metadata={"product": product.code, "payer": account.number},
            ),
        ).entry_id_or_raise()
        holding_id = session.execute(
            text(
                "INSERT INTO wealth_holding (customer_id, product_id, e_account_id, amount, "
                "client_id, entry_id, created_at) VALUES (:c, :p, :a, :x, :cid, :e, :at) "
                "RETURNING id"
            ),
            {
                "c": customer_id,
                "p": product.id,
                "a": account.id,
                "x": amount,
                "cid": client_id,
                "e": entry_id,
                "at": self.clock.now(),
            },
        ).scalar_one()
        return self._holding(session, "h.id = :id", {"id": holding_id})[0], True

    def holdings(self, session: Session, customer_id: int) -> list[Holding]:
        return self._holding(session, "h.customer_id = :c ORDER BY h.id", {"c": customer_id})

    def _holding_by_client_id(
        self, session: Session, customer_id: int, client_id: str
    ) -> Holding | None:
        found = self._holding(
            session,
            "h.customer_id = :c AND h.client_id = :cid",
            {"c": customer_id, "cid": client_id},
        )
        return found[0] if found else None

    @staticmethod
    def _holding(session: Session, where: str, values: dict[str, object]) -> list[Holding]:
        rows = session.execute(text(f"SELECT {_HOLDING} WHERE {where}"), values).all()
        return [Holding(*row) for row in rows]

    def _own_account(self, session: Session, customer_id: int, number: str) -> EAccount:
        try:
            account = self.accounts.account(session, number, lock=True)
        except (EAccountNotFound, AccountNumberInvalid):
            raise NotYourAccount() from None
        if account.customer_id != customer_id:
            raise NotYourAccount()
        if account.status == "frozen":
            raise AccountFrozen(account=account.number[-4:])
        if account.status != "active":
            raise AccountNotActive(account=account.number[-4:], status=account.status)
        return account
