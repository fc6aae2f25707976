"""e-Pay merchants and payments to them, made through the payments service."""

from __future__ import annotations

import itertools

from rongbank.payments.orders import Capture, OrderRequest, Payment
from rongbank.platform import Platform

_staff = itertools.count(1)


def merchant(
    platform: Platform, *, customer_id: int, account: str, name: str, mcc: str = "5812"
) -> int:
    """An active merchant of ``customer_id`` (onboarded and approved by two members of
    operations) settling into ``account``; its id."""
    with platform.transaction() as session:
        onboarder, approver = (
            platform.accounts.create_staff(
                session, username=f"epay-ops{next(_staff)}", name="张三", role="operations"
            )
            for _ in range(2)
        )
        made = platform.payments.onboard(
            session,
            staff_id=onboarder,
            customer_id=customer_id,
            name=name,
            mcc=mcc,
            settlement_account=account,
            fee_bps=60,
        )
        platform.payments.approve(session, merchant_id=made.id, staff_id=approver)
    return made.id


def paid(
    platform: Platform,
    *,
    merchant_id: int,
    customer_id: int,
    account: str,
    amount: int,
    order_no: str,
    capture: Capture = "immediate",
) -> Payment:
    """A web-shop order of ``amount`` fen paid from ``account`` (held, with manual
    capture)."""
    with platform.transaction() as session:
        order, _ = platform.payments.create_order(
            session,
            merchant_id=merchant_id,
            order=OrderRequest(order_no=order_no, amount=amount, channel="online", capture=capture),
        )
        return platform.payments.pay_order(
            session, customer_id=customer_id, payment=order, account_number=account
        )
