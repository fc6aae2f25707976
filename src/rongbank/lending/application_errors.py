"""Refusals of the lending decision, offers and reviews (stable codes)."""

from __future__ import annotations

from rongbank.errors import Conflict, Forbidden, NotFound


class ApplicationNotFound(NotFound):
    code = "lending_application_not_found"
    message = "There is no such credit application."


class ApplicationConflict(Conflict):
    code = "lending_application_conflict"
    message = "This client_id was already used for a different application."


class OfferNotFound(NotFound):
    code = "lending_offer_not_found"
    message = "There is no such offer for you."


class OfferNotOpen(Conflict):
    code = "lending_offer_not_open"
    message = "This offer was already accepted, has expired or was withdrawn."


class ReviewNotFound(NotFound):
    code = "lending_review_not_found"
    message = "There is no such review in the queue."


class ReviewClosed(Conflict):
    code = "lending_review_closed"
    message = "This review was already decided."


class SecondApproverRequired(Forbidden):
    code = "lending_second_approver_required"
    message = (
        "This amount needs a second credit officer's approval: another officer than the "
        "one who approved it first."
    )


class ReplayRefused(Conflict):
    code = "lending_replay_refused"
    message = (
        "This decision cannot be replayed here: it was made under other rules or another "
        "model version (details say which)."
    )


class CheckoutOfferNotForOrder(Conflict):
    code = "lending_checkout_offer_not_for_order"
    message = (
        "This offer was not made for this order's instalments: ask for instalments on the "
        "order's pay page again."
    )
