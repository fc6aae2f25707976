"""Customers with e-accounts and money, made through the direct bank's services."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService, EAccount
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import LedgerService, Transfer
from tests.factories.identity import resident_id


class People:
    """Persons registered with a class II e-account each, funded from a vault."""

    def __init__(self, accounts: AccountsService, ledger: LedgerService) -> None:
        self.accounts = accounts
        self.ledger = ledger
        self._numbers = itertools.count(1)

    def person(self, session: Session, name: str = "王小明") -> EAccount:
        n = next(self._numbers)
        _, account = self.accounts.register_person(
            session, name=name, mobile=f"1390000{n:04d}", resident_id=resident_id(sequence=n)
        )
        return account

    def fund(self, session: Session, account: EAccount, amount: int) -> None:
        vault, _ = self.ledger.create_account(
            session, code="bank:test-vault", currency=account.currency, type=AccountType.ASSET
        )
        self.ledger.transfer(
            session,
            Transfer(
                client_id=f"fund:{account.number}:{next(self._numbers)}",
                debit_account=vault.id,
                credit_account=account.ledger_account_id,
                amount=amount,
                currency=account.currency,
            ),
        )

    def balance(self, session: Session, account: EAccount) -> int:
        """What the customer sees as available on ``account``, in fen."""
        return self.accounts.available(session, self.accounts.account(session, account.number))
