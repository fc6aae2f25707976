"""What a person must see about the market, in the log at warning (operations' log
alerts read it; the staff page ``/staff/invest`` lists the same): a product halted by
the price guard, with its price, and a roll-over refused for one. The log and not a
customer notice: these are the bank's to deal with, not the customer's to act on."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rongbank.invest.products import Product

log = logging.getLogger("rongbank.invest")


def _bounds(product: Product) -> str:
    return f"{product.price_text(product.price_min)}..{product.price_text(product.price_max)}"


def watch_halt(halted: set[str], product: Product, ref: int, now_halted: bool) -> None:
    """Warn once when ``product`` becomes halted (``halted``: those found so far, kept
    by the caller), so the board asking every second does not repeat it; its end is
    logged at info."""
    if now_halted == (product.code in halted):
        return
    if now_halted:
        halted.add(product.code)
        log.warning(
            "invest product %s halted: reference %s outside the bounds %s",
            product.code,
            product.price_text(ref),
            _bounds(product),
        )
    else:
        halted.discard(product.code)
        log.info("invest product %s trades again at %s", product.code, product.price_text(ref))


def warn_roll_refused(out: Mapping[str, Any], product: Product, ref: int) -> None:
    log.warning(
        "invest roll refused: %s %s of customer %s stays in %s (not rolled to %s): "
        "reference %s outside the bounds %s",
        product.code,
        out["side"],
        out["customer"],
        out["from"],
        out["to"],
        product.price_text(ref),
        _bounds(product),
    )
