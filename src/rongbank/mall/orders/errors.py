"""The mall's buying refusals, each with a stable code."""

from __future__ import annotations

from rongbank.errors import Conflict, Forbidden, InvalidRequest, NotFound


class SkuNotFound(NotFound):
    # Not the catalogue's mall_sku_not_found (a seller's product without that SKU).
    code = "mall_item_not_found"
    message = "There is no such product for sale."


class SkuNotForSale(Conflict):
    code = "mall_sku_not_for_sale"
    message = "This product is not for sale now (unpublished, or its shop is closed)."
    # Its subclasses say which; this one itself: the price changed since the cart.


class SkuInactive(SkuNotForSale):
    code = "mall_sku_inactive"
    message = "This variant of the product is no longer sold."


class ProductUnpublished(SkuNotForSale):
    code = "mall_product_unpublished"
    message = "This product is not on sale now (its seller has taken it off)."


class ShopNotOpen(SkuNotForSale):
    code = "mall_shop_not_selling"
    message = "This product's shop is not open now."


# Why a SKU is not for sale (the cart's ``unsold``), shop first: the widest reason.
NOT_FOR_SALE: dict[str, type[SkuNotForSale]] = {
    "shop": ShopNotOpen,
    "product": ProductUnpublished,
    "sku": SkuInactive,
}


class CartEmpty(InvalidRequest):
    code = "mall_cart_empty"
    message = "Your cart is empty."


class OutOfStock(Conflict):
    code = "mall_out_of_stock"
    message = "Not enough left of one of the products in your cart; nothing was reserved."


class CheckoutNotFound(NotFound):
    code = "mall_checkout_not_found"
    message = "There is no such checkout."


class CheckoutConflict(Conflict):
    code = "mall_checkout_conflict"
    message = "This checkout key was used for another cart."


class CheckoutNotPayable(Conflict):
    code = "mall_checkout_not_payable"
    message = "This checkout can no longer be paid (its reservation has expired)."


class MallClosed(Conflict):
    code = "mall_closed"
    message = "The mall takes no checkouts now (no clearing merchant is configured)."


class OrderNotFound(NotFound):
    code = "mall_order_not_found"
    message = "There is no such order."


class OrderStateInvalid(Conflict):
    code = "mall_order_state_invalid"
    message = "The order cannot do that in its present state."


class ReturnNotFound(NotFound):
    code = "mall_return_not_found"
    message = "There is no such return."


class ReturnInvalid(InvalidRequest):
    code = "mall_return_invalid"
    message = "Those lines or quantities cannot be returned."


class ReturnWindowClosed(Conflict):
    code = "mall_return_window_closed"
    message = "The time to ask for a return of this order has passed."


class ReturnStateInvalid(Conflict):
    code = "mall_return_state_invalid"
    message = "The return cannot do that in its present state."


class ReviewNotAllowed(Conflict):
    code = "mall_review_not_allowed"
    message = "A line can be reviewed once, by its buyer, after receipt."


class NotYourShop(Forbidden):
    code = "mall_not_your_shop"
    message = "You do not act for this shop."


class NotAnEnterprise(Forbidden):
    code = "mall_not_an_enterprise"
    message = "Only an enterprise customer names the people who buy and approve for it."


class MemberNotFound(NotFound):
    code = "mall_member_not_found"
    message = "No personal customer has that mobile number."


class NotEnterpriseMember(Forbidden):
    code = "mall_not_enterprise_member"
    message = "You are not one of this enterprise's people in that role."


class CheckoutNeedsApproval(Conflict):
    code = "mall_checkout_needs_approval"
    message = "This checkout is your enterprise's: an approver of the enterprise pays it."


class ShopHasOpenOrders(Conflict):
    code = "mall_shop_orders_open"
    message = (
        "The shop cannot close while it has orders open (to ship, on their way, awaiting "
        "the return window or after-sales) or returns undecided."
    )


class ShopMoneyUnsettled(Conflict):
    code = "mall_shop_money_unsettled"
    message = (
        "The shop cannot close while its money is unsettled (sales not yet paid out by "
        "e-Pay's settlement, or refunds it owes the mall)."
    )
