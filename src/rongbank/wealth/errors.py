"""Refusals of the wealth-product catalogue and purchases."""

from __future__ import annotations

from rongbank.errors import Conflict, InvalidRequest, NotFound


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
