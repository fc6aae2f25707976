"""Bodies of the e-Pay API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, StrictBool, StrictInt, StrictStr

from rongbank.inputs import Day, Id, Name
from rongbank.inputs import Input as Strict

Amount = Annotated[StrictStr, Field(max_length=40, examples=["12.30"])]
AccountNumber = Annotated[str, Field(min_length=1, max_length=40)]
OrderNo = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")]
Url = Annotated[str, Field(max_length=500, pattern=r"^(https?://\S+)?$")]
Tool = Literal["sms", "grid_card", "token", "ukey"]


class Confirmation(Strict):
    """The step-up fields, as for transfers (see ``/me/transfers``)."""

    challenge_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    response: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    tool: Tool | None = None


class MerchantIn(Strict):
    customer_id: Id
    name: Annotated[Name, Field(max_length=100)]
    mcc: Annotated[str, Field(pattern=r"^[0-9]{4}$", examples=["5812"])]
    settlement_account: AccountNumber
    fee_bps: Annotated[StrictInt, Field(ge=0, le=1000, examples=[60])]


class StatusIn(Strict):
    reason: Annotated[str, Field(max_length=500)] = ""


class MerchantOut(BaseModel):
    id: int
    number: str
    customer_id: int
    name: str
    mcc: str
    fee_bps: int
    status: str


class MerchantUserIn(Strict):
    role: Literal["owner", "cashier"]
    name: Annotated[Name, Field(max_length=100)]
    login_name: Annotated[Name, Field(max_length=100)]
    password: SecretStr


class MerchantUserOut(BaseModel):
    user_id: int
    login_name: str
    role: str


class MerchantUserListed(BaseModel):
    user_id: int
    role: str
    name: str
    active: bool
    """False once revoked: its sessions are refused."""
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyIn(Strict):
    label: Annotated[str, Field(max_length=100)] = ""


class ApiKeyOut(BaseModel):
    key_id: int
    label: str
    created_at: datetime
    revoked_at: datetime | None
    """Set once revoked: requests with the key are refused."""


class ApiKeyMade(ApiKeyOut):
    """Shown once: the bank keeps only the key's hash."""

    secret: str


class SecretOut(BaseModel):
    """Shown once: the bank keeps only a hash (API key) or can derive it again only
    by rotating (notification key)."""

    secret: str


class QrIn(Strict):
    label: Annotated[str, Field(max_length=100)] = ""


class QrOut(BaseModel):
    content: str
    svg: str


class OrderIn(Strict):
    order_no: OrderNo
    amount: Amount
    channel: Literal["online", "dynamic_qr"] = "online"
    description: Annotated[str, Field(max_length=200)] = ""
    return_url: Url = ""
    notify_url: Url = ""
    capture: Literal["immediate", "manual"] = "immediate"
    """``manual``: authorise now (the customer's money is held), capture on shipping."""


class RefundOut(BaseModel):
    refund_no: str
    amount: str
    created_at: datetime


_STATUS = (
    "created, authorised (to capture), paid, voided, expired; held: the bank's fraud checks "
    "hold the money for review (the notify URL hears payment.paid, payment.authorised or "
    "payment.declined once it is decided); declined: the review refused it, nothing is paid."
)


class PaymentOut(BaseModel):
    merchant_id: int
    order_no: str
    channel: str
    status: str = Field(description=_STATUS)
    amount: str
    captured: str
    refunded: str
    fee: str
    currency: str
    description: str
    pay_url: str
    qr: str
    return_url: str
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    refunds: list[RefundOut] = []


class CustomerPaymentOut(BaseModel):
    """A payment as the paying customer sees it (no merchant fee or settings)."""

    token: str
    merchant: str
    merchant_name: str
    order_no: str
    channel: str
    status: str = Field(description=_STATUS)
    amount: str
    refunded: str
    description: str
    return_url: str
    expires_at: datetime
    paid_at: datetime | None


class PayOrderIn(Confirmation):
    account: AccountNumber
    client_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """Optional: with it, a refusal (no funds, a limit) is this request's answer for
    good, and the same id for another account is a conflict; without it, the order
    alone keeps a second payment out."""


class StaticPayIn(Confirmation):
    qr: Annotated[str, Field(min_length=1, max_length=300)]
    account: AccountNumber
    amount: Amount
    client_id: Annotated[str, Field(min_length=1, max_length=48)]


class PaymentCodeIn(Strict):
    account: AccountNumber
    instalments: StrictBool = Field(
        default=False,
        description="逸贷付款码: the payment the cashier scans waits for you, to pay it by "
        "instalments (``POST /me/orders/{token}/instalments``) or by e-Pay.",
    )


class PaymentCodeOut(BaseModel):
    code: str
    expires_at: datetime
    svg: str


class CollectIn(Strict):
    code: Annotated[str, Field(pattern=r"^[0-9]{18}$")]
    order_no: OrderNo
    amount: Amount
    description: Annotated[str, Field(max_length=200)] = ""
    notify_url: Url = ""


class CaptureIn(Strict):
    amount: Amount | None = None


class RefundIn(Strict):
    refund_no: OrderNo
    amount: Amount
    reason: Annotated[str, Field(max_length=200)] = ""


class SettleIn(Strict):
    business_day: Day


class SettlementOut(BaseModel):
    merchant_id: int
    business_day: date
    payments: str
    """Payments the run took: the day's, and any earlier day's no run had taken."""
    refunds: str
    fees: str
    brought_forward: str
    """Left by earlier runs: still owed to the merchant (+) or fees it owes (-)."""
    net: str
    fees_charged: str
    """Fees taken by this run (earlier runs' fees due included)."""
    paid: str
    carried_forward: str
    entry_id: int | None


class SettlementFailureOut(BaseModel):
    merchant_id: int
    error: str
    """The refusal's code, or ``unexpected_error`` (the server's log says more)."""
    message: str


class SettlementRunOut(BaseModel):
    """A run for every merchant: who was settled and whose settlement failed (nothing
    of it written; running the day again settles it once the cause is fixed)."""

    business_day: date
    settled: list[SettlementOut]
    failed: list[SettlementFailureOut]
