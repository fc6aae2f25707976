"""The vocabulary of push notices, and the pure rules behind it (no I/O, no clock).

A **notice** is a message of kind ``notice`` in a customer's own notice box (a
conversation of kind ``notice``). Each has a **kind**, and a customer can switch
each kind off (on by default; off means no message is created for them):

- ``announcement``: a bank notice written by staff for a segment (service changes,
  security warnings); also the credit offer made to a customer's own application;
- ``promotion``: a marketing notice written by staff for a segment (offers); also a
  standing pre-approved credit offer the bank makes a customer unasked;
- ``money_received``: money came into one of their accounts from someone else
  (a transfer), back from a merchant (an e-Pay refund) or from a wealth product
  (redeemed, or matured with its yield);
- ``payment_made``: they paid a merchant with e-Pay (paid, or authorised: held);
- ``money_received`` also tells of a loan lent into their account;
- ``due_soon``: something of theirs falls due soon: an e-Pay authorisation whose
  hold runs out (the money goes back unless the merchant takes it), or a loan's
  instalment due in three days.

One more kind cannot be switched off, :data:`SECURITY`: a change to where their money
can be sent (a payout card bound or unbound), money sent out to a card, and wrong
passwords locking a network out of their login (someone may be guessing it). It is
how a customer whose password was stolen, or is being guessed, finds out. Nor can
:data:`PAYMENT_FAILED`: a payment the bank was to make for them on a day (a scheduled
transfer) was refused, and someone they meant to pay was not paid; or a loan's
instalment could not be collected in full on its due date (overdue: penalty interest
runs, and it is reported).

A **segment** is a set of customers computed from what the bank holds about them
(:data:`SEGMENTS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rongbank.accounts.events import (
    PayoutCardBound,
    PayoutCardUnbound,
    ScheduledTransferFailed,
    TransferMade,
    WithdrawalMade,
)
from rongbank.auth import throttle
from rongbank.auth.events import LoginLockedOut, PasswordChanged
from rongbank.invest.events import MarginCall
from rongbank.lending.events import (
    CreditOffered,
    InstalmentDueSoon,
    LoanDisbursed,
    LoanOverdue,
    LoanReducedByRefund,
)
from rongbank.money import format_amount, format_display
from rongbank.outbox import Event
from rongbank.payments.events import PaymentMade, PaymentRefunded
from rongbank.wealth.events import PayoutMade

NoticeKind = Literal["announcement", "promotion", "money_received", "payment_made", "due_soon"]
NOTICE_KINDS: tuple[NoticeKind, ...] = (
    "announcement",
    "promotion",
    "money_received",
    "payment_made",
    "due_soon",
)
BroadcastKind = Literal["announcement", "promotion"]
SecurityKind = Literal["security"]
SECURITY: SecurityKind = "security"
PaymentFailedKind = Literal["payment_failed"]
PAYMENT_FAILED: PaymentFailedKind = "payment_failed"

Segment = Literal["all", "persons", "enterprises", "students", "seniors", "merchants", "borrowers"]
SEGMENTS: dict[str, str] = {
    "all": "every customer",
    "persons": "personal customers",
    "enterprises": "enterprise customers",
    "students": "personal customers aged 16 to 24 (from the birth date of their ID; the "
    "bank holds no occupation, so this is the age band of students)",
    "seniors": "personal customers aged 60 or more",
    "merchants": "customers with an active e-Pay merchant",
    "borrowers": "customers with a loan being repaid, or a credit line (an e-account with "
    "an overdraft limit)",
}
STUDENT_AGES = (16, 24)
SENIOR_AGE = 60
BEIJING = ZoneInfo("Asia/Shanghai")
CNY_SCALE = 2


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (28 February for a 29th that year
    lacks), so that ``born <= years_before(day, n)`` exactly when the person is at
    least ``n`` years old on ``day``."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def birth_window(segment: str, today: date) -> tuple[date | None, date | None]:
    """The birth dates of an age segment as (born after, born on or before); None
    for a side without a bound."""
    if segment == "students":
        youngest, oldest = STUDENT_AGES
        return years_before(today, oldest + 1), years_before(today, youngest)
    if segment == "seniors":
        return None, years_before(today, SENIOR_AGE)
    return None, None


@dataclass(frozen=True, slots=True)
class EventNotice:
    """A notice to queue for one customer about an event: ``payload`` holds the
    facts its text shows (:func:`render`), ``key`` makes it once per event."""

    customer_id: int
    kind: NoticeKind | SecurityKind | PaymentFailedKind
    key: str
    payload: dict[str, Any]
    at: datetime


NOTIFIED: tuple[type[Event], ...] = (
    TransferMade,
    PaymentMade,
    PaymentRefunded,
    PayoutMade,
    LoanDisbursed,
    InstalmentDueSoon,
    LoanOverdue,
    LoanReducedByRefund,
    CreditOffered,
    PayoutCardBound,
    PayoutCardUnbound,
    WithdrawalMade,
    ScheduledTransferFailed,
    MarginCall,
    LoginLockedOut,
    PasswordChanged,
)
"""The kinds of event :func:`notice_of` may make a notice of: the push job's reader
takes these from the outbox, and no other."""


def notice_of(event: Event) -> EventNotice | None:
    """The notice a customer gets of an event another domain recorded, or None
    (money between one's own accounts, events that concern no customer)."""
    if isinstance(event, TransferMade):
        if event.payee_customer_id == event.payer_customer_id:
            return None
        return EventNotice(
            event.payee_customer_id,
            "money_received",
            event.key,
            {
                "source": "transfer",
                "amount": event.amount,
                "currency": event.currency,
                "account_tail": event.payee_account_tail,
                "payer_id": event.payer_customer_id,
            },
            event.occurred_at,
        )
    if isinstance(event, PaymentMade):
        return EventNotice(
            event.customer_id,
            "payment_made",
            event.key,
            {
                "amount": event.amount,
                "currency": event.currency,
                "merchant": event.merchant,
                "status": event.status,
                "account_tail": event.account_tail,
            },
            event.occurred_at,
        )
    if isinstance(event, PaymentRefunded):
        return EventNotice(
            event.customer_id,
            "money_received",
            event.key,
            {
                "source": "refund",
                "amount": event.amount,
                "currency": event.currency,
                "merchant": event.merchant,
            },
            event.occurred_at,
        )
    if isinstance(event, PayoutMade):
        return EventNotice(
            event.customer_id,
            "money_received",
            event.key,
            {
                "source": "wealth",
                "payout": event.kind,
                "product": event.product,
                "amount": event.principal + event.yield_amount,
                "currency": event.currency,
                "account_tail": event.account_tail,
            },
            event.occurred_at,
        )
    if isinstance(event, LoanDisbursed | InstalmentDueSoon | LoanOverdue):
        return _loan_notice(event)
    if isinstance(event, LoanReducedByRefund):
        facts = {
            "source": "loan_refund",
            "amount": event.repaid,
            "currency": "CNY",
            "merchant": event.merchant,
            "principal_left": event.principal_left,
            "instalments_left": event.instalments_left,
            "next_due": None if event.next_due is None else event.next_due.isoformat(),
            "next_amount": event.next_amount,
        }
        return EventNotice(event.customer_id, "announcement", event.key, facts, event.occurred_at)
    if isinstance(event, CreditOffered):
        facts = {
            "source": "credit_offer",
            "amount": event.amount,
            "currency": "CNY",
            "product": event.product,
            "term_months": event.term_months,
            "apr_bps": event.apr_bps,
            "expires_at": event.expires_at.isoformat(),
            "preapproved": event.preapproved,
        }
        # Unasked, it is marketing (the customer may have switched promotions off).
        kind: NoticeKind = "promotion" if event.preapproved else "announcement"
        return EventNotice(event.customer_id, kind, event.key, facts, event.occurred_at)
    if isinstance(event, PayoutCardBound | PayoutCardUnbound | WithdrawalMade):
        return EventNotice(
            event.customer_id, SECURITY, event.key, _card_facts(event), event.occurred_at
        )
    if isinstance(event, ScheduledTransferFailed):
        facts = {
            "event": "scheduled_transfer",
            "amount": event.amount,
            "currency": event.currency,
            "account_tail": event.account_tail,
            "payee_tail": event.payee_tail,
            "occurrence": event.occurrence.isoformat(),
            "reason": event.reason,
        }
        return EventNotice(event.customer_id, PAYMENT_FAILED, event.key, facts, event.occurred_at)
    if isinstance(event, MarginCall):
        # A margin call cannot be switched off: the bank closes the shorts otherwise.
        facts = {"source": "invest_margin", "ratio_bps": event.ratio_bps}
        return EventNotice(event.customer_id, PAYMENT_FAILED, event.key, facts, event.occurred_at)
    if isinstance(event, LoginLockedOut):
        facts = {
            "event": "login_locked",
            # Masked here, so that the notice (and chat's tables) never hold the
            # address whole: it may not even be the guesser's (throttle.masked).
            "source": throttle.masked(event.source),
            "failures": event.failures,
            "locked_until": event.locked_until.isoformat(),
        }
        return EventNotice(event.customer_id, SECURITY, event.key, facts, event.occurred_at)
    if isinstance(event, PasswordChanged):
        facts = {
            "event": "password_reset" if event.reset else "password_changed",
            "source": throttle.masked(event.source),
            "sessions_ended": event.sessions_ended,
        }
        return EventNotice(event.customer_id, SECURITY, event.key, facts, event.occurred_at)
    return None


def _loan_notice(event: LoanDisbursed | InstalmentDueSoon | LoanOverdue) -> EventNotice:
    """A loan lent (money received), an instalment due in three days (due soon), one
    not collected on its due date (payment failed: it cannot be switched off)."""
    common = {"source": "loan", "currency": "CNY", "account_tail": event.account_tail}
    if isinstance(event, LoanDisbursed):
        facts = common | {
            "amount": event.principal,
            "product": event.product,
            "apr_bps": event.apr_bps,
            "first_due": event.first_due.isoformat(),
            "first_amount": event.first_amount,
        }
        return EventNotice(event.customer_id, "money_received", event.key, facts, event.occurred_at)
    if isinstance(event, InstalmentDueSoon):
        facts = common | {
            "amount": event.amount,
            "number": event.number,
            "due_on": event.due_date.isoformat(),
        }
        return EventNotice(event.customer_id, "due_soon", event.key, facts, event.occurred_at)
    facts = common | {
        "event": "loan_overdue",
        "amount": event.unpaid,
        "number": event.number,
        "due_on": event.due_date.isoformat(),
    }
    return EventNotice(event.customer_id, PAYMENT_FAILED, event.key, facts, event.occurred_at)


def _card_facts(event: PayoutCardBound | PayoutCardUnbound | WithdrawalMade) -> dict[str, Any]:
    """What a security notice shows of a payout card's event (see :func:`_security`)."""
    facts: dict[str, Any] = {"card": event.card, "bank": event.bank}
    if isinstance(event, PayoutCardBound):
        return facts | {
            "event": "card_bound",
            "full_limits_from": event.full_limits_from.isoformat(),
        }
    if isinstance(event, PayoutCardUnbound):
        return facts | {"event": "card_unbound"}
    return facts | {
        "event": "withdrawal",
        "amount": event.amount,
        "currency": event.currency,
        "account_tail": event.account_tail,
    }


def _amount(payload: dict[str, Any], lang: str = "zh") -> str:
    figure = format_display(int(payload["amount"]), scale=CNY_SCALE)
    if lang == "zh" and payload["currency"] == "CNY":
        return f"{figure}元"
    return f"{figure} {payload['currency']}"


Text = tuple[str, str]
"""A notice's title and text in one language."""


@dataclass(frozen=True, slots=True)
class NoticeText:
    """An event notice in Chinese, and in English for customers who read that."""

    zh: Text
    en: Text


def render(kind: str, payload: dict[str, Any]) -> NoticeText:
    """Title and text of an event notice, in Chinese and in English."""
    if kind == SECURITY:
        return _security(payload)
    if payload.get("source") == "invest_margin":
        ratio = f"{int(payload['ratio_bps']) / 100:.2f}%"
        return NoticeText(
            (
                "保证金不足提醒",
                f"您的工银e投资卖出开仓保证金比例已降至{ratio}，低于60%。"
                "请追加资金或减少持仓；低于20%时银行将按亏损从大到小强制平仓。",
            ),
            (
                "Margin call",
                f"The margin of your e-Invest short positions is down to {ratio}, below 60%."
                " Add money or reduce them: below 20% the bank closes them, worst first.",
            ),
        )
    if kind == PAYMENT_FAILED and payload.get("source") != "loan":
        return _payment_failed(payload)
    amount, amount_en = _amount(payload), _amount(payload, "en")
    if kind == "money_received" and payload.get("source") == "refund":
        merchant = payload["merchant"]
        return NoticeText(
            ("退款到账", f"{merchant} 退款 {amount} 已退回您的账户。"),
            ("Refund received", f"{merchant} refunded {amount_en} to your account."),
        )
    if payload.get("source") == "loan":
        return _loan_text(kind, payload)
    if payload.get("source") == "credit_offer":
        return _offer_text(payload)
    if payload.get("source") == "loan_refund":
        return _loan_refund_text(payload)
    if kind == "money_received" and payload.get("source") == "wealth":
        tail, product = payload["account_tail"], payload["product"]
        matured = payload.get("payout") == "maturity"
        return NoticeText(
            (
                "理财到期" if matured else "理财赎回",
                f"您的理财产品{product}{'到期' if matured else '赎回'}款 {amount}"
                f"（含收益）已到您尾号{tail}的账户。",
            ),
            (
                "Wealth product matured" if matured else "Redemption paid",
                f"{amount_en} from {product} ({'maturity' if matured else 'redemption'},"
                f" with its yield) is in your account ending {tail}.",
            ),
        )
    if kind == "money_received":
        tail, payer = payload["account_tail"], payload.get("payer", "")
        return NoticeText(
            ("收到转账", f"您尾号{tail}的账户收到{payer}转账 {amount}。"),
            ("Money received", f"Your account ending {tail} received {amount_en} from {payer}."),
        )
    if kind == "payment_made":
        held = payload.get("status") == "authorised"
        tail, merchant = payload["account_tail"], payload["merchant"]
        if held:
            return NoticeText(
                (
                    "预授权",
                    f"您尾号{tail}的账户在{merchant}预授权 {amount}（资金已冻结，待商户确认）。",
                ),
                (
                    "Payment authorised",
                    f"{amount_en} is held on your account ending {tail} for {merchant}.",
                ),
            )
        return NoticeText(
            ("付款成功", f"您尾号{tail}的账户向{merchant}付款 {amount}。"),
            (
                "Payment made",
                f"You paid {amount_en} to {merchant} from your account ending {tail}.",
            ),
        )
    if kind == "due_soon":
        due = datetime.fromisoformat(payload["due_at"]).astimezone(BEIJING)
        when, merchant = due.strftime("%Y-%m-%d %H:%M"), payload["merchant"]
        return NoticeText(
            (
                "预授权即将到期",
                f"您在{merchant}的预授权 {amount} 将于 {when}（北京时间）到期，"
                "届时若商户未确认收款，冻结资金将退回您的账户。",
            ),
            (
                "Authorisation ending",
                f"The {amount_en} held for {merchant} is released on {when} "
                "(Beijing time) unless the merchant takes it before.",
            ),
        )
    raise ValueError(f"no notice text for {kind}")


def _loan_text(kind: str, payload: dict[str, Any]) -> NoticeText:
    amount, amount_en = _amount(payload), _amount(payload, "en")
    tail = payload["account_tail"]
    if kind == "money_received":
        first = _amount({**payload, "amount": payload["first_amount"]})
        first_en = _amount({**payload, "amount": payload["first_amount"]}, "en")
        apr = f"{int(payload['apr_bps']) / 100:.2f}%"
        return NoticeText(
            (
                "贷款到账",
                f"您的{payload['product']} {amount} 已到尾号{tail}的账户，年化利率{apr}。"
                f"首期{payload['first_due']}应还{first}，到期将从该账户自动扣款。",
            ),
            (
                "Loan received",
                f"Your loan of {amount_en} is in your account ending {tail}, at an APR of "
                f"{apr}. The first {first_en} falls due on {payload['first_due']} and is "
                "taken from that account.",
            ),
        )
    number, on = payload["number"], payload["due_on"]
    if kind == "due_soon":
        return NoticeText(
            (
                "还款提醒",
                f"您的贷款第{number}期 {amount} 将于{on}到期，届时从尾号{tail}的账户自动扣款，"
                "请确保余额充足。",
            ),
            (
                "Repayment due soon",
                f"Instalment {number} of your loan, {amount_en}, falls due on {on} and is "
                f"taken from your account ending {tail}: please keep enough in it.",
            ),
        )
    return NoticeText(
        (
            "贷款逾期",
            f"您的贷款第{number}期（{on}到期）尚有 {amount} 未还，尾号{tail}的账户余额不足。"
            "逾期将按合同计收罚息并影响您的信用记录，请尽快还款。",
        ),
        (
            "Loan overdue",
            f"{amount_en} of instalment {number} of your loan, due on {on}, is unpaid: "
            f"your account ending {tail} did not hold enough. Penalty interest runs as the "
            "contract says and it affects your credit record; please repay soon.",
        ),
    )


def _loan_refund_text(payload: dict[str, Any]) -> NoticeText:
    """A refund of an order paid by 逸贷 repaid the loan: in whole, or in part with the
    schedule recomputed (what is left, and the next instalment)."""
    amount, amount_en = _amount(payload), _amount(payload, "en")
    merchant = payload["merchant"]
    if payload["instalments_left"] == 0:
        return NoticeText(
            ("逸贷分期已结清", f"{merchant}退款已提前归还您的逸贷分期 {amount}，该笔分期已结清。"),
            (
                "Instalments repaid",
                f"The refund from {merchant} repaid {amount_en} of your 逸贷 instalments: "
                "nothing more is owed on them.",
            ),
        )
    left = _amount({**payload, "amount": payload["principal_left"]})
    left_en = _amount({**payload, "amount": payload["principal_left"]}, "en")
    due = _amount({**payload, "amount": payload["next_amount"]})
    due_en = _amount({**payload, "amount": payload["next_amount"]}, "en")
    count, on = payload["instalments_left"], payload["next_due"]
    return NoticeText(
        (
            "逸贷分期已调整",
            f"{merchant}退款已提前归还您的逸贷分期本金 {amount}，剩余本金 {left}，"
            f"还有{count}期；下期{on}应还{due}，手续费按剩余本金重新计算。",
        ),
        (
            "Instalments recalculated",
            f"The refund from {merchant} repaid {amount_en} of your 逸贷 instalments' "
            f"principal. {left_en} is left over {count} instalments; the next, {due_en}, "
            f"falls due on {on}. Fees are recomputed on what is left.",
        ),
    )


def _offer_text(payload: dict[str, Any]) -> NoticeText:
    amount, amount_en = _amount(payload), _amount(payload, "en")
    product, term = payload["product"], payload["term_months"]
    apr = f"{int(payload['apr_bps']) / 100:.2f}%"
    until = datetime.fromisoformat(payload["expires_at"]).astimezone(BEIJING)
    when = until.strftime("%Y-%m-%d %H:%M")
    if payload.get("preapproved"):
        return NoticeText(
            (
                "预授信额度",
                f"您获得{product}预授信 {amount}，{term}期，年化利率{apr}。"
                f"在“我的贷款”中一键申请，{when}（北京时间）前有效。",
            ),
            (
                "Pre-approved credit",
                f"You are pre-approved for {amount_en} of {product}, {term} months, at an "
                f"APR of {apr}. Accept it in My credit before {when} (Beijing time).",
            ),
        )
    return NoticeText(
        (
            "贷款申请已批准",
            f"您的{product}申请已批准：{amount}，{term}期，年化利率{apr}。"
            f"请在{when}（北京时间）前确认签约。",
        ),
        (
            "Credit approved",
            f"Your application for {product} is approved: {amount_en}, {term} months, at an "
            f"APR of {apr}. Accept the offer before {when} (Beijing time).",
        ),
    )


_FAILED_BECAUSE: dict[str, tuple[str, str]] = {
    "insufficient_funds": ("账户余额不足", "there was not enough money in the account"),
    "daily_limit_exceeded": ("超过账户每日限额", "it was over the account's daily limit"),
    "yearly_limit_exceeded": ("超过账户年度限额", "it was over the account's yearly limit"),
    "balance_cap_exceeded": ("超过收款账户余额上限", "the payee's account could not take it"),
    "tool_limit_exceeded": ("超过当日支付限额", "it was over your payment limits for the day"),
    "stronger_tool_required": ("超过当日支付限额", "it was over your payment limits for the day"),
    "account_frozen": ("账户已冻结", "an account is frozen"),
    "account_not_active": ("账户状态异常", "an account is no longer active"),
    "payment_refused_risk": ("被风险控制拦截", "the bank's fraud checks stopped it"),
    "scheduled_run_challenged": (
        "风险控制需要您本人确认",
        "the bank's fraud checks wanted you to confirm it yourself",
    ),
}
"""Why a scheduled transfer was refused, in the customer's words (zh, en); others:
the refusal's code."""


def _payment_failed(payload: dict[str, Any]) -> NoticeText:
    amount, amount_en = _amount(payload), _amount(payload, "en")
    tail, payee = payload["account_tail"], payload["payee_tail"]
    on = payload["occurrence"]
    code = str(payload["reason"])
    why_zh, why_en = _FAILED_BECAUSE.get(code, (f"未能完成（{code}）", f"it was refused ({code})"))
    return NoticeText(
        (
            "预约转账未成功",
            f"您预约于{on}从尾号{tail}的账户向尾号{payee}的账户转账{amount}，因{why_zh}未能完成，"
            "资金未划转。请处理后自行转账，后续预约日期照常执行。",
        ),
        (
            "Scheduled transfer not made",
            f"Your scheduled transfer of {amount_en} from your account ending {tail} to the"
            f" account ending {payee}, due on {on}, was not made: {why_en}. Nothing was"
            " moved; pay it yourself if you still mean to. Later dates go ahead as planned.",
        ),
    )


def _beijing(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _security(payload: dict[str, Any]) -> NoticeText:
    event = payload["event"]
    if event == "login_locked":
        return _login_locked(payload)
    if event in ("password_changed", "password_reset"):
        return _password_changed(payload)
    card = payload["card"]
    bank = f"{payload['bank']} " if payload.get("bank") else ""
    warn_zh = "如非本人操作，请立即致电银行或联系您的客户经理。"
    warn_en = "If this was not you, call the bank or your account manager now."
    if event == "card_bound":
        when = _beijing(payload["full_limits_from"])
        return NoticeText(
            (
                "新绑定银行卡",
                f"您的网上银行绑定了新的提现银行卡 {bank}{card}，"
                f"{when}（北京时间）前每日可提现金额较低。{warn_zh}",
            ),
            (
                "New card bound",
                f"The card {bank}{card} was bound to your e-bank for withdrawals; until"
                f" {when} (Beijing time) only a small amount a day can go to it. {warn_en}",
            ),
        )
    if event == "card_unbound":
        return NoticeText(
            ("银行卡已解绑", f"银行卡 {bank}{card} 已从您的网上银行解绑。{warn_zh}"),
            ("Card unbound", f"The card {bank}{card} was unbound from your e-bank. {warn_en}"),
        )
    if event == "withdrawal":
        amount, amount_en, tail = _amount(payload), _amount(payload, "en"), payload["account_tail"]
        return NoticeText(
            (
                "提现成功",
                f"您尾号{tail}的账户向银行卡 {bank}{card} 提现 {amount}。{warn_zh}",
            ),
            (
                "Money withdrawn",
                f"{amount_en} went from your account ending {tail} to the card {bank}{card}."
                f" {warn_en}",
            ),
        )
    raise ValueError(f"no notice text for security event {event}")


def _login_locked(payload: dict[str, Any]) -> NoticeText:
    until, failures = _beijing(payload["locked_until"]), payload["failures"]
    unknown = payload["source"] == throttle.UNKNOWN_SOURCE
    source_zh = "未知网络" if unknown else f"网络 {payload['source']}"
    source_en = "an unknown network" if unknown else f"the network {payload['source']}"
    return NoticeText(
        (
            "登录密码多次输错",
            f"有人从{source_zh}多次输错您的网上银行登录密码，该网络的登录已暂停至{until}"
            f"（北京时间）；自您上次登录以来共输错{failures}次。如非本人操作，请尽快修改"
            "登录密码，或致电银行、联系您的客户经理。其他网络的登录不受影响。",
        ),
        (
            "Wrong passwords for your login",
            f"Wrong passwords were typed for your e-bank login from {source_en}; logins from"
            f" there are paused until {until} (Beijing time). {failures} wrong passwords since"
            " your last login. If this was not you, change your password soon, or call the"
            " bank or your account manager. Logins from other networks are not affected.",
        ),
    )


def _password_changed(payload: dict[str, Any]) -> NoticeText:
    reset, ended = payload["event"] == "password_reset", payload["sessions_ended"]
    unknown = payload["source"] == throttle.UNKNOWN_SOURCE
    source_zh = "未知网络" if unknown else f"网络 {payload['source']}"
    source_en = "an unknown network" if unknown else f"the network {payload['source']}"
    how_zh = "通过注册手机重置" if reset else "修改"
    how_en = "reset through your registered mobile" if reset else "changed"
    return NoticeText(
        (
            "登录密码已重置" if reset else "登录密码已修改",
            f"您的网上银行登录密码已从{source_zh}{how_zh}，其他 {ended} 处登录已退出。"
            "如非本人操作，请立即致电银行或联系您的客户经理。",
        ),
        (
            "Password reset" if reset else "Password changed",
            f"Your e-bank login password was {how_en} from {source_en}; {ended} other"
            " sessions were ended. If this was not you, call the bank or your account"
            " manager now.",
        ),
    )


def public_data(payload: dict[str, Any]) -> dict[str, Any]:
    """What of an event's facts the notice message carries for the pages: amounts as
    decimal text, never internal ids."""
    data = {k: v for k, v in payload.items() if not k.endswith("_id")}
    if "amount" in data:
        data["amount"] = format_amount(int(data["amount"]), scale=CNY_SCALE)
    return data
