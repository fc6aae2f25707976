"""Money in and out of an e-account through a card the customer bound at another
bank: a top-up pulls from the card, a withdrawal pushes to it, through a
:class:`~rongbank.accounts.clearing.ClearingNetwork`.

The bank's side of both is the ledger account ``bank:clearing:CNY``, an asset:
what other banks owe us (a top-up debits it, a withdrawal credits it) until the
network settles with them.

Limits. Money between a class II or III account and the customer's own bound
class I account is not limited (中国人民银行 银发〔2018〕16号), so neither direction
counts towards or is refused by the daily and yearly limits; a class III account's
balance cap still applies to top-ups.

Transactions: the exception to "services never commit". A money call to another
bank sits between two durable steps and must never be made inside a database
transaction:

1. One transaction records the request (unique per customer and client id) and,
   for a withdrawal, reserves the money with a pending ledger transfer. It is
   committed *before* the network is called, so that whatever happens next (a
   crash, a timeout) finds the record and the hold.
2. The network is called with no transaction open and no row locked: a slow bank
   must not hold locks on the customer's account.
3. A second transaction records the answer and completes the money: a top-up
   credits the customer, a withdrawal posts its hold (succeeded) or voids it
   (failed). Without an answer the request is marked ``unknown``.

So :meth:`FundingService.top_up`, :meth:`~FundingService.withdraw` and
:meth:`~FundingService.resolve_unknown` take a session *factory* and run their own
units of work; nothing can compose them into a larger transaction, which is the
point. Step 1 runs in a transaction the boundary opens (``opened``): for a
withdrawal, ``Platform.authorised``, so that it goes through the same step-up,
per-tool limits, daily totals, risk check and audit as a transfer, decided inside
the transaction that reserves the money (a withdrawal the other bank then declines
stays counted: the customer did authorise it). Card binding and reads take the
caller's session as everywhere else.

Security. A new payout card is how a stolen password becomes stolen money, so it is
treated like a new authentication tool: :meth:`FundingService.card_binding` checks
everything that needs no one outside the bank and names the change the customer
confirms with an SMS code bound to that very card (``Platform.confirmed``), and only
then does :meth:`~FundingService.bind_card` enrol the card with its issuer. For
its first days a card may receive only a little a day (:class:`NewCardLimit`).
The customer is told of every card bound or unbound and every withdrawal in a
融e联 notice that cannot be switched off: each is an event in the bank's outbox
(:mod:`rongbank.accounts.events`), which chat turns into a ``security`` notice.
Binding, listing and unbinding cards is :mod:`rongbank.accounts.bound_cards`, mixed
into :class:`FundingService`.

Unknown outcomes. Every request carries a deadline after which the network will not
act on it. Once it has passed, :meth:`FundingService.resolve_unknown` asks the
network what it did and settles exactly as step 3 would have: a timed-out or
interrupted request is neither lost nor carried out twice. A withdrawal's hold has
no timeout on purpose: releasing money that may already have left the bank would
pay it twice; only the network's answer releases it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox
from rongbank.accounts.bound_cards import CARD_COLUMNS, BoundCard, BoundCards, CardNotFound
from rongbank.accounts.clearing import (
    ClearingNetwork,
    ClearingRequest,
    ClearingResult,
    ClearingTimeout,
)
from rongbank.accounts.errors import (
    AccountFrozen,
    AccountNotActive,
    EAccountNotFound,
    NotYourAccount,
)
from rongbank.accounts.events import WithdrawalMade
from rongbank.accounts.rules import NewCardLimit, Usage, check_inflow
from rongbank.accounts.service import AccountsService, EAccount
from rongbank.auth.tools import WITHDRAWAL, PaymentRequest
from rongbank.clock import Clock
from rongbank.db import SessionFactory, advisory_lock, unit_of_work
from rongbank.errors import InvalidRequest, NotFound
from rongbank.idempotency import IdempotencyConflict, Keyed, keyed
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import LedgerService, PostPending, Transfer, VoidPending, balance_of
from rongbank.money import MAX_AMOUNT_MINOR, AmountNotPositive, AmountOutOfRange

logger = logging.getLogger(__name__)

CURRENCY = "CNY"
CLEARING_ACCOUNT = f"bank:clearing:{CURRENCY}"
CLOCK_SKEW = timedelta(seconds=5)
"""How far the network's clock may run behind ours: a request is settled from the
network's answer only once its deadline has passed on both clocks."""

Opener = Callable[[Keyed], AbstractContextManager[Session]]
"""Opens the transaction of a request's first step (see the module docstring), which
remembers a final refusal under the request's key (``rongbank.idempotency``)."""


class FundingKind(StrEnum):
    TOP_UP = "top_up"
    """Money pulled from the customer's bound card into their e-account."""
    WITHDRAW = "withdraw"
    """Money pushed from the customer's e-account to their bound card."""


class FundingState(StrEnum):
    PENDING = "pending"
    """Recorded (and for a withdrawal, the money reserved); the network has not
    answered yet."""
    SUCCEEDED = "succeeded"
    """The network moved the money and the ledger shows it."""
    FAILED = "failed"
    """The network refused; nothing moved (a withdrawal's reservation is released)."""
    UNKNOWN = "unknown"
    """The network did not answer in time; the money may have moved. Settled by
    :meth:`FundingService.resolve_unknown` once the network can tell."""


OPEN_STATES = (FundingState.PENDING, FundingState.UNKNOWN)


class FundingRequestNotFound(NotFound):
    code = "funding_request_not_found"
    message = "No such top-up or withdrawal."


@dataclass(frozen=True, slots=True)
class FundingRequest:
    id: int
    customer_id: int
    client_id: str
    kind: FundingKind
    account_number: str
    ledger_account_id: int
    card_id: int
    amount: int
    state: FundingState
    reason: str
    ledger_entry_id: int | None
    """A withdrawal's hold while pending (and after a void), its posting once
    succeeded; a top-up's credit once succeeded."""
    network_reference: str
    deadline: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FundingDone:
    request: FundingRequest
    status: str  # "created", or "exists" for a retry of the same request


@dataclass(frozen=True, slots=True)
class Resolved:
    """What one :meth:`FundingService.resolve_unknown` run settled."""

    succeeded: int = 0
    failed: int = 0
    left_open: int = 0
    """Requests still open: the network did not answer about them either, or settling
    failed (logged). Tried again next run."""


_REQUEST_COLUMNS = (
    "f.id, f.customer_id, f.client_id, f.kind, a.number, a.ledger_account_id, f.card_id, "
    "f.amount, f.state, f.reason, f.ledger_entry_id, f.network_reference, f.deadline, "
    "f.created_at, f.updated_at"
)
_REQUEST_FROM = "FROM funding_request f JOIN e_account a ON a.id = f.e_account_id"


def _check_amount(amount: int) -> None:
    # Checked here, not only by the ledger: a top-up reaches the network first.
    if amount <= 0:
        raise AmountNotPositive(amount=str(amount))
    if amount > MAX_AMOUNT_MINOR:
        raise AmountOutOfRange(amount=str(amount))


def _request(row: Any) -> FundingRequest:
    values = list(row)
    values[3] = FundingKind(values[3])
    values[8] = FundingState(values[8])
    return FundingRequest(*values)


class FundingService(BoundCards):
    def __init__(
        self,
        ledger: LedgerService,
        accounts: AccountsService,
        clock: Clock,
        network: ClearingNetwork,
        *,
        card_hash_key: bytes,
        new_card: NewCardLimit,
        request_window: timedelta = timedelta(seconds=60),
    ) -> None:
        """``card_hash_key`` keys the HMAC that identifies a card without storing
        its number (a plain hash of a 16-digit number with a known prefix and check
        digit is quickly brute-forced). ``new_card`` limits withdrawals to cards in
        their first days. ``request_window`` is how long the network may act on a
        request before its deadline."""
        if not card_hash_key:
            raise ValueError("card_hash_key must not be empty")
        self.ledger = ledger
        self.accounts = accounts
        self.clock = clock
        self.network = network
        self._card_hash_key = card_hash_key
        self.new_card = new_card
        self.request_window = request_window

    def withdrawal_request(
        self,
        session: Session,
        *,
        customer_id: int,
        account_number: str,
        card_id: int,
        amount: int,
        client_id: str,
    ) -> PaymentRequest:
        """What a withdrawal asks the customer to authorise (and a challenge is bound
        to): the card by its id and masked number. An unbound card of theirs is still
        named, so that a retry of a withdrawal made before it was unbound is answered."""
        masked = session.execute(
            text("SELECT masked FROM bound_card WHERE id = :id AND customer_id = :c"),
            {"id": card_id, "c": customer_id},
        ).scalar_one_or_none()
        if masked is None:
            raise CardNotFound(card_id=card_id)
        return PaymentRequest(
            purpose=WITHDRAWAL,
            payer=account_number,
            payee=f"card:{card_id}:{masked}",
            amount=amount,
            currency=CURRENCY,
            client_id=client_id,
        )

    def request_made(self, session: Session, *, customer_id: int, client_id: str) -> bool:
        """Whether the customer already made a request with this client id: a retry,
        answered from what is stored, needs no new authentication."""
        return self._find(session, customer_id, client_id) is not None

    # -- money in and out ----------------------------------------------------------------

    def top_up(
        self,
        factory: SessionFactory,
        *,
        customer_id: int,
        account_number: str,
        card_id: int,
        amount: int,
        client_id: str,
        opened: Opener,
    ) -> FundingDone:
        """Pull ``amount`` from a bound card into one of the customer's accounts,
        exactly once per ``client_id``. Commits (see the module docstring); the
        request is recorded in the transaction ``opened`` gives (one that audits it)."""
        return self._run(
            factory,
            opened,
            FundingKind.TOP_UP,
            customer_id=customer_id,
            account_number=account_number,
            card_id=card_id,
            amount=amount,
            client_id=client_id,
        )

    def withdraw(
        self,
        factory: SessionFactory,
        *,
        customer_id: int,
        account_number: str,
        card_id: int,
        amount: int,
        client_id: str,
        opened: Opener,
    ) -> FundingDone:
        """Push ``amount`` from one of the customer's accounts to a bound card,
        exactly once per ``client_id``. Commits (see the module docstring); the
        money is reserved in the transaction ``opened`` gives, which must authorise
        the withdrawal as a payment (``Platform.authorised`` with
        :meth:`withdrawal_request`)."""
        return self._run(
            factory,
            opened,
            FundingKind.WITHDRAW,
            customer_id=customer_id,
            account_number=account_number,
            card_id=card_id,
            amount=amount,
            client_id=client_id,
        )

    def request(self, session: Session, *, customer_id: int, request_id: int) -> FundingRequest:
        row = session.execute(
            text(
                f"SELECT {_REQUEST_COLUMNS} {_REQUEST_FROM} WHERE f.id = :id AND f.customer_id = :c"
            ),
            {"id": request_id, "c": customer_id},
        ).first()
        if row is None:
            raise FundingRequestNotFound(request_id=request_id)
        return _request(row)

    def unanswered(self, session: Session, *, limit: int = 100) -> list[FundingRequest]:
        """Top-ups and withdrawals the card network has not answered (``unknown``),
        oldest first: the resolver asks again each run; staff watch the ones that stay."""
        rows = session.execute(
            text(
                f"SELECT {_REQUEST_COLUMNS} {_REQUEST_FROM} "
                "WHERE f.state = 'unknown' ORDER BY f.deadline, f.id LIMIT :limit"
            ),
            {"limit": limit},
        ).all()
        return [_request(row) for row in rows]

    def unanswered_count(self, session: Session) -> int:
        # Read from the partial index of open requests (funding_request_open).
        unknown = session.execute(
            text("SELECT count(*) FROM funding_request WHERE state = 'unknown'")
        )
        return int(unknown.one()[0])

    def resolve_unknown(self, factory: SessionFactory, *, limit: int = 100) -> Resolved:
        """Settle requests left open (unanswered, or interrupted by a crash) whose
        deadline has passed, from what the network says it did. Safe to run at any
        time and from several processes: each request is settled once."""
        with unit_of_work(factory) as session:
            due = session.execute(
                text(
                    "SELECT id, network_reference FROM funding_request "
                    "WHERE state IN ('pending', 'unknown') AND deadline < :before "
                    "ORDER BY deadline, id LIMIT :limit"
                ),
                {"before": self.clock.now() - CLOCK_SKEW, "limit": limit},
            ).all()
        states: list[FundingState] = []
        for request_id, reference in due:
            try:
                settled = self._settle(factory, request_id, self.network.status(reference))
            except ClearingTimeout:
                states.append(FundingState.UNKNOWN)
                continue
            except Exception:
                # One request that cannot be settled must not keep the others (queued
                # behind it by deadline) open: log it, leave it open, go on.
                logger.exception("funding request %s could not be settled", reference)
                states.append(FundingState.UNKNOWN)
                continue
            logger.info("funding request %s resolved: %s", reference, settled.state)
            states.append(settled.state)
        return Resolved(
            succeeded=states.count(FundingState.SUCCEEDED),
            failed=states.count(FundingState.FAILED),
            left_open=states.count(FundingState.UNKNOWN),
        )

    def _run(
        self,
        factory: SessionFactory,
        opened: Opener,
        kind: FundingKind,
        *,
        customer_id: int,
        account_number: str,
        card_id: int,
        amount: int,
        client_id: str,
    ) -> FundingDone:
        if not 1 <= len(client_id) <= 64 or "\x00" in client_id:
            raise InvalidRequest("A client id must have 1 to 64 characters.")
        key = keyed(
            f"customer:{customer_id}:funding",
            client_id,
            {"kind": kind, "account": account_number, "card_id": card_id, "amount": amount},
        )
        # A refusal before the network is called (no funds, a frozen account, over the
        # cap) is remembered under the key; the network's own answer is the request's.
        with opened(key) as session:
            existing = self._find(session, customer_id, client_id)
            if existing is not None:
                # A retry gets the stored result and never reaches the network again;
                # a request still open is settled by resolve_unknown.
                return self._replay(existing, kind, account_number, card_id, amount)
            _check_amount(amount)
            account = self._own_active_account(session, customer_id, account_number)
            card_token, bound_at = self.live_card(session, customer_id, card_id)
            if kind is FundingKind.WITHDRAW and self.new_card.is_new(bound_at, self.clock.now()):
                self._check_new_card(session, customer_id, bound_at, amount)
            self.ledger.create_account(
                session,
                code=CLEARING_ACCOUNT,
                currency=CURRENCY,
                type=AccountType.ASSET,
                name="due from other banks (clearing)",
            )
            if kind is FundingKind.TOP_UP:
                self._check_balance_cap(session, account, amount)
            request = self._record(session, kind, customer_id, client_id, account, card_id, amount)
            if request is None:  # a concurrent request with this client id got there first
                found = self._find(session, customer_id, client_id)
                assert found is not None
                return self._replay(found, kind, account_number, card_id, amount)
            if kind is FundingKind.WITHDRAW:
                request = self._reserve(session, request)
        # Committed: the record and the hold survive whatever happens next.
        result = self._call(request, card_token)
        return FundingDone(self._settle(factory, request.id, result), "created")

    @staticmethod
    def _replay(
        found: FundingRequest, kind: FundingKind, account_number: str, card_id: int, amount: int
    ) -> FundingDone:
        if (found.kind, found.account_number, found.card_id, found.amount) != (
            kind,
            account_number,
            card_id,
            amount,
        ):
            raise IdempotencyConflict(client_id=found.client_id)
        return FundingDone(found, "exists")

    def _own_active_account(self, session: Session, customer_id: int, number: str) -> EAccount:
        try:
            account = self.accounts.account(session, number, lock=True)
        except EAccountNotFound:
            raise NotYourAccount() from None
        if account.customer_id != customer_id:
            raise NotYourAccount()
        if account.status == "frozen":
            raise AccountFrozen(account=account.number[-4:])
        if account.status != "active":
            raise AccountNotActive(account=account.number[-4:], status=account.status)
        return account

    def _check_new_card(
        self, session: Session, customer_id: int, bound_at: datetime, amount: int
    ) -> None:
        """Refuse a withdrawal to a card in its first days beyond what such cards may
        receive today, counting every withdrawal today to any of the customer's new
        cards (unbound ones too) that has not failed."""
        # One withdrawal of a customer's to a new card at a time counts and decides.
        advisory_lock(session, "funding_new_card", customer_id)
        now = self.clock.now()
        day_start, _ = self.accounts.business_day_bounds()
        used = session.execute(
            text(
                "SELECT coalesce(sum(f.amount), 0) FROM funding_request f "
                "JOIN bound_card b ON b.id = f.card_id WHERE f.customer_id = :c "
                "AND f.kind = 'withdraw' AND f.state <> 'failed' AND f.created_at >= :day "
                "AND b.bound_at > :new_since"
            ),
            {"c": customer_id, "day": day_start, "new_since": self.new_card.new_since(now)},
        ).scalar_one()
        self.new_card.check(
            used_today=int(used), amount=amount, full_from=bound_at + self.new_card.period
        )

    def _check_balance_cap(self, session: Session, account: EAccount, amount: int) -> None:
        """Refuse a top-up that could take the account past its class's balance cap,
        counting money already on its way in (pending credits, other top-ups under
        way). Only the cap: bound-card money is outside the flow limits. Checked
        before the pull; once the network has taken the money from the card it is
        credited whatever arrived meanwhile."""
        limits = self.accounts.limits[account.account_class]
        if limits.balance_cap is None:
            return
        balance = balance_of(self.ledger.account(session, account.ledger_account_id))
        under_way = session.execute(
            text(
                "SELECT coalesce(sum(amount), 0) FROM funding_request WHERE e_account_id = :a "
                "AND kind = 'top_up' AND state IN ('pending', 'unknown')"
            ),
            {"a": account.id},
        ).scalar_one()
        after = balance.posted + balance.pending_credits + int(under_way) + amount
        cap_only = replace(limits, daily_inflow=None, yearly_inflow=None)
        check_inflow(cap_only, Usage(), amount, after)

    def _record(
        self,
        session: Session,
        kind: FundingKind,
        customer_id: int,
        client_id: str,
        account: EAccount,
        card_id: int,
        amount: int,
    ) -> FundingRequest | None:
        now = self.clock.now()
        row = session.execute(
            text(
                "INSERT INTO funding_request (customer_id, client_id, kind, e_account_id, card_id, "
                "amount, state, network_reference, deadline, created_at, updated_at) "
                "VALUES (:c, :cid, :k, :a, :card, :x, 'pending', :ref, :deadline, :at, :at) "
                "ON CONFLICT (customer_id, client_id) DO NOTHING RETURNING id"
            ),
            {
                "c": customer_id,
                "cid": client_id,
                "k": kind.value,
                "a": account.id,
                "card": card_id,
                "x": amount,
                # Chosen before the call, so that a call that times out can be asked about.
                "ref": f"RB{uuid4().hex}",
                "deadline": now + self.request_window,
                "at": now,
            },
        ).first()
        return None if row is None else self._get(session, int(row[0]))

    def _reserve(self, session: Session, request: FundingRequest) -> FundingRequest:
        """Hold the withdrawal's amount (refused here, before the network hears of
        it, if the account cannot cover it). No timeout: see the module docstring."""
        hold = self.ledger.transfer(
            session,
            Transfer(
                client_id=Namespace.FUNDING.client_id(request.id, "hold"),
                debit_account=request.ledger_account_id,
                credit_account=CLEARING_ACCOUNT,
                amount=request.amount,
                currency=CURRENCY,
                pending=True,
                description="提现至银行卡",
                metadata={"funding_request": request.id, "reference": request.network_reference},
            ),
        ).entry_id_or_raise()
        session.execute(
            text("UPDATE funding_request SET ledger_entry_id = :e WHERE id = :id"),
            {"e": hold, "id": request.id},
        )
        return replace(request, ledger_entry_id=hold)

    def _call(self, request: FundingRequest, card_token: str) -> ClearingResult | None:
        """The network's answer, or None if it gave none in time."""
        call = (
            self.network.debit_card
            if request.kind is FundingKind.TOP_UP
            else self.network.credit_card
        )
        try:
            return call(
                ClearingRequest(
                    reference=request.network_reference,
                    card_token=card_token,
                    amount=request.amount,
                    currency=CURRENCY,
                    deadline=request.deadline,
                )
            )
        except ClearingTimeout:
            logger.warning("no answer from the clearing network for %s", request.network_reference)
            return None

    def _settle(
        self, factory: SessionFactory, request_id: int, result: ClearingResult | None
    ) -> FundingRequest:
        """Record the network's answer (None: no answer) and complete the money, in
        one transaction. A request already settled (by the resolver, or by the
        request's own second step arriving late) is left as it is: the network
        answers the same both times, so whoever comes first is right."""
        with unit_of_work(factory) as session:
            request = self._get(session, request_id, lock=True)
            if request.state not in OPEN_STATES:
                return request
            if result is None:
                return self._update(session, request, FundingState.UNKNOWN)
            if result.status == "succeeded":
                entry = self._complete(session, request)
                if request.kind is FundingKind.WITHDRAW:
                    self._record_withdrawal(session, request)
                return self._update(session, request, FundingState.SUCCEEDED, entry=entry)
            if request.kind is FundingKind.WITHDRAW:
                assert request.ledger_entry_id is not None
                self.ledger.transfer(
                    session,
                    VoidPending(
                        client_id=Namespace.FUNDING.client_id(request.id, "void"),
                        pending=request.ledger_entry_id,
                        description="提现未成功退回",
                    ),
                )
            return self._update(
                session, request, FundingState.FAILED, reason=result.reason or "failed"
            )

    def _record_withdrawal(self, session: Session, request: FundingRequest) -> None:
        row = session.execute(
            text(f"SELECT {CARD_COLUMNS} FROM bound_card WHERE id = :id"),  # noqa: S608
            {"id": request.card_id},
        ).one()
        card = BoundCard(*row)
        outbox.record(
            session,
            WithdrawalMade(
                request_id=request.id,
                customer_id=card.customer_id,
                card_id=card.id,
                card=card.masked,
                bank=card.bank_name or "",
                account_tail=request.account_number[-4:],
                amount=request.amount,
                currency=CURRENCY,
                occurred_at=self.clock.now(),
            ),
        )

    def _complete(self, session: Session, request: FundingRequest) -> int:
        if request.kind is FundingKind.WITHDRAW:
            assert request.ledger_entry_id is not None
            command: Transfer | PostPending = PostPending(
                client_id=Namespace.FUNDING.client_id(request.id, "post"),
                pending=request.ledger_entry_id,
            )
        else:
            command = Transfer(
                client_id=Namespace.FUNDING.client_id(request.id, "credit"),
                debit_account=CLEARING_ACCOUNT,
                credit_account=request.ledger_account_id,
                amount=request.amount,
                currency=CURRENCY,
                description="银行卡充值",
                metadata={"funding_request": request.id, "reference": request.network_reference},
            )
        return self.ledger.transfer(session, command).entry_id_or_raise()

    def _update(
        self,
        session: Session,
        request: FundingRequest,
        state: FundingState,
        *,
        entry: int | None = None,
        reason: str = "",
    ) -> FundingRequest:
        now = self.clock.now()
        entry = entry or request.ledger_entry_id
        session.execute(
            text(
                "UPDATE funding_request SET state = :s, reason = :r, ledger_entry_id = :e, "
                "updated_at = :at WHERE id = :id"
            ),
            {"s": state.value, "r": reason, "e": entry, "at": now, "id": request.id},
        )
        return replace(request, state=state, reason=reason, ledger_entry_id=entry, updated_at=now)

    @staticmethod
    def _find(session: Session, customer_id: int, client_id: str) -> FundingRequest | None:
        row = session.execute(
            text(
                f"SELECT {_REQUEST_COLUMNS} {_REQUEST_FROM} "
                "WHERE f.customer_id = :c AND f.client_id = :cid"
            ),
            {"c": customer_id, "cid": client_id},
        ).first()
        return None if row is None else _request(row)

    @staticmethod
    def _get(session: Session, request_id: int, *, lock: bool = False) -> FundingRequest:
        row = session.execute(
            text(
                f"SELECT {_REQUEST_COLUMNS} {_REQUEST_FROM} WHERE f.id = :id"
                + (" FOR UPDATE OF f" if lock else "")
            ),
            {"id": request_id},
        ).one()
        return _request(row)
