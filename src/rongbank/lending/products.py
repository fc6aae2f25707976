"""The lending products (``products.toml``): what each lends, for how long, how it is
repaid and at what price by risk grade; and the rules that hold whatever the file says.

The loader refuses a file that breaks a rule with :class:`ProductFileInvalid` naming
the product and the field, so a bad price never reaches a customer: every price in
the grid is checked against the APR ceiling at every term and method it is offered
with, at the product's largest and smallest amounts.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from rongbank.errors import DomainError
from rongbank.lending.errors import (
    AprCeilingExceeded,
    LoanAmountOutOfRange,
    LoanProductNotFound,
    LoanTermNotOffered,
    PersonalCreditCapExceeded,
    ProductFileInvalid,
    RepaymentMethodNotOffered,
)
from rongbank.lending.schedule import (
    BULLET_MAX_MONTHS,
    Fees,
    Instalment,
    RepaymentMethod,
    apr_bps,
    build_schedule,
)
from rongbank.money import format_amount, parse_amount

CNY_SCALE = 2

INTERNET_PERSONAL_CAP_FEN = 200_000_00
"""《商业银行互联网贷款管理暂行办法》(银保监会令2020年第9号) with the 2020 notice on personal
internet loans: one borrower's outstanding internet consumer credit at a bank is at most
200,000 yuan. A file may lower it, never raise it."""

_E = TypeVar("_E", bound=enum.StrEnum)

_APR_CHECK_START = date(2025, 1, 15)
"""Any start date gives the same monthly schedule; one is needed to build it."""


class Grade(enum.StrEnum):
    """Risk grade from the scorecard, A the best; the price grid is keyed by it."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class Borrower(enum.StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"
    MERCHANT = "merchant"
    """An e-Pay merchant, which the bank knows by its settlement history."""


@dataclass(frozen=True, slots=True)
class LoanProduct:
    code: str
    name_zh: str
    name_en: str
    borrower: Borrower
    internet_consumer: bool
    """Personal internet consumer credit: counted against the 200,000-yuan cap."""
    min_amount: int
    max_amount: int
    terms: tuple[int, ...]
    methods: tuple[RepaymentMethod, ...]
    rates: Mapping[Grade, int]
    """Annual contract rate in basis points by grade."""
    fees: Fees
    penalty_factor_percent: int
    """The overdue rate as a percentage of the loan's APR (150: half again). On the APR,
    not the contract rate, so that a product priced by fees (逸贷) has one too."""
    review_above: int
    """An approved amount above this goes to a credit officer's review queue."""

    def rate(self, grade: Grade) -> int:
        return self.rates[grade]

    def penalty_rate_bps(self, apr: int) -> int:
        return apr * self.penalty_factor_percent // 100

    def check_terms(self, *, principal_fen: int, term_months: int, method: str) -> None:
        """Refuse an amount, term or method this product does not offer."""
        if not self.min_amount <= principal_fen <= self.max_amount:
            raise LoanAmountOutOfRange(
                product=self.code,
                min_amount=format_amount(self.min_amount, scale=CNY_SCALE),
                max_amount=format_amount(self.max_amount, scale=CNY_SCALE),
            )
        if term_months not in self.terms:
            raise LoanTermNotOffered(product=self.code, terms=list(self.terms))
        if method not in self.methods or (
            method == RepaymentMethod.BULLET and term_months > BULLET_MAX_MONTHS
        ):
            raise RepaymentMethodNotOffered(
                product=self.code,
                methods=[m.value for m in self.methods],
                bullet_max_months=BULLET_MAX_MONTHS,
            )


class Category(enum.StrEnum):
    """The five-category classification of a loan's risk (五级分类)."""

    NORMAL = "normal"
    """正常: paid as agreed."""
    SPECIAL_MENTION = "special_mention"
    """关注: overdue, or some sign that it may not be repaid in full."""
    SUBSTANDARD = "substandard"
    """次级: a loss is likely even with the collateral or guarantee."""
    DOUBTFUL = "doubtful"
    """可疑: a large part will be lost."""
    LOSS = "loss"
    """损失: nothing, or very little, will be recovered."""


# The floors of 《商业银行金融资产风险分类办法》(2023): the first day past due at which a
# loan is at least in each category; a file may classify sooner, never later.
_CATEGORY_FLOOR_DAYS = {
    Category.SPECIAL_MENTION: 1,
    Category.SUBSTANDARD: 91,
    Category.DOUBTFUL: 271,
    Category.LOSS: 361,
}


@dataclass(frozen=True, slots=True)
class Classification:
    from_days: Mapping[Category, int]
    """The first day past due of each category but NORMAL (which starts at 0)."""
    provision_bps: Mapping[Category, int]
    """Provision by category, in basis points of what the borrower owes."""
    write_off_days: int
    """Days past due at which a loan in LOSS is written off against its provision."""

    def category(self, days_past_due: int) -> Category:
        found = Category.NORMAL
        for category, days in self.from_days.items():
            if days_past_due >= days:
                found = category
        return found


@dataclass(frozen=True, slots=True)
class Products:
    products: Mapping[str, LoanProduct]
    apr_ceiling_bps: int
    personal_cap: int
    """Outstanding internet consumer credit per borrower, in fen (≤ the legal 200,000)."""
    classification: Classification

    def get(self, code: str) -> LoanProduct:
        try:
            return self.products[code]
        except KeyError:
            raise LoanProductNotFound(product=code) from None

    def check_apr(self, apr: int) -> None:
        if apr > self.apr_ceiling_bps:
            raise AprCeilingExceeded(apr_bps=apr, ceiling_bps=self.apr_ceiling_bps)

    def check_personal_cap(self, *, outstanding_fen: int, requested_fen: int) -> None:
        """Refuse credit that would take a borrower's outstanding internet consumer
        credit past the cap; ``outstanding_fen`` counts every such loan not yet repaid."""
        if outstanding_fen + requested_fen > self.personal_cap:
            raise PersonalCreditCapExceeded(
                limit=format_amount(self.personal_cap, scale=CNY_SCALE),
                available=format_amount(
                    max(self.personal_cap - outstanding_fen, 0), scale=CNY_SCALE
                ),
            )


@dataclass(frozen=True, slots=True)
class Quote:
    """A loan's terms as the customer sees them before signing: the schedule and its
    annualised rate (中国人民银行公告〔2021〕第3号)."""

    product: LoanProduct
    principal: int
    term_months: int
    method: RepaymentMethod
    annual_rate_bps: int
    start: date
    schedule: tuple[Instalment, ...]
    upfront_fee: int
    apr_bps: int

    @property
    def total_interest(self) -> int:
        return sum(i.interest for i in self.schedule)

    @property
    def total_fees(self) -> int:
        return self.upfront_fee + sum(i.fee for i in self.schedule)

    @property
    def total_repayment(self) -> int:
        return sum(i.total for i in self.schedule)


def quote(
    products: Products,
    *,
    product_code: str,
    principal_fen: int,
    term_months: int,
    method: str,
    annual_rate_bps: int,
    start: date,
) -> Quote:
    """The schedule and APR of a loan on these terms, refused if the product does not
    offer them or the APR passes the ceiling."""
    product = products.get(product_code)
    product.check_terms(principal_fen=principal_fen, term_months=term_months, method=method)
    repayment = RepaymentMethod(method)
    schedule = build_schedule(
        principal_fen, annual_rate_bps, term_months, repayment, start=start, fees=product.fees
    )
    upfront = product.fees.upfront(principal_fen)
    apr = apr_bps(principal_fen, schedule, upfront_fee_fen=upfront, start=start)
    products.check_apr(apr)
    return Quote(
        product=product,
        principal=principal_fen,
        term_months=term_months,
        method=repayment,
        annual_rate_bps=annual_rate_bps,
        start=start,
        schedule=schedule,
        upfront_fee=upfront,
        apr_bps=apr,
    )


def load_products(path: Path | None = None) -> Products:
    """The products of ``path``, or those shipped in ``products.toml``."""
    name = str(path) if path is not None else "products.toml"
    source = (
        path.read_text()
        if path is not None
        else (files("rongbank.lending") / "products.toml").read_text()
    )
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ProductFileInvalid(f"{name}: not valid TOML: {exc}") from None
    return parse_products(raw, name=name)


def parse_products(raw: Mapping[str, Any], *, name: str = "products") -> Products:
    rules = _table(raw, "rules", name)
    ceiling = _int(rules, "apr_ceiling_bps", f"{name} [rules]", low=1)
    cap = _amount(rules, "personal_cap", f"{name} [rules]")
    if cap > INTERNET_PERSONAL_CAP_FEN:
        raise ProductFileInvalid(
            f"{name} [rules] personal_cap: {format_amount(cap, scale=CNY_SCALE)} is above the "
            "200000.00 yuan that internet consumer credit may reach by law"
        )
    table = _table(raw, "product", name)
    if not table:
        raise ProductFileInvalid(f"{name}: no [product.*] tables")
    products = {
        code: _product(code, _table(table, code, f"{name} [product]"), f"{name} [product.{code}]")
        for code in table
    }
    for product in products.values():
        if product.internet_consumer and product.max_amount > cap:
            raise ProductFileInvalid(
                f"{name} [product.{product.code}] max_amount: above the personal cap "
                f"{format_amount(cap, scale=CNY_SCALE)}"
            )
        _check_grid_apr(product, ceiling, f"{name} [product.{product.code}]")
    return Products(
        products=products,
        apr_ceiling_bps=ceiling,
        personal_cap=cap,
        classification=_classification(raw, name),
    )


def _classification(raw: Mapping[str, Any], name: str) -> Classification:
    where = f"{name} [classification]"
    days = _table(raw, "classification", name)
    from_days = {
        category: _int(days, category.value, where, low=1, high=floor)
        for category, floor in _CATEGORY_FLOOR_DAYS.items()
    }
    if list(from_days.values()) != sorted(set(from_days.values())):
        raise ProductFileInvalid(f"{where}: each category starts later than the one before")
    write_off = _int(days, "write_off", where, low=from_days[Category.LOSS], high=3650)
    where = f"{name} [provision_bps]"
    bps_table = _table(raw, "provision_bps", name)
    provision = {c: _int(bps_table, c.value, where, low=0, high=10_000) for c in Category}
    if list(provision.values()) != sorted(provision.values()):
        raise ProductFileInvalid(f"{where}: a worse category may not hold less")
    if provision[Category.LOSS] != 10_000:
        raise ProductFileInvalid(f"{where} loss: a loss loan is provided for in full (10000)")
    return Classification(from_days=from_days, provision_bps=provision, write_off_days=write_off)


def _product(code: str, values: Mapping[str, Any], where: str) -> LoanProduct:
    borrower = _choice(values, "borrower", where, Borrower)
    internet_consumer = values.get("internet_consumer")
    if not isinstance(internet_consumer, bool):
        raise ProductFileInvalid(f"{where} internet_consumer: must be true or false")
    if internet_consumer and borrower is not Borrower.PERSON:
        raise ProductFileInvalid(
            f"{where} internet_consumer: only a person borrows for consumption"
        )
    low, high = _amount(values, "min_amount", where), _amount(values, "max_amount", where)
    if not 0 < low <= high:
        raise ProductFileInvalid(f"{where}: min_amount must be positive and at most max_amount")
    terms = values.get("terms")
    if (
        not isinstance(terms, list)
        or not terms
        or not all(type(t) is int and 1 <= t <= 360 for t in terms)
    ):
        raise ProductFileInvalid(f"{where} terms: a list of months between 1 and 360")
    methods_raw = values.get("methods")
    if not isinstance(methods_raw, list) or not methods_raw:
        raise ProductFileInvalid(f"{where} methods: a list of repayment methods")
    methods = tuple(_method(m, where) for m in methods_raw)
    if RepaymentMethod.BULLET in methods and min(terms) > BULLET_MAX_MONTHS:
        raise ProductFileInvalid(
            f"{where} methods: bullet repayment runs at most {BULLET_MAX_MONTHS} months, "
            "and no term is that short"
        )
    rates_raw = _table(values, "rates", where)
    if set(rates_raw) != {g.value for g in Grade}:
        raise ProductFileInvalid(f"{where} rates: one rate for each grade A to E, no other")
    rates = {g: _int(rates_raw, g.value, f"{where} rates", low=0) for g in Grade}
    ordered = [rates[g] for g in Grade]
    if ordered != sorted(ordered):
        raise ProductFileInvalid(f"{where} rates: a worse grade may not get a lower rate")
    review_above = _amount(values, "review_above", where)
    return LoanProduct(
        code=code,
        name_zh=_text(values, "name_zh", where),
        name_en=_text(values, "name_en", where),
        borrower=borrower,
        internet_consumer=internet_consumer,
        min_amount=low,
        max_amount=high,
        terms=tuple(sorted(set(terms))),
        methods=methods,
        rates=rates,
        fees=Fees(
            upfront_bps=_int(values, "upfront_fee_bps", where, low=0, high=10_000),
            monthly_bps=_int(values, "monthly_fee_bps", where, low=0, high=10_000),
        ),
        penalty_factor_percent=_int(values, "penalty_factor_percent", where, low=100, high=200),
        review_above=review_above,
    )


def _check_grid_apr(product: LoanProduct, ceiling: int, where: str) -> None:
    """Every price the grid can give stays under the ceiling: each grade, term and
    method, at the smallest and the largest amount (rounding moves the APR a little)."""
    for grade in Grade:
        for term in product.terms:
            for method in product.methods:
                if method is RepaymentMethod.BULLET and term > BULLET_MAX_MONTHS:
                    continue
                for principal in {product.min_amount, product.max_amount}:
                    schedule = build_schedule(
                        principal,
                        product.rate(grade),
                        term,
                        method,
                        start=_APR_CHECK_START,
                        fees=product.fees,
                    )
                    apr = apr_bps(
                        principal,
                        schedule,
                        upfront_fee_fen=product.fees.upfront(principal),
                        start=_APR_CHECK_START,
                    )
                    if apr > ceiling:
                        raise ProductFileInvalid(
                            f"{where} rates.{grade.value}: APR {apr} bps at {term} months "
                            f"({method.value}) is above the ceiling of {ceiling} bps"
                        )


def _table(values: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    table = values.get(key)
    if not isinstance(table, dict):
        raise ProductFileInvalid(f"{where}: missing table [{key}]")
    return table


def _int(values: Mapping[str, Any], key: str, where: str, *, low: int, high: int = 10**6) -> int:
    value = values.get(key)
    if type(value) is not int or not low <= value <= high:
        raise ProductFileInvalid(f"{where} {key}: a whole number from {low} to {high}")
    return value


def _amount(values: Mapping[str, Any], key: str, where: str) -> int:
    value = values.get(key)
    if not isinstance(value, str):
        raise ProductFileInvalid(f'{where} {key}: an amount in yuan as a string, e.g. "1000.00"')
    try:
        return parse_amount(value, scale=CNY_SCALE, currency="CNY")
    except DomainError as exc:
        raise ProductFileInvalid(f"{where} {key}: {value!r}: {exc}") from None


def _text(values: Mapping[str, Any], key: str, where: str) -> str:
    value = values.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProductFileInvalid(f"{where} {key}: a name is required")
    return value


def _method(value: object, where: str) -> RepaymentMethod:
    try:
        return RepaymentMethod(str(value))
    except ValueError:
        known = ", ".join(m.value for m in RepaymentMethod)
        raise ProductFileInvalid(f"{where} methods: {value!r} is not one of {known}") from None


def _choice(values: Mapping[str, Any], key: str, where: str, kind: type[_E]) -> _E:
    try:
        return kind(str(values.get(key)))
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise ProductFileInvalid(f"{where} {key}: one of {known}") from None
