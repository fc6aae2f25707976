"""Refusals of the wealth-product catalogue and purchases."""

from __future__ import annotations

from rongbank.errors import Conflict, DomainError, InvalidRequest, NotFound


class ProductNotFound(NotFound):
    code = "wealth_product_not_found"
    message = "There is no such wealth product."


class ProductCodeTaken(Conflict):
    code = "wealth_product_code_taken"
    message = "A wealth product with this code exists already."


class ProductInvalid(InvalidRequest):
    code = "wealth_product_invalid"
    message = "The product's terms are not valid (details say which)."


class ProductNotOnSale(Conflict):
    code = "wealth_product_not_on_sale"
    message = "This product is not on sale now (details give its sale window)."


class AmountBelowMinimum(InvalidRequest):
    code = "wealth_amount_below_minimum"
    message = "The amount is below this product's minimum purchase."


class AmountNotInSteps(InvalidRequest):
    code = "wealth_amount_not_in_steps"
    message = "Above the minimum, this product is bought in fixed steps (details say which)."


class PurchaseConflict(Conflict):
    code = "wealth_purchase_conflict"
    message = "This client id was used for a different purchase."


class AssessmentRequired(Conflict):
    """No risk-tolerance assessment, or it has expired: 《商业银行理财业务监督管理办法》
    has the bank assess a customer before it sells them a wealth product."""

    code = "wealth_assessment_required"
    message = (
        "Before buying a wealth product, complete the risk-tolerance assessment "
        "(you have none, or yours has expired; details say which)."
    )


class RiskLevelExceeded(Conflict):
    """The product is riskier than the customer's assessed tolerance allows."""

    code = "wealth_risk_level_exceeded"
    message = (
        "This product's risk level is above your assessed risk tolerance, so the bank "
        "may not sell it to you (details give both)."
    )


class AssessmentAnswersInvalid(InvalidRequest):
    code = "wealth_assessment_answers_invalid"
    message = (
        "Answer every question of the questionnaire with one of its options (details say which)."
    )


class AssessmentTooFrequent(DomainError):
    """Retaking the assessment again and again would let a customer try answers until
    a higher level comes out; the level must describe them, so retakes are few a day."""

    code = "wealth_assessment_too_frequent"
    status = 429
    message = (
        "You have taken the risk-tolerance assessment as often as allowed today; "
        "you can take it again from the time in details (Beijing time)."
    )


class AssessmentNotFound(NotFound):
    code = "wealth_assessment_not_found"
    message = "You have not completed the risk-tolerance assessment yet."


class HoldingNotFound(NotFound):
    code = "wealth_holding_not_found"
    message = "There is no such holding of yours."


class NotRedeemable(Conflict):
    code = "wealth_not_redeemable"
    message = (
        "This holding cannot be redeemed: a fixed-term product pays out on its maturity "
        "date, and a holding fully paid out has nothing left (details say which)."
    )


class RedemptionExceedsHolding(InvalidRequest):
    code = "wealth_redemption_exceeds_holding"
    message = "You cannot redeem more than you hold (details give what is left)."


class RedemptionConflict(Conflict):
    code = "wealth_redemption_conflict"
    message = "This client id was used for a different redemption."
