"""Refusals of the direct bank (customers and e-accounts)."""

from __future__ import annotations

from rongbank.errors import Conflict, DomainError, Forbidden, InvalidRequest, NotFound


class CustomerAlreadyRegistered(Conflict):
    code = "customer_already_registered"
    message = "A customer with this mobile number or identity is already registered."


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    message = "No such customer."


class EAccountNotFound(NotFound):
    code = "account_not_found"
    message = "No such account."


class AccountNumberInvalid(InvalidRequest):
    code = "account_number_invalid"
    message = "The account number is not valid; please check it digit by digit."


class NotYourAccount(Forbidden):
    """Deliberately the same answer whether the account exists or not."""

    code = "account_not_accessible"
    message = "You can only move money from your own accounts."


class AccountFrozen(DomainError):
    code = "account_frozen"
    status = 409
    message = "The account is frozen; please contact your account manager."


class AccountNotActive(DomainError):
    code = "account_not_active"
    status = 409
    message = "The account is not active."


class AccountBalanceNotZero(DomainError):
    code = "account_balance_not_zero"
    status = 409
    message = "An account can only be closed when its balance is zero."


class DailyLimitExceeded(DomainError):
    code = "daily_limit_exceeded"
    status = 422
    message = "The amount exceeds what this account may move today."


class YearlyLimitExceeded(DomainError):
    code = "yearly_limit_exceeded"
    status = 422
    message = "The amount exceeds what this account may move this year."


class BalanceCapExceeded(DomainError):
    code = "balance_cap_exceeded"
    status = 422
    message = "The receiving account may not hold more than its class allows."


class SameEAccount(InvalidRequest):
    code = "same_account"
    message = "Choose a different account to pay into."


class AvailableBalanceExceeded(DomainError):
    """Told while the customer reviews a transfer, before they confirm it; the
    ledger refuses the debit itself all the same (``insufficient_funds``)."""

    code = "available_balance_exceeded"
    status = 422
    message = "The amount is more than the paying account's available balance."


class FreezeReasonRequired(InvalidRequest):
    code = "freeze_reason_required"
    message = "Give a reason for freezing the account."


class NewCardLimitExceeded(Forbidden):
    code = "new_card_limit_exceeded"
    message = (
        "A card bound in the last few days can receive only a small amount a day; "
        "details show what is left today and when the card's full limits apply."
    )


class StaffNotFound(NotFound):
    code = "staff_not_found"
    message = "No such member of staff."


class OwnLoginNotDeactivatable(Conflict):
    """An administrator may not deactivate themselves: another administrator does it,
    so that no one locks the bank out of its staff management by mistake."""

    code = "own_login_not_deactivatable"
    message = "You cannot deactivate your own login; ask another administrator."


class LastAdministrator(Conflict):
    code = "last_administrator"
    message = (
        "This is the last active administrator: make or reactivate another one before "
        "deactivating them."
    )
