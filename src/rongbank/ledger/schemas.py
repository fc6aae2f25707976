"""Request and response bodies of the ledger API.

Amounts travel as decimal strings ("12.30") next to their currency, never as JSON
numbers: a float cannot hold every fen exactly. A JSON number where an amount is
expected is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr, model_validator

from rongbank.inputs import Flag, Id
from rongbank.inputs import Input as Strict
from rongbank.ledger.rules import AccountType, BalanceRule

Code = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_.:\-]*$",
        description="Starts with a letter, so that it is never mistaken for an id",
    ),
]
ClientId = Annotated[str, Field(min_length=1, max_length=128)]
AmountText = Annotated[StrictStr, Field(examples=["12.30"], max_length=40)]
AccountRefIn = Annotated[Id | Code, Field(description="Account id, or account code")]
Description = Annotated[str, Field(max_length=500)]
FrozenDebitReason = Annotated[
    str,
    Field(
        max_length=200,
        description=(
            "The authority for debiting a frozen account (e.g. a court order's reference); "
            "kept in the entry's metadata and the audit trail. Empty: a frozen account "
            "refuses the debit (ledger_account_frozen)."
        ),
    ),
]
Metadata = Annotated[
    dict[Annotated[str, Field(max_length=64)], str | int | bool | None],
    Field(max_length=32, description="Up to 32 plain key/value pairs for the caller's reference"),
]


class AccountIn(Strict):
    code: Code
    name: Annotated[str, Field(max_length=200)] = ""
    currency: Annotated[str, Field(min_length=3, max_length=12)]
    type: AccountType
    rule: BalanceRule = BalanceRule.NONE
    overdraft_limit: AmountText = "0"


class BalanceOut(BaseModel):
    posted: str
    pending_debits: str
    pending_credits: str
    available: str


class LedgerAccountOut(BaseModel):
    id: int
    code: str
    name: str
    currency: str
    type: AccountType
    rule: BalanceRule
    overdraft_limit: str
    balance: BalanceOut
    debits_posted: str
    credits_posted: str
    created_at: datetime
    frozen: bool = Field(description="No debit without the authority to (frozen_debit_reason)")


class AccountPage(BaseModel):
    accounts: list[LedgerAccountOut]
    next_after: int | None


class BalanceAtOut(BaseModel):
    account: str
    currency: str
    at: datetime
    posted: str


class LedgerTransferIn(Strict):
    client_id: ClientId | None = Field(
        default=None, description="Idempotency key; or send the Idempotency-Key header"
    )
    debit_account: AccountRefIn
    credit_account: AccountRefIn
    amount: AmountText
    currency: Annotated[str, Field(min_length=3, max_length=12)]
    pending: Flag = False
    timeout_seconds: Annotated[StrictInt, Field(gt=0, le=90 * 86400)] | None = None
    description: Description = ""
    metadata: Metadata = Field(default_factory=dict)
    frozen_debit_reason: FrozenDebitReason = ""


class PostingIn(Strict):
    account: AccountRefIn
    currency: Annotated[str, Field(min_length=3, max_length=12)]
    debit: AmountText | None = None
    credit: AmountText | None = None

    @model_validator(mode="after")
    def one_side(self) -> PostingIn:
        if (self.debit is None) == (self.credit is None):
            raise ValueError("give exactly one of debit or credit")
        return self


class EntryIn(Strict):
    client_id: ClientId | None = None
    postings: Annotated[list[PostingIn], Field(min_length=2, max_length=100)]
    description: Description = ""
    metadata: Metadata = Field(default_factory=dict)
    frozen_debit_reason: FrozenDebitReason = ""


class PostPendingIn(Strict):
    client_id: ClientId | None = None
    amount: AmountText | None = Field(default=None, description="Omit to post the full amount")
    description: Description = ""


class ResolveIn(Strict):
    client_id: ClientId | None = None
    description: Description = ""


class BatchTransfer(LedgerTransferIn):
    type: Literal["transfer"] = "transfer"
    client_id: ClientId
    linked: Flag = False


class BatchEntry(EntryIn):
    type: Literal["entry"]
    client_id: ClientId
    linked: Flag = False


class BatchPost(PostPendingIn):
    type: Literal["post_pending"]
    client_id: ClientId
    pending: Id | ClientId
    linked: Flag = False


class BatchVoid(ResolveIn):
    type: Literal["void_pending"]
    client_id: ClientId
    pending: Id | ClientId
    linked: Flag = False


class BatchReverse(ResolveIn):
    type: Literal["reverse"]
    client_id: ClientId
    entry: Id | ClientId
    linked: Flag = False


BatchItem = Annotated[
    BatchTransfer | BatchEntry | BatchPost | BatchVoid | BatchReverse, Field(discriminator="type")
]


class BatchIn(Strict):
    items: Annotated[list[BatchItem], Field(min_length=1, max_length=10_000)]


class ErrorOut(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class BatchResultOut(BaseModel):
    client_id: str
    status: Literal["created", "exists", "failed"]
    entry_id: int | None
    error: ErrorOut | None


class BatchOut(BaseModel):
    results: list[BatchResultOut]
    created: int
    failed: int


class PostingOut(BaseModel):
    account_id: int
    account_code: str
    currency: str
    debit: str | None
    credit: str | None
    pending: bool


class HoldOut(BaseModel):
    state: Literal["pending", "posted", "voided", "expired"]
    amount: str
    expires_at: datetime | None
    posted_amount: str | None
    resolved_by: int | None


class EntryOut(BaseModel):
    id: int
    client_id: str
    kind: str
    status: Literal["created", "exists"] | None = None
    description: str
    metadata: dict[str, Any]
    created_at: datetime
    postings: list[PostingOut]
    pending_id: int | None
    reverses_id: int | None
    reversed_by: int | None
    hold: HoldOut | None


class StatementLineOut(BaseModel):
    posting_id: int
    entry_id: int
    client_id: str
    kind: str
    description: str
    at: datetime
    debit: str | None
    credit: str | None
    balance: str


class StatementOut(BaseModel):
    account: str
    currency: str
    start: datetime
    end: datetime
    opening_balance: str
    closing_balance: str
    lines: list[StatementLineOut]
    next_after: int | None


class TrialBalanceLineOut(BaseModel):
    currency: str
    accounts: int
    debits_posted: str
    credits_posted: str
    debits_pending: str
    credits_pending: str
    balanced: bool


class TrialBalanceOut(BaseModel):
    balanced: bool
    currencies: list[TrialBalanceLineOut]


class CurrencyOut(BaseModel):
    code: str
    scale: int
    kind: str
    name: str
