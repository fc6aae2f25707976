"""e-Pay (工银e支付) use cases: codes, payments, capture, refunds.

The service API, for the API endpoints and the web pages. Every method takes the
caller's session and never commits; a method that moves a customer's money must run
inside ``Platform.authorised`` (see ``rongbank.payments.endpoints``), which adds the
step-up decision of ``rongbank.auth`` to the same transaction.

The use cases are mixed into :class:`PaymentsService`, one module each: merchants
(onboarding, status, logins and keys, counter codes) ``rongbank.payments.merchants``;
the order and its ``payment`` row ``orders``; paying it ``paying``; payment codes
``codes``; capture, void and refunds ``after_payment``.

Ways to pay (each payment is one ``payment`` row, unique per merchant order number:
the same request again answers the original result, a different one
:class:`OrderConflict`):
    - a merchant's static QR (counter): ``pay_static`` (the customer enters the amount;
      the order number is the customer's client id);
    - a merchant's dynamic QR or web-shop order: ``create_order`` (merchant), then
      ``order_for_customer`` / ``pay_order`` (customer);
    - a customer's payment code (付款码): ``issue_code`` (customer), then
      ``collect_by_code`` (cashier); when step-up wants a challenge, the order waits
      for the customer's confirmation (``await_customer``) and is paid by
      ``pay_order``.

A payment the fraud engine sends to review is ``held``: its money a pending transfer
to the merchant's payable, its merchant told so, until the review releases it (then
``paid``, or ``authorised`` with manual capture) or voids it (``declined``), exactly
once (:meth:`PaymentsService.held_resolved`, ``rongbank.risk.engine.holds``).

Money: a payment moves the amount from the customer's e-account to the merchant's
own "merchant payable" ledger account (a pending transfer with manual capture, then
``capture`` or ``void``); ``refund`` moves money back from it, never more than was
captured nor more than the payable holds beyond the fees due (``after_payment.MerchantFunds``);
settlement (``rongbank.payments.settlement``) empties it into the settlement e-account
and the bank's fee income. A payment's fee is on what it keeps until it is settled.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from rongbank.accounts.service import AccountsService
from rongbank.auth.service import AuthService
from rongbank.clock import Clock
from rongbank.ledger.service import LedgerService
from rongbank.payments import rules
from rongbank.payments.after_payment import AfterPayment, Refund
from rongbank.payments.codes import PaymentCodes
from rongbank.payments.merchants import Merchant
from rongbank.payments.orders import Payment
from rongbank.payments.urls import Resolver, resolve


class PaymentsService(PaymentCodes, AfterPayment):
    def __init__(
        self,
        ledger: LedgerService,
        accounts: AccountsService,
        clock: Clock,
        *,
        auth: AuthService,
        barcode_limits: rules.BarcodeLimits,
        key: bytes,
        order_ttl: timedelta = timedelta(minutes=30),
        public_url: str,
        allow_private_urls: bool = False,
        resolver: Resolver = resolve,
    ) -> None:
        self.ledger = ledger
        self.accounts = accounts
        self.clock = clock
        self.auth = auth
        self.barcode_limits = barcode_limits
        self.order_ttl = order_ttl
        self.public_url = public_url.rstrip("/")
        self.allow_private_urls = allow_private_urls
        """Merchants' notify and return URLs may point at private addresses (tests and
        development only: see ``rongbank.payments.urls``)."""
        self.resolver = resolver
        self.refund_listeners: list[Callable[[Session, Payment, Refund], None]] = []
        """Called in each refund's transaction once the money is back in the payer's
        account: the seam through which another domain (逸贷, whose loan paid the
        order) acts on it, e-Pay knowing nothing of it."""
        self.settlement_listeners: list[Callable[[Session, Merchant, Any], None]] = []
        """Called in each settlement run's transaction (``settlement.settle``, once per
        merchant and day) with the merchant and its ``Settlement``, once the payout is
        in the settlement account: lending takes an operating loan's share of it."""
        self.paid_listeners: list[Callable[[Session, Payment], None]] = []
        """Called in each payment's transaction once it is paid or authorised, however
        it was paid (``pay_order``, ``paid_otherwise``): the mall marks its checkout
        paid with it, or refuses a payment whose reservation has lapsed."""
        self.settled_elsewhere: set[int] = set()
        """Merchants whose payable another domain pays out, never e-Pay's settlement:
        the 融e购 mall's clearing merchant, whose payable holds buyers' money until
        each seller's part is released (``rongbank.mall.orders``)."""
        self._code_key = hmac.new(key, b"rongbank-payments:payment-codes", "sha256").digest()
        self._notify_key = hmac.new(key, b"rongbank-payments:notify", "sha256").digest()
