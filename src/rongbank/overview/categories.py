"""What a movement was for, as the bank can tell from what it holds: the account on
the other side of the ledger entry (another customer's e-account, one of the
customer's own, an e-Pay merchant, a wealth product, the bank's income) and the kind
of movement its client id names (a top-up or withdrawal, interest). Merchants carry a
merchant category code (MCC, ISO 18245) from onboarding; payments to them are grouped
by it. Pure: no I/O."""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class Category(StrEnum):
    """A movement's category; the same one for both directions where the meaning is
    the same (a transfer), a category of its own where it is not (a refund)."""

    TRANSFER = "transfer"
    """To or from another customer's e-account (a transfer, a chat card's payment)."""
    OWN_TRANSFER = "own_transfer"
    """Between two of the customer's own accounts: neither spent nor received."""
    DINING = "dining"
    """e-Pay at restaurants, bars, fast food, caterers (MCC 5811-5814)."""
    GROCERIES = "groceries"
    """e-Pay at supermarkets, food shops, convenience stores."""
    SHOPPING = "shopping"
    """e-Pay at other retail: clothes, electronics, department stores."""
    TRANSPORT = "transport"
    """e-Pay for local transport, taxis, fuel, tolls, parking."""
    TRAVEL = "travel"
    """e-Pay to airlines, hotels, car rental, travel agencies."""
    BILLS = "bills"
    """e-Pay for telephone, utilities, government services."""
    HEALTH = "health"
    """e-Pay at pharmacies, doctors, hospitals."""
    EDUCATION = "education"
    """e-Pay to schools and training."""
    ENTERTAINMENT = "entertainment"
    """e-Pay for cinemas, recreation, games and digital goods."""
    MERCHANT_OTHER = "merchant_other"
    """e-Pay to a merchant whose code is in none of the groups above."""
    REFUND = "refund"
    """Money back from a merchant (an e-Pay refund)."""
    WEALTH = "wealth"
    """Into a wealth product (a purchase)."""
    WEALTH_PAYOUT = "wealth_payout"
    """Back from a wealth product: a redemption or maturity, or its yield."""
    TOPUP = "topup"
    """From the customer's card at another bank."""
    WITHDRAWAL = "withdrawal"
    """To the customer's card at another bank."""
    INTEREST = "interest"
    """Interest the bank paid on the account."""
    FEE = "fee"
    """Charged by the bank (the other side is one of the bank's income accounts)."""
    OTHER = "other"
    """Anything else (a movement staff booked through the ledger, say)."""


MCC_GROUPS: tuple[tuple[int, int, Category], ...] = (
    (5811, 5814, Category.DINING),
    (5411, 5411, Category.GROCERIES),
    (5422, 5499, Category.GROCERIES),
    (3000, 3299, Category.TRAVEL),  # airlines by name
    (3351, 3441, Category.TRAVEL),  # car rental by name
    (3501, 3999, Category.TRAVEL),  # hotels by name
    (4411, 4411, Category.TRAVEL),
    (4511, 4582, Category.TRAVEL),
    (4722, 4723, Category.TRAVEL),
    (7011, 7033, Category.TRAVEL),
    (7512, 7519, Category.TRAVEL),
    (4000, 4799, Category.TRANSPORT),
    (5541, 5542, Category.TRANSPORT),
    (7523, 7523, Category.TRANSPORT),
    (4800, 4999, Category.BILLS),
    (9000, 9999, Category.BILLS),
    (5122, 5122, Category.HEALTH),
    (5912, 5912, Category.HEALTH),
    (5975, 5976, Category.HEALTH),
    (8000, 8099, Category.HEALTH),
    (8200, 8299, Category.EDUCATION),
    (5815, 5818, Category.ENTERTAINMENT),
    (7800, 7999, Category.ENTERTAINMENT),
    (5000, 5999, Category.SHOPPING),
)
"""Merchant category codes (inclusive ranges) and the group a payment to such a
merchant falls in; the first range that holds the code decides, so the specific
ranges come before the broad ones (airlines 4511 before transport 4000-4799, food
5411 before retail 5000-5999). A code in no range is :attr:`Category.MERCHANT_OTHER`.
Read by the movements query itself (``repository``), so that the database and
:func:`merchant_category` never disagree."""

MERCHANT_CATEGORIES = frozenset({group for _, _, group in MCC_GROUPS} | {Category.MERCHANT_OTHER})

SPENDING = frozenset(
    {Category.TRANSFER, Category.WEALTH, Category.WITHDRAWAL, Category.FEE, Category.OTHER}
    | MERCHANT_CATEGORIES
)
"""Where money going out counts as spent: everything but a move between the
customer's own accounts. Money coming in is never counted against it."""


def merchant_category(mcc: str) -> Category:
    """The group of a merchant category code ("5812" -> dining)."""
    code = int(mcc)
    for low, high, group in MCC_GROUPS:
        if low <= code <= high:
            return group
    return Category.MERCHANT_OTHER
