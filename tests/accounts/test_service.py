"""The direct bank as its customers and staff use it (service level)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from rongbank.accounts.errors import (
    AccountFrozen,
    AccountNumberInvalid,
    BalanceCapExceeded,
    CustomerAlreadyRegistered,
    DailyLimitExceeded,
    EAccountNotFound,
    FreezeReasonRequired,
    NotYourAccount,
    YearlyLimitExceeded,
)
from rongbank.accounts.identity import ResidentIdCheckDigitWrong
from rongbank.accounts.rules import load_class_limits
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.auth.service import AuthService
from rongbank.clock import FrozenClock
from rongbank.ledger.errors import ExceedsCredits
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import LedgerService, Transfer
from tests.factories.identity import resident_id

YUAN = 100


class Bank:
    def __init__(self, session: Session, clock: FrozenClock) -> None:
        self.session = session
        self.ledger = LedgerService(clock)
        self.service = AccountsService(
            self.ledger, clock, auth=AuthService(clock), limits=load_class_limits()
        )
        self.vault, _ = self.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        self._people = 0

    def person(self, name: str = "王小明") -> EAccount:
        self._people += 1
        _, account = self.service.register_person(
            self.session,
            name=name,
            mobile=f"1380000{self._people:04d}",
            resident_id=resident_id(sequence=self._people),
        )
        return account

    def fund(self, account: EAccount, yuan: int) -> None:
        self.ledger.transfer(
            self.session,
            Transfer(
                client_id=f"fund-{account.number}-{yuan}",
                debit_account=self.vault.id,
                credit_account=account.ledger_account_id,
                amount=yuan * YUAN,
                currency="CNY",
            ),
        )

    def pay(self, payer: EAccount, payee: EAccount, yuan: int, client_id: str) -> str:
        return self.service.transfer(
            self.session,
            customer_id=payer.customer_id,
            source=payer.number,
            destination=payee.number,
            amount=yuan * YUAN,
            client_id=client_id,
        ).status

    def balance(self, account: EAccount) -> int:
        accounts = {
            a.number: balance
            for a, balance in self.service.accounts_of(self.session, account.customer_id)
        }
        return accounts[account.number] // YUAN


@pytest.fixture
def bank(session: Session, clock: FrozenClock) -> Bank:
    return Bank(session, clock)


class TestRegistration:
    def test_a_person_gets_a_class_two_account_and_a_manager(self, bank: Bank) -> None:
        managers = [
            bank.service.create_staff(
                bank.session, username=f"am{i}", name=f"经理{i}", role="account_manager"
            )
            for i in range(2)
        ]
        first, second, third = (bank.person() for _ in range(3))
        assert first.account_class == 2
        assert first.status == "active"
        assert len(first.number) == 19
        assert first.number.startswith("628888")
        owners = [
            bank.service.customer(bank.session, a.customer_id).manager_id
            for a in (first, second, third)
        ]
        assert owners == [managers[0], managers[1], managers[0]]  # load spread evenly

    def test_the_same_identity_cannot_register_twice(self, bank: Bank) -> None:
        bank.service.register_person(
            bank.session, name="甲", mobile="13900000001", resident_id=resident_id()
        )
        with pytest.raises(CustomerAlreadyRegistered):
            bank.service.register_person(
                bank.session, name="乙", mobile="13900000002", resident_id=resident_id()
            )

    def test_a_wrong_check_digit_is_refused(self, bank: Bank) -> None:
        number = resident_id()
        wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
        with pytest.raises(ResidentIdCheckDigitWrong):
            bank.service.register_person(
                bank.session, name="甲", mobile="13900000001", resident_id=wrong
            )

    def test_an_enterprise_gets_a_class_one_account(self, bank: Bank) -> None:
        _, account = bank.service.register_enterprise(
            bank.session,
            name="福州某某科技有限公司",
            mobile="13900000009",
            credit_code="91350100M000100Y43",
            legal_rep_name="林某",
            legal_rep_id=resident_id(),
        )
        assert account.account_class == 1


class TestTransfers:
    def test_pays_another_customer_once_per_client_id(self, bank: Bank) -> None:
        alice, bob = bank.person(), bank.person()
        bank.fund(alice, 500)
        assert bank.pay(alice, bob, 120, "p1") == "created"
        assert bank.pay(alice, bob, 120, "p1") == "exists"
        assert (bank.balance(alice), bank.balance(bob)) == (380, 120)

    def test_cannot_pay_from_someone_elses_account(self, bank: Bank) -> None:
        alice, bob = bank.person(), bank.person()
        bank.fund(bob, 100)
        with pytest.raises(NotYourAccount):
            bank.service.transfer(
                bank.session,
                customer_id=alice.customer_id,
                source=bob.number,
                destination=alice.number,
                amount=100,
                client_id="steal",
            )
        assert bank.balance(bob) == 100

    def test_an_unknown_source_is_not_yours_even_with_a_mistyped_payee(self, bank: Bank) -> None:
        from rongbank.accounts.rules import account_number

        alice = bank.person()
        typo = alice.number[:-2] + str((int(alice.number[-2]) + 1) % 10) + alice.number[-1]
        for destination in (alice.number, typo):
            with pytest.raises(NotYourAccount):
                bank.service.transfer(
                    bank.session,
                    customer_id=alice.customer_id,
                    source=account_number("628888", 999_999),
                    destination=destination,
                    amount=100,
                    client_id="probe",
                )

    def test_a_mistyped_account_number_is_caught(self, bank: Bank) -> None:
        alice = bank.person()
        bank.fund(alice, 100)
        typo = alice.number[:-2] + str((int(alice.number[-2]) + 1) % 10) + alice.number[-1]
        with pytest.raises(AccountNumberInvalid):
            bank.service.transfer(
                bank.session,
                customer_id=alice.customer_id,
                source=alice.number,
                destination=typo,
                amount=100,
                client_id="x",
            )

    def test_an_unknown_payee_is_not_found(self, bank: Bank) -> None:
        from rongbank.accounts.rules import account_number

        alice = bank.person()
        bank.fund(alice, 100)
        with pytest.raises(EAccountNotFound):
            bank.service.transfer(
                bank.session,
                customer_id=alice.customer_id,
                source=alice.number,
                destination=account_number("628888", 999_999),
                amount=100,
                client_id="x",
            )

    def test_insufficient_funds(self, bank: Bank) -> None:
        alice, bob = bank.person(), bank.person()
        with pytest.raises(ExceedsCredits):
            bank.pay(alice, bob, 1, "p1")

    def test_class_two_daily_limit_then_next_day(self, bank: Bank, clock: FrozenClock) -> None:
        alice, bob = bank.person(), bank.person()
        bank.fund(alice, 30_000)
        bank.pay(alice, bob, 9_000, "d1")
        with pytest.raises(DailyLimitExceeded) as refused:
            bank.pay(alice, bob, 1_001, "d2")
        assert refused.value.details["remaining"] == "1000.00"
        assert bank.balance(alice) == 21_000  # the refused payment moved nothing
        clock.advance(timedelta(days=1))
        assert bank.pay(alice, bob, 1_001, "d3") == "created"

    def test_class_two_yearly_limit(self, bank: Bank, clock: FrozenClock) -> None:
        alice = bank.person()
        payees = [bank.person() for _ in range(2)]
        bank.fund(alice, 300_000)
        for day in range(20):
            bank.pay(alice, payees[day % 2], 10_000, f"y{day}")
            clock.advance(timedelta(days=1))
        with pytest.raises(YearlyLimitExceeded):
            bank.pay(alice, payees[0], 1, "over")

    def test_class_three_balance_cap(self, bank: Bank, clock: FrozenClock) -> None:
        alice = bank.person()
        small = bank.service.open_account(
            bank.session, customer_id=alice.customer_id, account_class=3
        )
        bob = bank.person()
        bank.fund(bob, 5_000)
        bank.pay(bob, small, 1_500, "c1")
        clock.advance(timedelta(days=1))  # a new day: only the balance cap is in the way
        with pytest.raises(BalanceCapExceeded):
            bank.pay(bob, small, 501, "c2")

    def test_frozen_account_can_neither_pay_nor_be_paid(self, bank: Bank) -> None:
        alice, bob = bank.person(), bank.person()
        bank.fund(alice, 100)
        with pytest.raises(FreezeReasonRequired):
            bank.service.set_status(bank.session, number=alice.number, status="frozen", reason=" ")
        bank.service.set_status(
            bank.session, number=alice.number, status="frozen", reason="司法冻结"
        )
        with pytest.raises(AccountFrozen):
            bank.pay(alice, bob, 1, "f1")
        bank.service.set_status(bank.session, number=alice.number, status="active", reason="")
        assert bank.pay(alice, bob, 1, "f2") == "created"


class TestClosing:
    def test_only_at_zero_balance_and_then_nothing_moves(self, bank: Bank) -> None:
        from rongbank.accounts.errors import AccountBalanceNotZero, AccountNotActive

        alice, bob = bank.person(), bank.person()
        bank.fund(alice, 10)
        with pytest.raises(AccountBalanceNotZero):
            bank.service.close(bank.session, number=alice.number)
        bank.pay(alice, bob, 10, "empty")
        closed = bank.service.close(bank.session, number=alice.number)
        assert closed.status == "closed"
        with pytest.raises(AccountNotActive):
            bank.pay(bob, alice, 1, "into-closed")
