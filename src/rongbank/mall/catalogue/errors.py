"""The catalogue's business errors, each with a stable code."""

from __future__ import annotations

from rongbank.errors import Conflict, Forbidden, InvalidRequest, NotFound


class ShopNotFound(NotFound):
    code = "mall_shop_not_found"
    message = "There is no such shop."


class NoShop(NotFound):
    code = "mall_no_shop"
    message = "This merchant has no shop in the mall yet; its owner can ask for one."


class ShopAlreadyAsked(Conflict):
    code = "mall_shop_exists"
    message = "This merchant already has a shop, or one waiting for approval."


class ShopNotPending(Conflict):
    code = "mall_shop_not_pending"
    message = "Only a shop waiting for approval can be approved or refused."


class ShopNotOpen(Forbidden):
    code = "mall_shop_not_open"
    message = "The shop is not open (not yet approved, refused or suspended): it cannot sell."


class ShopOwnerOnly(Forbidden):
    code = "mall_owner_only"
    message = "Only the merchant's owner can ask for a shop."


class CategoryNotFound(NotFound):
    code = "mall_category_not_found"
    message = "There is no such category."


class CategoryCodeTaken(Conflict):
    code = "mall_category_code_taken"
    message = "Another category already has this code."


class ProductNotFound(NotFound):
    code = "mall_product_not_found"
    message = "There is no such product."


class SkuNotFound(NotFound):
    code = "mall_sku_not_found"
    message = "This product has no such SKU."


class SkuCodeTaken(Conflict):
    code = "mall_sku_code_taken"
    message = "This product already has a SKU with this code."


class NothingToSell(Conflict):
    code = "mall_nothing_to_sell"
    message = "A product needs at least one active SKU before it is published."


class StockBelowZero(Conflict):
    code = "mall_stock_below_zero"
    message = "The stock cannot go below zero (units may have been sold meanwhile)."


class ImageNotFound(NotFound):
    code = "mall_image_not_found"
    message = "There is no such image."


class TooManyImages(Conflict):
    code = "mall_too_many_images"
    message = "A product has at most 9 images."


class ImportRefused(InvalidRequest):
    code = "mall_import_refused"
    message = (
        "The file was not imported: fix the rows listed and send it again (nothing was added)."
    )


class SearchCursorInvalid(InvalidRequest):
    code = "mall_cursor_invalid"
    message = "The page position is not valid; send back the cursor of the page before."


class PriceRangeInvalid(InvalidRequest):
    code = "mall_price_range_invalid"
    message = "The lowest price must not be above the highest."


class ShopStateInvalid(Conflict):
    code = "mall_shop_state_invalid"
    message = (
        "The shop cannot do that in its present state (only an open shop is suspended, "
        "only a suspended one reinstated, and a suspended shop is not closed by its seller)."
    )
