"""Taking a customer's payment code (付款码) at the counter: the one use case behind
``POST /api/v1/merchant/payment-codes`` and the merchant console's collect page.

Unlike :class:`~rongbank.payments.service.PaymentsService`, whose methods run in the
caller's transaction, this owns its transactions (as
:func:`rongbank.payments.settlement.settle_all` does): the payment runs in
``Platform.authorised`` for the customer whose code it is, so that the customer's
step-up decides; when it wants a challenge, the order is kept, bound to the
customer and waiting for their confirmation in the web bank, in a transaction of its
own audited as the merchant's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy.orm import Session

from rongbank.auth.stepup import ChallengeRequired
from rongbank.db import autocommit
from rongbank.idempotency import keyed
from rongbank.payments.errors import OrderConflict
from rongbank.payments.merchants import MerchantActor
from rongbank.payments.orders import Payment
from rongbank.platform import Platform

Channel = Literal["api", "console"]


@contextmanager
def audited_as_merchant(
    platform: Platform,
    actor: MerchantActor,
    action: str,
    target: str,
    *,
    channel: Channel,
    **details: Any,
) -> Iterator[Session]:
    """An audited transaction on behalf of a merchant user or API key."""
    with platform.audited(
        actor_kind="merchant",
        actor_id=actor.user_id,
        action=action,
        target=target,
        details={"merchant": actor.merchant_id, "by": actor.role, "channel": channel, **details},
    ) as session:
        yield session


def collect_payment_code(
    platform: Platform,
    actor: MerchantActor,
    *,
    code: str,
    order_no: str,
    amount: int,
    description: str = "",
    notify_url: str = "",
    channel: Channel,
) -> Payment:
    """Pay ``amount`` fen to the actor's merchant from the account behind ``code``.
    Answers the payment: ``paid`` (or ``authorised``), or ``created`` when it waits for
    the customer's confirmation. A repeat of a paid order number answers it."""
    payments = platform.payments
    # Read first (reads alone, no transaction): whose step-up decides is the code's.
    with autocommit(platform.session_factory) as session:
        seller = payments.active_merchant(session, actor.merchant_id)
        payer_id, account, instalments = payments.code_of(session, code)
    if instalments:  # 逸贷付款码: the customer pays it on their phone, by instalments
        return _await_customer(
            platform, actor, code, order_no, amount, description, notify_url, channel, None
        )
    request = payments.payment_request(seller, order_no, amount, account.number)

    def already_done(session: Session) -> bool:
        found = payments.find(session, merchant_id=seller.id, order_no=order_no)
        return found is not None and found.status != "created"

    # The merchant's order number is its key: a payment refused (no funds, a limit)
    # stays refused under it, as acquirers want a new order number to try again.
    key = keyed(
        f"merchant:{seller.id}:epay_collect",
        order_no,
        {"code": code, "amount": amount, "description": description, "notify_url": notify_url},
        conflict=OrderConflict,
    )
    try:
        with platform.authorised(
            request, customer_id=payer_id, already_done=already_done, idempotency=key
        ) as session:
            return payments.collect_by_code(
                session,
                merchant_id=seller.id,
                code=code,
                order_no=order_no,
                amount=amount,
                description=description,
                notify_url=notify_url,
                holder=(payer_id, account),
            )
    except ChallengeRequired as needed:
        challenge_id = needed.details["challenge"]["id"]
    return _await_customer(
        platform, actor, code, order_no, amount, description, notify_url, channel, challenge_id
    )


def _await_customer(
    platform: Platform,
    actor: MerchantActor,
    code: str,
    order_no: str,
    amount: int,
    description: str,
    notify_url: str,
    channel: Channel,
    challenge_id: str | None,
) -> Payment:
    """Keep the order for the code's customer to confirm, audited as the merchant's."""
    with audited_as_merchant(
        platform, actor, "epay.await_customer", order_no, channel=channel, amount=amount
    ) as session:
        return platform.payments.await_customer(
            session,
            merchant_id=actor.merchant_id,
            code=code,
            order_no=order_no,
            amount=amount,
            description=description,
            notify_url=notify_url,
            challenge_id=challenge_id,
        )
