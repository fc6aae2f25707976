"""A transfer's receipt (转账回单): what moved, between whom, when, under which entry.

Read from the ledger entry the transfer wrote (``AccountsService.transfer`` names the
two accounts in its metadata); both parties are masked as on printed bank slips (the
account's first and last four digits, the holder's family name hidden), the payer's
own side too, since a receipt is printed and handed on. Either party may see it;
to anyone else an entry is "not found", exactly as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from rongbank.accounts.errors import AccountNumberInvalid, EAccountNotFound
from rongbank.accounts.identity import mask_name
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.accounts.statements import mask_account_number
from rongbank.errors import NotFound
from rongbank.ledger.client_ids import Namespace, RequestKey, request_id
from rongbank.ledger.errors import TransferNotFound
from rongbank.ledger.service import LedgerService


class ReceiptNotFound(NotFound):
    code = "receipt_not_found"
    message = "There is no transfer of yours with this number."


@dataclass(frozen=True, slots=True)
class Party:
    account: str
    """Masked: ``6288****0018``."""
    holder: str
    """Masked: ``*小明``."""


@dataclass(frozen=True, slots=True)
class Receipt:
    entry_id: int
    at: datetime
    amount: int
    currency: str
    description: str
    payer: Party
    payee: Party
    direction: Literal["in", "out"]
    """From the viewer's side: ``out`` when they paid (or moved between their own)."""
    scheduled: bool
    """Made by the bank on a date the payer scheduled."""


def transfer_receipt(
    session: Session,
    accounts: AccountsService,
    ledger: LedgerService,
    *,
    customer_id: int,
    entry_id: int,
) -> Receipt:
    try:
        entry = ledger.entry(session, entry_id)
    except TransferNotFound:
        raise ReceiptNotFound(entry_id=entry_id) from None
    numbers = (entry.metadata.get("payer"), entry.metadata.get("payee"))
    if entry.kind != "transfer" or not all(isinstance(n, str) for n in numbers):
        raise ReceiptNotFound(entry_id=entry_id)
    try:
        payer, payee = (accounts.account(session, str(n)) for n in numbers)
    except (AccountNumberInvalid, EAccountNotFound):
        raise ReceiptNotFound(entry_id=entry_id) from None
    if customer_id not in (payer.customer_id, payee.customer_id):
        raise ReceiptNotFound(entry_id=entry_id)
    debit = next(
        (p for p in entry.postings if p.account_id == payer.ledger_account_id and p.amount > 0),
        None,
    )
    if debit is None:
        raise ReceiptNotFound(entry_id=entry_id)
    return Receipt(
        entry_id=entry.id,
        at=entry.created_at,
        amount=debit.amount,
        currency=debit.currency,
        description=entry.description,
        payer=_party(session, accounts, payer),
        payee=_party(session, accounts, payee),
        direction="out" if payer.customer_id == customer_id else "in",
        scheduled=entry.client_id.startswith(f"{Namespace.SCHEDULED_TRANSFER.value}:"),
    )


def _party(session: Session, accounts: AccountsService, account: EAccount) -> Party:
    holder = accounts.customer(session, account.customer_id).name
    return Party(mask_account_number(account.number), mask_name(holder))


def transfer_entry(
    session: Session, ledger: LedgerService, *, customer_id: int, client_id: RequestKey
) -> int | None:
    """The ledger entry of the customer's transfer made with ``client_id``, if made."""
    try:
        return ledger.entry(session, request_id(Namespace.TRANSFER, customer_id, client_id)).id
    except TransferNotFound:
        return None
