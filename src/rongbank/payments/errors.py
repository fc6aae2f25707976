"""e-Pay's business errors, each with a stable code."""

from __future__ import annotations

from rongbank.errors import Conflict, Forbidden, InvalidRequest, NotFound


class MerchantNotFound(NotFound):
    code = "merchant_not_found"
    message = "There is no such merchant."


class MerchantNotActive(Forbidden):
    code = "merchant_not_active"
    message = (
        "This merchant is not approved or is suspended; it cannot take payments or give refunds."
    )


class MerchantAlreadyApproved(Conflict):
    code = "merchant_already_approved"
    message = "This merchant is already approved."


class SameStaffApproval(Forbidden):
    code = "four_eyes_required"
    message = "A merchant must be approved by another member of staff than who onboarded it."


class SettlementAccountInvalid(InvalidRequest):
    code = "settlement_account_invalid"
    message = "The settlement account must be an active e-account of the merchant's customer."


class MerchantRoleForbidden(Forbidden):
    code = "merchant_role_forbidden"
    message = "Your merchant role does not allow this (refunds and settings are the owner's)."


class MerchantUserNotFound(NotFound):
    code = "merchant_user_not_found"
    message = "This merchant has no such user."


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    message = "This merchant has no such API key."


class OwnLoginNotRevocable(Conflict):
    code = "own_login_not_revocable"
    message = "You cannot revoke your own login; another owner, or the bank, can."


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    message = "There is no such payment."


class OrderConflict(Conflict):
    code = "order_number_conflict"
    message = (
        "This order number was used before for a different payment; use a new order "
        "number, or send exactly the same request to get the original result."
    )


class OrderNotPayable(Conflict):
    code = "order_not_payable"
    message = "This order is already paid, voided or expired."


class CodeExpired(Conflict):
    code = "code_expired"
    message = "This code has expired or was used already; ask for a new one."
    final = False  # the customer's credential, not the payment's outcome (as a challenge)


class CodeNotFound(NotFound):
    code = "code_not_found"
    message = "This code is not a Rongbank code."


class BarcodeLimitExceeded(Forbidden):
    code = "barcode_limit_exceeded"
    message = (
        "This is over what you may pay by QR or payment code today (银发〔2017〕296号); "
        "details show what is left. Pay in the web bank instead."
    )


class AmountRequired(InvalidRequest):
    code = "amount_required"
    message = "A static code carries no amount: enter the amount to pay."


class AmountNotAllowed(InvalidRequest):
    code = "amount_not_allowed"
    message = "This code carries its amount; do not send one."


class RefundExceedsPayment(Conflict):
    code = "refund_exceeds_payment"
    message = "Refunds of a payment may not exceed what was paid; details show what is left."


class RefundExceedsMerchantFunds(Conflict):
    code = "refund_exceeds_merchant_funds"
    message = (
        "The bank does not hold enough of your takings for this refund (settled money "
        "has been paid out, and fees due are kept back); details show what you can "
        "refund now. Try again after more payments come in."
    )


class RefundConflict(Conflict):
    code = "refund_number_conflict"
    message = "This refund number was used before for a different refund."


class NotCapturable(Conflict):
    code = "payment_not_capturable"
    message = "Only an authorised payment can be captured or voided, within its amount."


class SettlementDayOpen(InvalidRequest):
    code = "settlement_day_open"
    message = "A business day can be settled only after it has ended."


class SettledElsewhere(Conflict):
    code = "settled_elsewhere"
    message = "This merchant's payable is paid out by another service (the mall's clearing)."


class SettlementNotFound(NotFound):
    code = "settlement_not_found"
    message = "That business day has not been settled (yet)."


class CallbackUrlNotAllowed(InvalidRequest):
    code = "callback_url_not_allowed"
    message = (
        "notify_url and return_url must be http(s) URLs of a public address; private, "
        "loopback, link-local and other internal addresses are refused."
    )
