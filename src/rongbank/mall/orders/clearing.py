"""融e购's clearing merchant: the bank's own e-Pay merchant (fee 0) whose payable holds
buyers' money until each seller's part is released (``checkout``, ``fulfilment``).

Part of the bank's own set-up, like its ledger accounts: opened once, idempotently, by
:func:`open_clearing` (``rongbank up`` and ``rongbank seed-demo`` call it through
``Platform.open_mall``), and found from the database (``mall_clearing``) by every
process; ``RONGBANK_MALL_MERCHANT_ID`` remains only as an override."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService
from rongbank.clock import Clock
from rongbank.payments.service import PaymentsService

NAME = "融e购"
MCC = "5311"  # department stores
# The bank itself, registered as an enterprise customer to own the merchant: a fixed,
# well-formed identity (the credit code's check characters hold), never a person's.
BANK = {
    "name": "融行（融e购清算）",
    "mobile": "13900000000",
    "credit_code": "91110000100000593Q",
    "legal_rep_name": "融行法定代表人",
    "legal_rep_id": "110105197001010011",
}


def find(session: Session) -> int | None:
    """The clearing merchant's id, None until it is opened."""
    found = session.execute(text("SELECT merchant_id FROM mall_clearing")).scalar()
    return None if found is None else int(found)


def open_clearing(
    session: Session, *, accounts: AccountsService, payments: PaymentsService, clock: Clock
) -> int:
    """The clearing merchant, opened now if it is not yet (once: concurrent callers
    wait on a transaction lock and find the first one's)."""
    found = find(session)
    if found is not None:
        return found
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('mall_clearing'))"))
    found = find(session)
    if found is not None:
        return found
    owner, account = accounts.register_enterprise(session, **BANK)
    merchant = payments.onboard(
        session,
        staff_id=None,
        customer_id=owner.id,
        name=NAME,
        mcc=MCC,
        settlement_account=account.number,
        fee_bps=0,
    )
    session.execute(
        text("INSERT INTO mall_clearing (merchant_id, created_at) VALUES (:m, :at)"),
        {"m": merchant.id, "at": clock.now()},
    )
    return merchant.id
