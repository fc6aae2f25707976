"""Refusals of the overview."""

from __future__ import annotations

from rongbank.errors import InvalidRequest, NotFound


class MovementNotFound(NotFound):
    """Deliberately the same answer for another customer's movement as for one that
    does not exist."""

    code = "movement_not_found"
    message = "No such movement in your accounts."


class HistoryFilterInvalid(InvalidRequest):
    code = "history_filter_invalid"
    message = (
        "Check the filter: the period starts on or before its end, and the smallest "
        "amount is not more than the largest."
    )
