"""Disbursement: the money arrives in the e-account through the ledger at once, the
contract and schedule are kept, once only per key, within the rules."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from rongbank.accounts.errors import AccountFrozen, NotYourAccount
from rongbank.lending.book import Book
from rongbank.lending.errors import (
    AprCeilingExceeded,
    LoanAmountOutOfRange,
    LoanNotFound,
    LoanRequestConflict,
    PersonalCreditCapExceeded,
)
from rongbank.platform import Platform
from tests.factories.loans import Borrowers, assert_balanced, book_balances


class TestDisburse:
    def test_the_money_arrives_in_the_e_account_at_once(
        self, platform: Platform, borrowers: Borrowers
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_200_000, rate=1200)
            assert borrowers.balance(session, account) == 1_200_000
            loan = platform.loans.loan(session, loan_id=loan_id, customer_id=account.customer_id)
            assert (loan.status, loan.principal_outstanding, loan.category) == (
                "active",
                1_200_000,
                "normal",
            )
            assert loan.apr_bps == 1200
            assert loan.penalty_rate_bps == 1800
            assert loan.start_date == date(2026, 3, 2)
            assert book_balances(session, platform.ledger)[Book.PRINCIPAL] == 1_200_000
            assert_balanced(session, platform.ledger)

    def test_the_schedule_is_kept_and_sums_to_the_principal(
        self, platform: Platform, borrowers: Borrowers
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(session, account, 1_000_000, term=6, method="equal_instalment")
            schedule = platform.loans.schedule(session, loan_id)
            assert [i.number for i in schedule] == [1, 2, 3, 4, 5, 6]
            assert sum(i.principal for i in schedule) == 1_000_000
            assert schedule[0].period_start == date(2026, 3, 2)
            assert schedule[0].due_date == schedule[1].period_start == date(2026, 4, 2)
            assert schedule[0].interest == 10_000  # 12% / 12 on 10,000 yuan

    def test_an_upfront_fee_is_kept_as_income_and_counts_in_the_apr(
        self, platform: Platform, borrowers: Borrowers
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            loan_id = borrowers.lend(
                session,
                account,
                2_000_000,
                product="enterprise_operating",
                method="equal_instalment",
                rate=600,
            )
            assert borrowers.balance(session, account) == 2_000_000 - 10_000  # 0.5%
            loan = platform.loans.loan(session, loan_id=loan_id)
            assert loan.upfront_fee == 10_000
            assert loan.apr_bps > 600
            books = book_balances(session, platform.ledger)
            assert (books[Book.PRINCIPAL], books[Book.FEE_INCOME]) == (2_000_000, -10_000)
            assert_balanced(session, platform.ledger)

    def test_a_retry_answers_the_same_loan(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            first = borrowers.lend(session, account, 500_000, key="accept-7")
            again = borrowers.lend(session, account, 500_000, key="accept-7")
            assert again == first
            assert borrowers.balance(session, account) == 500_000
            assert len(platform.loans.loans_of(session, account.customer_id)) == 1

    def test_the_same_key_on_other_terms_is_refused(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            borrowers.lend(session, account, 500_000, key="accept-7")
            with pytest.raises(LoanRequestConflict):
                borrowers.lend(session, account, 600_000, key="accept-7")


class TestRefusals:
    def test_into_another_customers_account(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            mine, theirs = borrowers.person(session), borrowers.person(session, "李四")
            with pytest.raises(NotYourAccount):
                platform.loans.disburse(
                    session,
                    customer_id=mine.customer_id,
                    account_id=theirs.id,
                    product_code="personal_credit",
                    principal_fen=500_000,
                    term_months=12,
                    method="equal_principal",
                    annual_rate_bps=1200,
                    grade="B",
                    application_id=None,
                    idempotency_key="k",
                )
            assert borrowers.balance(session, theirs) == 0

    def test_into_a_frozen_account(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            platform.accounts.set_status(
                session, number=account.number, status="frozen", reason="court order"
            )
            with pytest.raises(AccountFrozen):
                borrowers.lend(session, account)

    def test_outside_the_product(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            with pytest.raises(LoanAmountOutOfRange):
                borrowers.lend(session, account, 99_999)

    def test_a_price_above_the_apr_ceiling(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            with pytest.raises(AprCeilingExceeded):
                borrowers.lend(session, account, rate=2401)
            assert platform.loans.loans_of(session, account.customer_id) == []
            assert borrowers.balance(session, account) == 0

    def test_another_customers_loan_is_not_found(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            mine, theirs = borrowers.person(session), borrowers.person(session, "李四")
            loan_id = borrowers.lend(session, theirs)
            with pytest.raises(LoanNotFound):
                platform.loans.loan(session, loan_id=loan_id, customer_id=mine.customer_id)


class TestPersonalCap:
    def test_outstanding_counts_internet_consumer_loans_only(
        self, platform: Platform, borrowers: Borrowers
    ):
        with platform.transaction() as session:
            account = borrowers.person(session)
            borrowers.lend(session, account, 15_000_000)
            borrowers.lend(
                session, account, 5_000_000, product="merchant_operating", method="equal_principal"
            )
            assert (
                platform.loans.outstanding_personal_principal(session, account.customer_id)
                == 15_000_000
            )

    def test_a_loan_past_200000_yuan_is_refused(self, platform: Platform, borrowers: Borrowers):
        with platform.transaction() as session:
            account = borrowers.person(session)
            borrowers.lend(session, account, 15_000_000)
            borrowers.lend(
                session, account, 5_000_000, product="yidai", method="equal_principal", rate=0
            )
            with pytest.raises(PersonalCreditCapExceeded) as refused:
                borrowers.lend(session, account, 100_000)
            assert refused.value.details["available"] == "0.00"
            count = session.execute(
                text("SELECT count(*) FROM loans WHERE customer_id = :c"),
                {"c": account.customer_id},
            ).scalar_one()
            assert count == 2
