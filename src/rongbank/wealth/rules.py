"""Pure rules of wealth products: valid terms, what a purchase may be, the
customer's risk-tolerance assessment and suitability, yield and redemption. No I/O,
no clock: the caller passes the time.

Yield. A product shows an expected annualised yield in basis points. What a
holding earns is ``principal × bps / 10 000 × days / 365``: day count **ACT/365
(Fixed)**, the convention Chinese banks' 理财 product terms state ("本金 × 年化收益率
× 实际天数 ÷ 365"; 365 in leap years too), counting actual calendar days from the
value date (起息日, included) to the payout date (excluded), in Beijing dates. The
result is **rounded down to the fen** (分以下舍去), once per payout, so the bank
never pays more than the stated rate: splitting a redemption in parts can only pay
less than or the same as one redemption of the whole.

Dealing days and the cut-off (open-ended products). An order, purchase or
redemption, counts for a business day (T, :func:`order_date`): the day it is placed
if that is a business day and it comes before the product's cut-off (15:00 Beijing
time unless the product or the ``wealth_cutoff`` setting says otherwise), else the
next business day. A purchase earns from its T (its value date); a redemption stops
earning on its T and is paid on it: at once when T is today, else by the payout job
once T has begun, the principal staying in custody until then. So every day paid for
is a day whose end found the money invested: buying at 23:59:58 and redeeming at
00:00:01 earns nothing, and a holding redeemed before its value date earns nothing.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from rongbank.business_calendar import BusinessCalendar
from rongbank.money import format_amount
from rongbank.wealth.errors import (
    AmountBelowMinimum,
    AmountNotInSteps,
    AssessmentAnswersInvalid,
    AssessmentRequired,
    AssessmentTooFrequent,
    NotRedeemable,
    ProductInvalid,
    ProductNotOnSale,
    RedemptionExceedsHolding,
    RiskLevelExceeded,
)

BUSINESS_TIME_ZONE = ZoneInfo("Asia/Shanghai")
"""Value, maturity and payout dates are Beijing dates."""
DAYS_PER_YEAR = 365
"""ACT/365 (Fixed)."""
DEFAULT_CUTOFF = time(15, 0)
"""Orders of open-ended products placed before this Beijing time on a business day
count for that day; later ones for the next business day (the 15:00 of Chinese
banks' open-ended 理财, as of the exchanges' close). The ``wealth_cutoff`` setting
changes it for the bank, a product's own ``cutoff`` for that product."""

CNY_SCALE = 2
RISK_LEVELS = {1: "PR1 谨慎型", 2: "PR2 稳健型", 3: "PR3 平衡型", 4: "PR4 进取型", 5: "PR5 激进型"}
"""The five product risk levels of the banking regulator's wealth rules
(《商业银行理财业务监督管理办法》, 2018), lowest first."""


@dataclass(frozen=True, slots=True)
class Terms:
    """What a product offers; amounts in fen."""

    risk_level: int
    yield_bps: int
    """Expected annualised yield in basis points (350 = 3.50%): an expectation the
    bank shows, never a promise."""
    min_amount: int
    step_amount: int
    sale_start: datetime
    sale_end: datetime
    maturity_date: date | None = None
    """Fixed-term products mature (and pay out) on this Beijing date; None: an
    open-ended product, redeemed when the holder wishes."""
    cutoff: time | None = None
    """The product's own cut-off (Beijing time); None: the bank's."""

    @property
    def fixed_term(self) -> bool:
        return self.maturity_date is not None


def beijing_date(at: datetime) -> date:
    return at.astimezone(BUSINESS_TIME_ZONE).date()


def check_terms(terms: Terms) -> None:
    if terms.risk_level not in RISK_LEVELS:
        raise ProductInvalid(field="risk_level", allowed=sorted(RISK_LEVELS))
    if not 0 <= terms.yield_bps <= 10_000:
        raise ProductInvalid(field="yield_bps")
    if terms.min_amount <= 0 or terms.step_amount <= 0:
        raise ProductInvalid(field="min_amount")
    if terms.sale_end <= terms.sale_start:
        raise ProductInvalid(field="sale_end")
    if terms.maturity_date is not None and terms.maturity_date <= beijing_date(terms.sale_end):
        raise ProductInvalid(field="maturity_date", reason="must be after the sale ends")
    if terms.cutoff is not None and (
        terms.cutoff.tzinfo is not None or terms.cutoff.second or terms.cutoff.microsecond
    ):
        raise ProductInvalid(field="cutoff", reason="hours and minutes, Beijing time")


def check_purchase(terms: Terms, amount: int, now: datetime) -> None:
    """A purchase is in the sale window, at least the minimum, and the minimum plus
    a whole number of steps."""
    if not terms.sale_start <= now < terms.sale_end:
        raise ProductNotOnSale(
            sale_start=terms.sale_start.isoformat(), sale_end=terms.sale_end.isoformat()
        )
    if amount < terms.min_amount:
        raise AmountBelowMinimum(minimum=format_amount(terms.min_amount, scale=CNY_SCALE))
    if (amount - terms.min_amount) % terms.step_amount:
        raise AmountNotInSteps(
            minimum=format_amount(terms.min_amount, scale=CNY_SCALE),
            step=format_amount(terms.step_amount, scale=CNY_SCALE),
        )


def format_yield(bps: int) -> str:
    """350 -> "3.50%"."""
    return f"{format_amount(bps, scale=2)}%"


# -- yield ------------------------------------------------------------------------------


def order_date(at: datetime, *, cutoff: time, calendar: BusinessCalendar) -> date:
    """T: the business day an order placed at ``at`` counts for; the day itself when
    it is a business day and ``at`` is before ``cutoff`` (Beijing time), else the
    next business day."""
    local = at.astimezone(BUSINESS_TIME_ZONE)
    day = local.date()
    if calendar.is_business_day(day) and local.time() < cutoff:
        return day
    return calendar.next_business_day(day)


def value_date(
    terms: Terms, bought_at: datetime, *, cutoff: time, calendar: BusinessCalendar
) -> date:
    """起息日: a fixed-term product is established when its sale closes and earns from
    then (nothing during the subscription period); an open-ended one from its
    purchase's T (:func:`order_date`)."""
    if terms.fixed_term:
        return beijing_date(terms.sale_end)
    return order_date(bought_at, cutoff=cutoff, calendar=calendar)


def days_held(start: date, end: date) -> int:
    """Actual calendar days from ``start`` (included) to ``end`` (excluded); 0 when
    paid out on or before the value date."""
    return max((end - start).days, 0)


def yield_for(principal: int, yield_bps: int, days: int) -> int:
    """What ``principal`` fen earn in ``days`` days at ``yield_bps`` a year: ACT/365,
    rounded down to the fen (integer arithmetic, never a float)."""
    if principal < 0 or yield_bps < 0 or days < 0:
        raise ValueError("principal, yield and days are never negative")
    return principal * yield_bps * days // (10_000 * DAYS_PER_YEAR)


def accrued_yield(
    principal: int, yield_bps: int, *, value_date: date, today: date, maturity_date: date | None
) -> int:
    """What ``principal`` still held has earned and not yet been paid, as a payout
    counting for ``today`` would pay it: from the value date up to today, or up to
    the maturity date once that has come (a fixed-term product earns nothing after
    it); nothing before the value date."""
    end = today if maturity_date is None else min(today, maturity_date)
    return yield_for(principal, yield_bps, days_held(value_date, end))


# -- redemption -------------------------------------------------------------------------


def check_redemption(terms: Terms, *, amount: int, held: int, redeemed: int) -> None:
    """An open-ended holding is redeemed in part or in full, never more than is left."""
    if terms.fixed_term:
        raise NotRedeemable(reason="fixed_term", maturity_date=str(terms.maturity_date))
    left = held - redeemed
    if left <= 0:
        raise NotRedeemable(reason="nothing_left")
    if amount <= 0 or amount > left:
        raise RedemptionExceedsHolding(left=format_amount(left, scale=CNY_SCALE))


# -- risk-tolerance assessment and suitability -------------------------------------------

CUSTOMER_LEVELS = {1: "C1 保守型", 2: "C2 稳健型", 3: "C3 平衡型", 4: "C4 进取型", 5: "C5 激进型"}
"""Risk tolerance from the assessment, lowest first. A customer of level Cn may buy
products of level PR1 to PRn, and nothing above (《商业银行理财业务监督管理办法》
第二十六条: 不得销售风险等级高于客户风险承受能力评级的产品)."""

ASSESSMENT_VALID_MONTHS = 12
"""An assessment is valid for 12 months; after that the customer assesses again
before the next purchase (the bank re-assesses at least yearly)."""

ASSESSMENTS_PER_DAY = 2
"""How many assessments a customer may take in one Beijing day (the default of the
``wealth_assessments_per_day`` setting): one retake to correct a slip, not enough to
try answers until a higher level comes out."""
QUESTIONNAIRE_VERSION = "2026-1"


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    zh: str
    en: str
    score: int
    cap: int | None = None
    """The highest level a customer choosing this answer may reach, whatever the
    score: who cannot bear any loss is C1."""


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    zh: str
    en: str
    options: tuple[Option, ...]


QUESTIONNAIRE: tuple[Question, ...] = (
    Question("age", "您的年龄", "Your age", (
        Option("a", "18-30岁", "18 to 30", 8),
        Option("b", "31-50岁", "31 to 50", 10),
        Option("c", "51-65岁", "51 to 65", 5),
        Option("d", "65岁以上", "over 65", 1),
    )),
    Question("experience", "您投资股票、基金、理财等产品的经验",
             "Your experience of investing in shares, funds or wealth products", (
        Option("a", "没有经验", "none", 0),
        Option("b", "2年以下", "under 2 years", 4),
        Option("c", "2-5年", "2 to 5 years", 7),
        Option("d", "5年以上", "over 5 years", 10),
    )),
    Question("income", "您的家庭年收入", "Your household's yearly income", (
        Option("a", "5万元以下", "under 50,000 yuan", 1),
        Option("b", "5-20万元", "50,000 to 200,000 yuan", 4),
        Option("c", "20-50万元", "200,000 to 500,000 yuan", 7),
        Option("d", "50万元以上", "over 500,000 yuan", 10),
    )),
    Question("share", "计划投资金额占您家庭金融资产的比例",
             "The share of your household's financial assets you plan to invest", (
        Option("a", "70%以上", "over 70%", 2),
        Option("b", "30%-70%", "30% to 70%", 5),
        Option("c", "10%-30%", "10% to 30%", 8),
        Option("d", "10%以下", "under 10%", 10),
    )),
    Question("horizon", "您计划的投资期限", "How long you plan to invest", (
        Option("a", "1年以内", "under a year", 2),
        Option("b", "1-3年", "1 to 3 years", 5),
        Option("c", "3-5年", "3 to 5 years", 8),
        Option("d", "5年以上", "over 5 years", 10),
    )),
    Question("loss", "您能承受的最大本金亏损", "The largest loss of principal you can bear", (
        Option("a", "不能接受任何本金亏损", "no loss at all", 0, cap=1),
        Option("b", "10%以内", "up to 10%", 4),
        Option("c", "10%-30%", "10% to 30%", 7),
        Option("d", "30%以上", "over 30%", 10),
    )),
    Question("goal", "您的投资目标", "What you want from investing", (
        Option("a", "保本，不在意收益", "keep the principal safe, whatever the return", 1),
        Option("b", "稳定增值", "steady growth", 4),
        Option("c", "兼顾收益与风险", "a balance of return and risk", 7),
        Option("d", "追求高收益，可承受较大波动", "high returns, accepting large swings", 10),
    )),
)  # fmt: skip
"""The bank's risk-tolerance questionnaire (version :data:`QUESTIONNAIRE_VERSION`):
one answer to each question; the scores add up (0 to 70)."""

LEVEL_FLOORS = ((61, 5), (51, 4), (36, 3), (21, 2), (0, 1))
"""Lowest total score of each level: 0-20 C1, 21-35 C2, 36-50 C3, 51-60 C4, 61-70 C5."""


@dataclass(frozen=True, slots=True)
class Scored:
    score: int
    level: int


def score_answers(answers: Mapping[str, str]) -> Scored:
    """The score and level of a complete set of answers (question id -> option id)."""
    questions = {q.id: q for q in QUESTIONNAIRE}
    unknown = sorted(set(answers) - set(questions))
    if unknown:
        raise AssessmentAnswersInvalid(unknown_questions=unknown)
    missing = [q for q in questions if q not in answers]
    if missing:
        raise AssessmentAnswersInvalid(unanswered=missing)
    score, cap = 0, 5
    for question in QUESTIONNAIRE:
        option = next((o for o in question.options if o.id == answers[question.id]), None)
        if option is None:
            raise AssessmentAnswersInvalid(
                question=question.id, allowed=[o.id for o in question.options]
            )
        score += option.score
        cap = min(cap, option.cap or 5)
    level = next(level for floor, level in LEVEL_FLOORS if score >= floor)
    return Scored(score=score, level=min(level, cap))


def valid_until(assessed_at: datetime) -> datetime:
    """:data:`ASSESSMENT_VALID_MONTHS` calendar months later (the last day of a
    shorter month: 29 February assessed is valid until 28 February)."""
    month = assessed_at.month - 1 + ASSESSMENT_VALID_MONTHS
    year, month = assessed_at.year + month // 12, month % 12 + 1
    day = min(assessed_at.day, calendar.monthrange(year, month)[1])
    return assessed_at.replace(year=year, month=month, day=day)


def check_assessment_allowed(taken_today: int, *, limit: int, next_day: datetime) -> None:
    """Refuse one more assessment when ``taken_today`` (this Beijing day) reached
    ``limit``; the refusal says from when (``next_day``, Beijing midnight) the
    customer can take it again."""
    if taken_today < limit:
        return
    retry_at = next_day.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")
    raise AssessmentTooFrequent(
        f"You have taken the risk-tolerance assessment {limit} times today; you can "
        f"take it again from {retry_at} (Beijing time).",
        limit=limit,
        retry_at=retry_at,
    )


def check_suitable(
    product_level: int, *, customer_level: int | None, valid_until: datetime | None, now: datetime
) -> None:
    """Whether the bank may sell a product of ``product_level`` to a customer whose
    latest assessment is ``customer_level`` (None: never assessed)."""
    if customer_level is None or valid_until is None:
        raise AssessmentRequired(reason="none")
    if valid_until <= now:
        raise AssessmentRequired(reason="expired", expired_at=valid_until.isoformat())
    if product_level > customer_level:
        raise RiskLevelExceeded(
            product_level=RISK_LEVELS[product_level],
            customer_level=CUSTOMER_LEVELS[customer_level],
        )
