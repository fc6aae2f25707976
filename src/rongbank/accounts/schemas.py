"""Bodies of the direct bank's API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, StrictStr

from rongbank.inputs import Id, Name
from rongbank.inputs import Input as Strict

Amount = Annotated[StrictStr, Field(max_length=40, examples=["12.30"])]
AccountNumber = Annotated[str, Field(min_length=1, max_length=40)]


class PersonIn(Strict):
    name: Annotated[Name, Field(max_length=100)]
    mobile: Annotated[str, Field(max_length=30)]
    resident_id: Annotated[str, Field(max_length=30)]
    password: SecretStr


class EnterpriseIn(Strict):
    name: Annotated[Name, Field(max_length=200)]
    mobile: Annotated[str, Field(max_length=30)]
    credit_code: Annotated[str, Field(max_length=30)]
    legal_rep_name: Annotated[Name, Field(max_length=100)]
    legal_rep_id: Annotated[str, Field(max_length=30)]
    password: SecretStr


class RegisteredOut(BaseModel):
    customer_id: int
    login_name: str
    account: AccountOut


class LoginIn(Strict):
    login_name: Annotated[str, Field(max_length=100)]
    password: SecretStr


class SessionOut(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth 2 token type name)
    expires_at: datetime
    previous_login_at: datetime | None
    """The login before this one (None: this is the first)."""
    failed_attempts_since_previous_login: int
    """Wrong passwords tried on this login since the previous one, from anywhere: if
    they were not the customer's, someone knows the login name and is guessing."""


class AccountOut(BaseModel):
    number: str
    account_class: int
    currency: str
    status: str
    available: str


class TransferIn(Strict):
    client_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    source: AccountNumber
    destination: AccountNumber
    amount: Amount
    description: Annotated[str, Field(max_length=200)] = ""
    challenge_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """From a ``challenge_required`` answer to this same request."""
    response: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    """The tool's answer: the SMS or token code, the grid codes in the order asked,
    or the base64 signature of the challenge's question."""
    tool: Literal["sms", "grid_card", "token", "ukey"] | None = None
    """Which of your tools to be challenged with; by default the weakest that may."""


class TransferOut(BaseModel):
    entry_id: int
    status: Literal["created", "held", "exists"]
    """``held``: the bank's fraud checks hold the money until it is reviewed."""
    source: str
    destination: str
    amount: str


class FreezeIn(Strict):
    reason: Annotated[str, Field(max_length=500)]


class ManagerIn(Strict):
    manager_id: Id


class StaffChangeIn(Strict):
    reason: Annotated[str, Field(max_length=500)] = ""
    """Why (kept in the audit trail): left the bank, password may be known..."""


class StaffMemberOut(BaseModel):
    id: int
    username: str
    name: str
    role: str
    active: bool
    """False once deactivated: cannot log in, every session ended."""
    created_at: datetime


RegisteredOut.model_rebuild()
