"""Refusals of e-Invest: quotes, trades, pending orders (stable codes, 4xx)."""

from __future__ import annotations

from rongbank.errors import Conflict, DomainError, InvalidRequest, NotFound


class ProductFileInvalid(DomainError):
    """The products file breaks a rule (named in the message); raised at start-up."""

    code = "invest_product_file_invalid"
    status = 500
    message = "The e-Invest products file is not valid."


class ProductNotFound(NotFound):
    code = "invest_product_not_found"
    message = "There is no such e-Invest product."


class MarketClosed(Conflict):
    code = "invest_market_closed"
    message = "This product does not trade now (details give its hours)."


class PriceOutOfBounds(Conflict):
    """The price guard: a reference outside the product's configured bounds (a
    negative oil price, an absurd jump) halts quotes, trades and roll-overs."""

    code = "invest_price_out_of_bounds"
    message = "The market price is outside the bounds the bank trades at; trading is halted."


class QuoteNotFound(NotFound):
    code = "invest_quote_not_found"
    message = "There is no such quote."


class QuoteExpired(Conflict):
    code = "invest_quote_expired"
    message = "The quote has expired: ask for a new one."


class PriceMoved(Conflict):
    code = "invest_price_moved"
    message = "The price moved since the quote was given: ask for a new one."


class QuantityInvalid(InvalidRequest):
    code = "invest_quantity_invalid"
    message = "The quantity is below the lot or not in the product's steps (details say which)."


class NewPositionsClosed(Conflict):
    code = "invest_new_positions_closed"
    message = "This product takes no new positions now; you may only reduce yours."


class ShortingNotAllowed(Conflict):
    code = "invest_short_not_allowed"
    message = "This product cannot be sold first."


class PositionTooSmall(Conflict):
    code = "invest_position_too_small"
    message = "You do not hold that much of this position."


class PositionNotFound(NotFound):
    code = "invest_position_not_found"
    message = "You have no such position."


class AccountCurrencyMismatch(InvalidRequest):
    code = "invest_account_currency_mismatch"
    message = "This product is settled in another currency than the account's."


class TradeConflict(Conflict):
    code = "invest_trade_conflict"
    message = "This client id was used for a different trade."


class OrderInvalid(InvalidRequest):
    code = "invest_order_invalid"
    message = "The pending order is not valid (details say why)."


class OrderNotFound(NotFound):
    code = "invest_order_not_found"
    message = "There is no such pending order."


class OrderConflict(Conflict):
    code = "invest_order_conflict"
    message = "This client id was used for a different order."


class OrderNotActive(Conflict):
    code = "invest_order_not_active"
    message = "The order is no longer pending."
