"""Refusals of the online financing centre (products, loans, repayment)."""

from __future__ import annotations

from rongbank.errors import Conflict, InvalidRequest, NotFound


class ProductFileInvalid(ValueError):
    """The products file breaks a rule; raised at start-up, naming the product and field."""


class LoanProductNotFound(NotFound):
    code = "loan_product_not_found"
    message = "There is no such loan product."


class LoanAmountOutOfRange(InvalidRequest):
    code = "loan_amount_out_of_range"
    message = "The amount is outside this product's range (details give it)."


class LoanTermNotOffered(InvalidRequest):
    code = "loan_term_not_offered"
    message = "This product is not offered for that term (details list the terms)."


class RepaymentMethodNotOffered(InvalidRequest):
    code = "loan_method_not_offered"
    message = "This product is not repaid that way (details list the methods)."


class AprCeilingExceeded(Conflict):
    """The annualised rate, fees included, would pass the bank's ceiling."""

    code = "loan_apr_ceiling_exceeded"
    message = "The annualised rate of this loan would be above the bank's ceiling."


class PersonalCreditCapExceeded(Conflict):
    """《商业银行互联网贷款管理暂行办法》: a borrower's internet consumer credit at one bank
    is at most 200,000 yuan outstanding."""

    code = "loan_personal_cap_exceeded"
    message = (
        "This loan would take your outstanding personal credit at this bank above the "
        "limit for internet loans (details give the limit and what is left)."
    )


class LoanNotFound(NotFound):
    code = "loan_not_found"
    message = "There is no such loan."


class LoanRequestConflict(Conflict):
    code = "loan_request_conflict"
    message = "This idempotency key was used for a loan on other terms."
