"""Ledger refusals, one per business fact."""

from __future__ import annotations

from rongbank.errors import Conflict, DomainError, InvalidRequest, NotFound
from rongbank.idempotency import IdempotencyConflict as IdempotencyConflict  # the shared one


class AccountNotFound(NotFound):
    code = "ledger_account_not_found"
    message = "No ledger account has this id or code."


class CurrencyNotFound(InvalidRequest):
    code = "currency_not_found"
    message = "The currency is not declared in the ledger."


class AccountCodeTaken(Conflict):
    code = "ledger_account_code_taken"
    message = "A ledger account with this code already exists with other attributes."


class TransferNotFound(NotFound):
    code = "transfer_not_found"
    message = "No ledger entry has this id."


class CurrencyMismatch(InvalidRequest):
    code = "currency_mismatch"
    message = "The amount's currency does not match the account's currency."


class SameAccount(InvalidRequest):
    code = "same_account"
    message = "A transfer must move money between two different accounts."


class UnbalancedEntry(InvalidRequest):
    code = "unbalanced_entry"
    message = "The postings of an entry must sum to zero in each currency."


class InvalidEntry(InvalidRequest):
    code = "invalid_entry"
    message = "The entry is not well formed."


class ExceedsCredits(DomainError):
    """The debit would take an account whose debits must not exceed its credits (a
    customer's deposit, say) below zero, past its overdraft limit."""

    code = "insufficient_funds"
    status = 422
    message = "The account does not have enough available funds."


class AccountFrozen(DomainError):
    """The account is frozen and the request gave no authority to debit it."""

    code = "ledger_account_frozen"
    status = 409
    message = (
        "The account is frozen: nothing may be debited from it without the authority "
        "to (frozen_debit_reason)."
    )


class ExceedsDebits(DomainError):
    code = "exceeds_debits"
    status = 422
    message = "The credit would exceed the account's debits, which its rule forbids."


class BalanceOverflow(DomainError):
    code = "balance_overflow"
    status = 422
    message = "The movement would overflow the account's totals."


class PendingNotFound(NotFound):
    code = "pending_transfer_not_found"
    message = "No pending transfer has this id."


class PendingAlreadyResolved(Conflict):
    code = "pending_transfer_already_resolved"
    message = "The pending transfer was already posted, voided or expired."


class PendingExpired(Conflict):
    code = "pending_transfer_expired"
    message = "The pending transfer expired before it was posted."


class PostExceedsPending(InvalidRequest):
    code = "post_exceeds_pending"
    message = "The amount to post is larger than the pending amount."


class NotReversible(Conflict):
    code = "entry_not_reversible"
    message = "This entry cannot be reversed."


class AlreadyReversed(Conflict):
    code = "entry_already_reversed"
    message = "This entry has already been reversed."


class LinkedChainFailed(DomainError):
    code = "linked_chain_failed"
    status = 422
    message = "Another transfer in the same linked chain failed, so this one was not applied."


class LinkedChainOpen(InvalidRequest):
    code = "linked_chain_open"
    message = "The last transfer of a batch cannot be linked to a next one."


class BatchTooLarge(InvalidRequest):
    code = "batch_too_large"
    message = "The batch has more transfers than allowed."


class ClientIdReserved(InvalidRequest):
    code = "client_id_reserved"
    message = (
        "Client ids starting with this prefix are the bank's own (its customers' "
        "transfers, payments, interest...); choose another."
    )
