"""Ledger use cases.

``LedgerService.execute`` is the one write path: it takes a batch of commands
(transfers, multi-leg entries, post/void of pending transfers, reversals) and
applies them inside the caller's transaction. Each command's failure is isolated
from the others, except within a linked chain, which succeeds or fails whole. A
single transfer is a batch of one. The service never commits: the boundary does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from rongbank import idempotency
from rongbank.clock import Clock, SystemClock
from rongbank.db import driver_connection, run, statement
from rongbank.errors import DomainError
from rongbank.ledger import repository as repo
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.errors import (
    AccountCodeTaken,
    AccountNotFound,
    AlreadyReversed,
    BatchTooLarge,
    CurrencyMismatch,
    CurrencyNotFound,
    IdempotencyConflict,
    InvalidEntry,
    LinkedChainFailed,
    LinkedChainOpen,
    NotReversible,
    PendingAlreadyResolved,
    PendingExpired,
    PendingNotFound,
    PostExceedsPending,
    SameAccount,
    TransferNotFound,
)
from rongbank.ledger.rules import AccountType, BalanceRule, Book, Leg, request_hash
from rongbank.money import MAX_AMOUNT_MINOR, AmountNotPositive, AmountOutOfRange

AccountRef = int | str
"""A ledger account by its numeric id or by its code."""

MAX_BATCH = 10_000

FROZEN_DEBIT = "frozen_debit_reason"
"""The entry metadata key that keeps the authority for debiting a frozen account."""

SYSTEM_PREFIX = f"{Namespace.SYSTEM}:"
_ENTRY_EXISTS = statement("SELECT 1 FROM ledger_entry WHERE client_id = :c")
"""Client ids the ledger writes for itself (the expiry of a hold) start with this;
no caller may use it, so theirs can never collide with the ledger's. (The bank's
other namespaces are refused only to the ledger API: its domains write in them.)"""


def _expiry_id(pending_entry: int) -> str:
    return Namespace.SYSTEM.client_id("expire", pending_entry)


@dataclass(frozen=True, kw_only=True)
class Transfer:
    """Move ``amount`` from ``debit_account`` to ``credit_account``. With
    ``pending`` the amount is only reserved (a hold) until posted, voided, or
    ``timeout`` passes."""

    client_id: str
    debit_account: AccountRef
    credit_account: AccountRef
    amount: int
    currency: str
    pending: bool = False
    timeout: timedelta | None = None
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    linked: bool = False
    frozen_debit_reason: str = ""
    """The authority under which a frozen debit account is debited (a court order's
    reference...), kept in the entry's metadata; empty: a frozen account refuses."""

    @property
    def kind(self) -> str:
        return "pending" if self.pending else "transfer"


@dataclass(frozen=True, kw_only=True)
class PostingSpec:
    account: AccountRef
    amount: int  # > 0 debit, < 0 credit
    currency: str


@dataclass(frozen=True, kw_only=True)
class MultiLegEntry:
    """Several postings that sum to zero per currency: an FX conversion, a fee split."""

    client_id: str
    postings: Sequence[PostingSpec]
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    linked: bool = False
    frozen_debit_reason: str = ""
    """As :attr:`Transfer.frozen_debit_reason`, for every frozen account debited."""
    kind = "entry"


@dataclass(frozen=True, kw_only=True)
class PostPending:
    """Complete a pending transfer, in full (``amount`` None) or in part; the rest of
    the reservation is released."""

    client_id: str
    pending: AccountRef  # the pending transfer's entry id or client id
    amount: int | None = None
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    linked: bool = False
    kind = "post_pending"


@dataclass(frozen=True, kw_only=True)
class VoidPending:
    """Cancel a pending transfer and release its reservation."""

    client_id: str
    pending: AccountRef
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    linked: bool = False
    kind = "void_pending"


@dataclass(frozen=True, kw_only=True)
class Reverse:
    """Undo a posted entry with a new entry of opposite postings, linked to it."""

    client_id: str
    entry: AccountRef  # the entry's id or client id
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    linked: bool = False
    kind = "reversal"


@dataclass(frozen=True, kw_only=True)
class _ExpirePending:
    """Release a pending transfer whose timeout has passed (the expiry run)."""

    client_id: str
    pending: int
    description: str = "pending transfer expired"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    linked: bool = False
    kind = "expire_pending"


Command = Transfer | MultiLegEntry | PostPending | VoidPending | Reverse


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one command: ``created`` now, already ``exists`` from an
    earlier identical request, or ``failed`` with a business error (nothing of it
    was written)."""

    client_id: str
    status: Literal["created", "exists", "failed"]
    entry_id: int | None = None
    error: DomainError | None = None

    @property
    def final(self) -> bool:
        """A refusal that is this client id's outcome (see ``DomainError.final``)."""
        return self.error is not None and self.error.final

    def entry_id_or_raise(self) -> int:
        if self.error is not None:
            raise self.error
        assert self.entry_id is not None
        return self.entry_id


def _fingerprint(command: Command | _ExpirePending) -> bytes:
    if type(command) is Transfer:
        return _transfer_fingerprint(command)
    return _fields_fingerprint(command)


def _fields_fingerprint(command: Command | _ExpirePending) -> bytes:
    values: list[Any] = []
    for name, value in vars(command).items():
        if name in ("client_id", "linked"):
            continue
        if name == FROZEN_DEBIT and not value:
            continue  # added later: requests without it keep the fingerprint they had
        if name == "postings":
            value = [(p.account, p.amount, p.currency) for p in value]
        elif name == "metadata":
            value = dict(value) if value else None
        values.append(value)
    return request_hash(command.kind, values)


def _transfer_fingerprint(t: Transfer) -> bytes:
    """:func:`_fields_fingerprint` of a transfer, the same bytes without walking its
    fields by name (most of a batch is plain transfers; ``test_rules`` holds the two
    equal, and fails when ``Transfer`` gains a field)."""
    values: list[Any] = [
        t.debit_account,
        t.credit_account,
        t.amount,
        t.currency,
        t.pending,
        t.timeout,
        t.description,
        dict(t.metadata) if t.metadata else None,
    ]
    if t.frozen_debit_reason:
        values.append(t.frozen_debit_reason)
    return request_hash("pending" if t.pending else "transfer", values)


class _Answered(Exception):
    """A client id refused before: its answer (the refusal again, or a conflict for
    another request) is the command's outcome, not a new refusal to remember."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.code)
        self.error = error


def _advisory_key(client_id: str) -> int:
    return int.from_bytes(hashlib.sha256(client_id.encode()).digest()[:8], "big", signed=True)


def _check_amount(amount: int) -> None:
    if amount <= 0:
        raise AmountNotPositive(amount=str(amount))
    if amount > MAX_AMOUNT_MINOR:
        raise AmountOutOfRange(amount=str(amount))


def _texts(value: Any) -> Iterator[str]:
    """Every string a command carries, however deeply nested (PostgreSQL text cannot
    hold NUL, and one bad string must fail only its own command)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif hasattr(value, "__dataclass_fields__"):
        for item in vars(value).values():
            yield from _texts(item)


def _has_nul(command: Command) -> bool:
    """:func:`_any_nul`; a transfer's strings by name (a batch's most common command)."""
    if type(command) is Transfer:
        debit, credit = command.debit_account, command.credit_account
        return (
            "\x00" in command.client_id
            or "\x00" in command.currency
            or "\x00" in command.description
            or "\x00" in command.frozen_debit_reason
            or (isinstance(debit, str) and "\x00" in debit)
            or (isinstance(credit, str) and "\x00" in credit)
            or (bool(command.metadata) and any("\x00" in t for t in _texts(command.metadata)))
        )
    return _any_nul(command)


def _any_nul(command: Command) -> bool:
    return any("\x00" in text for text in _texts(command))


def _validate(command: Command) -> None:
    """Checks that need no database."""
    if not 1 <= len(command.client_id) <= 128:
        raise InvalidEntry("A client id must have 1 to 128 characters.")
    if command.client_id.startswith(SYSTEM_PREFIX):
        raise InvalidEntry(f"Client ids starting with {SYSTEM_PREFIX!r} are reserved.")
    if _has_nul(command):
        raise InvalidEntry("Text may not contain NUL characters.")
    if isinstance(command, Transfer):
        _check_amount(command.amount)
        if command.timeout is not None and (not command.pending or command.timeout <= timedelta(0)):
            raise InvalidEntry("Only a pending transfer has a timeout, and it must be positive.")
        if command.debit_account == command.credit_account:
            raise SameAccount()
    elif isinstance(command, MultiLegEntry):
        if len(command.postings) < 2:
            raise InvalidEntry("An entry needs at least two postings.")
        for posting in command.postings:
            if posting.amount == 0:
                raise InvalidEntry("A posting's amount cannot be zero.")
            _check_amount(abs(posting.amount))
    elif isinstance(command, PostPending) and command.amount is not None:
        _check_amount(command.amount)


def _chains(commands: Sequence[Command | _ExpirePending]) -> list[list[int]]:
    """Group indexes into linked chains: a command with ``linked`` joins the next."""
    chains: list[list[int]] = []
    current: list[int] = []
    for index, command in enumerate(commands):
        current.append(index)
        if not command.linked:
            chains.append(current)
            current = []
    if current:
        chains.append(current)
    return chains


class _Batch:
    """The working state of one ``execute`` call."""

    def __init__(
        self,
        commands: Sequence[Command | _ExpirePending],
        locked: repo.Locked,
        holds: list[repo.HoldRow],
        targets: list[repo.ReversalTarget],
        now: datetime,
    ) -> None:
        self.commands = commands
        self.locked = locked
        self.book = Book(locked.accounts)
        self.now = now
        self.holds_by_id = {h.entry_id: h for h in holds}
        self.holds_by_cid = {h.client_id: h for h in holds}
        self.targets_by_id = {t.id: t for t in targets}
        self.targets_by_cid = {t.client_id: t for t in targets}
        self.writes: list[repo.EntryWrite] = []
        self.created_here: dict[str, bytes] = {}
        # Refused in this batch (fingerprint, refusal): remembered with the batch, and
        # answered again to the same client id later in it.
        self.refused_here: dict[str, tuple[bytes, DomainError]] = {}
        # Undo steps for in-memory state outside the book, for linked chains.
        self.undo: list[Callable[[], None]] = []

    def savepoint(self) -> tuple[int, int, int]:
        return self.book.savepoint(), len(self.writes), len(self.undo)

    def rollback_to(self, savepoint: tuple[int, int, int]) -> None:
        book, writes, undo = savepoint
        self.book.rollback_to(book)
        del self.writes[writes:]
        while len(self.undo) > undo:
            self.undo.pop()()

    def release_savepoints(self) -> None:
        self.book.release_savepoints()
        self.undo.clear()

    def _forget(self, client_id: str) -> None:
        del self.created_here[client_id]

    def _unreverse(self, entry_id: int) -> None:
        del self.locked.reversed_by[entry_id]

    def account(self, ref: AccountRef, currency: str) -> int:
        account_id = self.locked.codes.get(ref) if isinstance(ref, str) else ref
        if account_id is None or account_id not in self.book.accounts:
            raise AccountNotFound(account=ref)
        actual = self.book.accounts[account_id].currency
        if actual != currency:
            raise CurrencyMismatch(account=ref, account_currency=actual, currency=currency)
        return account_id

    def find_hold(self, ref: AccountRef) -> repo.HoldRow | None:
        return self.holds_by_cid.get(ref) if isinstance(ref, str) else self.holds_by_id.get(ref)

    def hold(self, ref: AccountRef) -> repo.HoldRow:
        hold = self.find_hold(ref)
        if hold is None:
            raise PendingNotFound(pending=ref)
        if hold.state != "pending":
            raise PendingAlreadyResolved(pending=ref, state=hold.state)
        return hold

    def expire_overdue(self, refs: Iterable[AccountRef]) -> None:
        for ref in refs:
            hold = self.find_hold(ref)
            overdue = (
                hold is not None and hold.expires_at is not None and hold.expires_at <= self.now
            )
            if hold is not None and hold.state == "pending" and overdue:
                self._expire(hold)
        self.release_savepoints()

    def apply(self, index: int, fingerprint: bytes) -> Outcome:
        command = self.commands[index]
        cid = command.client_id
        existing = self.locked.existing.get(cid)
        if existing is not None:
            if existing[1] != fingerprint:
                raise IdempotencyConflict(client_id=cid)
            return Outcome(cid, "exists", existing[0])
        refused = self.locked.refused.get(cid)
        if refused is not None:
            keyed = idempotency.Keyed(idempotency.LEDGER_SCOPE, cid, fingerprint)
            answer = idempotency.recalled(keyed, *refused)
            assert answer is not None  # a refused client id answers with an error
            raise _Answered(answer)
        if cid in self.created_here:
            if self.created_here[cid] != fingerprint:
                raise IdempotencyConflict(client_id=cid)
            return Outcome(cid, "exists")  # the id is filled in once written
        if cid in self.refused_here:
            earlier, error = self.refused_here[cid]
            if earlier != fingerprint:
                raise IdempotencyConflict(client_id=cid)
            raise error
        entry = repo.EntryWrite(
            client_id=cid,
            request_hash=fingerprint,
            kind=command.kind,
            created_at=self.now,
            description=command.description,
            metadata=dict(command.metadata),
        )
        self._plan(command, entry)
        self.writes.append(entry)
        self.created_here[cid] = fingerprint
        self.undo.append(lambda: self._forget(cid))
        return Outcome(cid, "created")

    def refuse(self, index: int, fingerprint: bytes, error: DomainError) -> None:
        """Remember a final refusal of a client's command with the batch."""
        cid = self.commands[index].client_id
        answered = cid in self.locked.existing or cid in self.locked.refused
        if error.final and not answered and cid not in self.created_here:
            self.refused_here.setdefault(cid, (fingerprint, error))

    def _plan(self, command: Command | _ExpirePending, entry: repo.EntryWrite) -> None:
        if isinstance(command, Transfer | MultiLegEntry) and command.frozen_debit_reason:
            entry.metadata[FROZEN_DEBIT] = command.frozen_debit_reason
        if isinstance(command, Transfer):
            debit = self.account(command.debit_account, command.currency)
            credit = self.account(command.credit_account, command.currency)
            if debit == credit:
                raise SameAccount()
            entry.postings = self.book.transfer(
                debit,
                credit,
                command.amount,
                pending=command.pending,
                frozen_ok=bool(command.frozen_debit_reason),
            )
            if command.pending:
                expires = self.now + command.timeout if command.timeout else None
                entry.new_hold = (debit, credit, command.amount, expires)
        elif isinstance(command, MultiLegEntry):
            legs = [Leg(self.account(p.account, p.currency), p.amount) for p in command.postings]
            entry.postings = self.book.apply(legs, frozen_ok=bool(command.frozen_debit_reason))
        elif isinstance(command, PostPending | VoidPending | _ExpirePending):
            self._resolve_hold(command, entry)
        else:
            self._reverse(command, entry)

    def _resolve_hold(
        self, command: PostPending | VoidPending | _ExpirePending, entry: repo.EntryWrite
    ) -> None:
        if isinstance(command, PostPending):
            found = self.find_hold(command.pending)
            if found is not None and found.state == "expired":
                raise PendingExpired(pending=command.pending, expired_at=found.expires_at)
        hold = self.hold(command.pending)
        entry.pending_id = hold.entry_id
        release = (hold.debit_account_id, hold.credit_account_id, hold.amount)
        if isinstance(command, PostPending):
            amount = hold.amount if command.amount is None else command.amount
            if amount > hold.amount:
                raise PostExceedsPending(pending_amount=str(hold.amount), amount=str(amount))
            legs = [Leg(hold.debit_account_id, amount), Leg(hold.credit_account_id, -amount)]
            entry.postings = self.book.apply(legs, release=release)
            entry.hold_update = (hold.entry_id, "posted", amount)
        else:
            self.book.apply([], release=release)
            state = "voided" if isinstance(command, VoidPending) else "expired"
            entry.hold_update = (hold.entry_id, state, None)
        previous = hold.state
        self.undo.append(lambda: setattr(hold, "state", previous))
        hold.state = entry.hold_update[1]

    def _expire(self, hold: repo.HoldRow) -> None:
        expire = _ExpirePending(client_id=_expiry_id(hold.entry_id), pending=hold.entry_id)
        entry = repo.EntryWrite(
            client_id=expire.client_id,
            request_hash=_fingerprint(expire),
            kind=expire.kind,
            created_at=self.now,
            description=expire.description,
        )
        self._resolve_hold(expire, entry)
        self.writes.append(entry)

    def _reverse(self, command: Reverse, entry: repo.EntryWrite) -> None:
        ref = command.entry
        target = (
            self.targets_by_cid.get(ref) if isinstance(ref, str) else self.targets_by_id.get(ref)
        )
        if target is None:
            raise TransferNotFound(entry=ref)
        if target.kind not in ("transfer", "entry", "post_pending"):
            raise NotReversible(entry=ref, kind=target.kind)
        if target.id in self.locked.reversed_by:
            raise AlreadyReversed(entry=ref, reversed_by=self.locked.reversed_by[target.id])
        legs = [Leg(account_id, -amount) for account_id, amount in target.legs]
        entry.postings = self.book.apply(legs)
        entry.reverses_id = target.id
        self.locked.reversed_by[target.id] = -1  # reversed within this batch
        self.undo.append(lambda: self._unreverse(target.id))


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    scale: int
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's balance on its normal side (credits minus debits for a deposit,
    debits minus credits for a loan), in minor units."""

    posted: int
    pending_debits: int
    pending_credits: int
    available: int


def balance_of(row: repo.AccountRow) -> Balance:
    sign = 1 if AccountType(row.type).debit_normal else -1
    posted = sign * (row.debits_posted - row.credits_posted)
    # Money reserved against the account is not available; money on its way in is
    # not available yet either.
    reserved = row.debits_pending if sign < 0 else row.credits_pending
    available = posted - reserved
    if row.rule != BalanceRule.NONE.value:
        available += row.overdraft_limit
    return Balance(posted, row.debits_pending, row.credits_pending, available)


def normal_side(account_type: str, net_posted: int) -> int:
    return net_posted if AccountType(account_type).debit_normal else -net_posted


@dataclass(frozen=True, slots=True)
class Statement:
    account: repo.AccountRow
    start: datetime
    end: datetime
    opening: int
    closing: int
    lines: list[repo.StatementRow]
    next_after: int | None
    """Pass as ``after`` to fetch the next page; None on the last page."""


class LedgerReads:
    """Read use cases, mixed into :class:`LedgerService`."""

    clock: Clock
    _currencies: dict[str, Currency]

    def currencies(self, session: Session) -> dict[str, Currency]:
        if not self._currencies:
            rows = repo.currencies(driver_connection(session))
            self._currencies = {r[0]: Currency(*r) for r in rows}
        return self._currencies

    def currency(self, session: Session, code: str) -> Currency:
        found = self.currencies(session).get(code)
        if found is None:
            self._currencies = {}  # declared since we last looked?
            found = self.currencies(session).get(code)
        if found is None:
            raise CurrencyNotFound(currency=code)
        return found

    def create_account(
        self,
        session: Session,
        *,
        code: str,
        currency: str,
        type: AccountType,
        rule: BalanceRule = BalanceRule.NONE,
        overdraft_limit: int = 0,
        name: str = "",
    ) -> tuple[repo.AccountRow, bool]:
        """Open a ledger account; returns it and whether it was created now. Opening
        the same code again with the same attributes returns the existing account."""
        self.currency(session, currency)
        if overdraft_limit < 0 or overdraft_limit > MAX_AMOUNT_MINOR:
            raise AmountOutOfRange(amount=str(overdraft_limit))
        conn = driver_connection(session)
        row = repo.insert_account(
            conn,
            code=code,
            name=name,
            currency=currency,
            type_=type.value,
            rule=rule.value,
            overdraft_limit=overdraft_limit,
            now=self.clock.now(),
        )
        if row is not None:
            return row, True
        existing = repo.find_account(conn, code)
        assert existing is not None
        asked = (name, currency, type.value, rule.value, overdraft_limit)
        found = (
            existing.name,
            existing.currency,
            existing.type,
            existing.rule,
            existing.overdraft_limit,
        )
        if asked != found:
            raise AccountCodeTaken(code=code)
        return existing, False

    def account(self, session: Session, ref: AccountRef) -> repo.AccountRow:
        row = repo.find_account(driver_connection(session), ref)
        if row is None:
            raise AccountNotFound(account=ref)
        return row

    def accounts(
        self,
        session: Session,
        *,
        currency: str | None = None,
        type: AccountType | None = None,
        code_prefix: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[repo.AccountRow]:
        return repo.list_accounts(
            driver_connection(session),
            currency=currency,
            type_=type.value if type else None,
            code_prefix=code_prefix,
            after_id=after,
            limit=limit,
        )

    def balance_at(self, session: Session, ref: AccountRef, at: datetime) -> int:
        """The posted balance (normal side) as it stood at instant ``at``."""
        account = self.account(session, ref)
        net = repo.net_posted_at(driver_connection(session), account.id, at)
        return normal_side(account.type, net)

    def statement(
        self,
        session: Session,
        ref: AccountRef,
        *,
        start: datetime,
        end: datetime,
        after: int = 0,
        limit: int = 500,
    ) -> Statement:
        """Posted movements in ``[start, end)``, with the opening balance at ``start``,
        each line's running balance, and the closing balance at ``end``."""
        if end <= start:
            raise InvalidEntry("The statement period must end after it starts.")
        account = self.account(session, ref)
        conn = driver_connection(session)
        opening = normal_side(account.type, repo.net_posted_before(conn, account.id, start))
        closing = normal_side(account.type, repo.net_posted_before(conn, account.id, end))
        lines = repo.statement_rows(
            conn, account.id, start=start, end=end, after_posting=after, limit=limit + 1
        )
        next_after = lines[limit - 1].posting_id if len(lines) > limit else None
        return Statement(account, start, end, opening, closing, lines[:limit], next_after)

    def entry(self, session: Session, ref: AccountRef) -> repo.EntryRow:
        row = repo.find_entry(driver_connection(session), ref)
        if row is None:
            raise TransferNotFound(entry=ref)
        return row

    def set_frozen(self, session: Session, ref: AccountRef, *, frozen: bool) -> None:
        """Freeze an account (no debits but with a stated authority, see
        ``AccountState.frozen``) or unfreeze it; the caller audits why."""
        if not repo.set_frozen(driver_connection(session), ref, frozen):
            raise AccountNotFound(account=ref)

    def has_entry(self, session: Session, client_id: str) -> bool:
        return repo.entry_exists(driver_connection(session), client_id)

    def has_entry_later(self, session: Session, client_id: str) -> Callable[[], bool]:
        """:meth:`has_entry` in two steps, for a pipeline (``rongbank.db.pipeline``):
        the read is sent now, and the function returned reads its answer."""
        cursor = run(session, _ENTRY_EXISTS, {"c": client_id})
        return lambda: cursor.fetchone() is not None

    def trial_balance(self, session: Session) -> list[repo.TrialBalanceRow]:
        return repo.trial_balance(driver_connection(session))

    def verify(self, session: Session) -> dict[str, list[str]]:
        return repo.verify(driver_connection(session))


class LedgerService(LedgerReads):
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self._currencies = {}

    def transfer(self, session: Session, command: Command) -> Outcome:
        """Apply one command; raises its business error if it fails."""
        outcome = self.execute(session, [command])[0]
        if outcome.error is not None:
            raise outcome.error
        return outcome

    def execute(self, session: Session, commands: Sequence[Command]) -> list[Outcome]:
        return self._execute(session, commands)

    def expire_due_holds(self, session: Session, *, limit: int = 1000) -> int:
        """Release pending transfers whose timeout has passed; returns how many."""
        conn = driver_connection(session)
        due = repo.due_holds(conn, self.clock.now(), limit)
        commands = [_ExpirePending(client_id=_expiry_id(h), pending=h) for h in due]
        outcomes = self._execute(session, commands)
        return sum(1 for o in outcomes if o.status == "created")

    def _execute(
        self, session: Session, commands: Sequence[Command | _ExpirePending]
    ) -> list[Outcome]:
        if len(commands) > MAX_BATCH:
            raise BatchTooLarge(maximum=MAX_BATCH, size=len(commands))
        if not commands:
            return []
        static_errors: dict[int, DomainError] = {}
        for index, command in enumerate(commands):
            try:
                if not isinstance(command, _ExpirePending):
                    _validate(command)
            except DomainError as error:
                static_errors[index] = error
        chains = _chains(commands)
        open_chain = chains.pop() if commands[-1].linked else []
        for index in open_chain:
            static_errors.setdefault(index, LinkedChainOpen())

        conn = driver_connection(session)
        ids: list[int] = []
        codes: list[str] = []

        def want(ref: AccountRef) -> None:
            (codes if isinstance(ref, str) else ids).append(ref)  # type: ignore[arg-type]

        hold_ids: list[int] = []
        hold_cids: list[str] = []
        target_ids: list[int] = []
        target_cids: list[str] = []
        for index, command in enumerate(commands):
            if index in static_errors:
                continue
            if isinstance(command, Transfer):
                want(command.debit_account)
                want(command.credit_account)
            elif isinstance(command, MultiLegEntry):
                for posting in command.postings:
                    want(posting.account)
            elif isinstance(command, PostPending | VoidPending | _ExpirePending):
                ref = command.pending
                (hold_cids if isinstance(ref, str) else hold_ids).append(ref)  # type: ignore[arg-type]
            else:
                ref = command.entry
                (target_cids if isinstance(ref, str) else target_ids).append(ref)  # type: ignore[arg-type]

        valid = [i for i in range(len(commands)) if i not in static_errors]
        client_ids = [commands[i].client_id for i in valid]
        # Pure work before taking any lock, to keep the locked stretch short.
        fingerprints = {i: _fingerprint(commands[i]) for i in valid}
        keys = sorted({_advisory_key(cid) for cid in client_ids})
        # Lock order, the same in every transaction: client ids, holds, accounts.
        holds: list[repo.HoldRow] = []
        if hold_ids or hold_cids:
            holds = repo.lock_holds(conn, keys, hold_ids, hold_cids)
            for hold in holds:
                ids.extend((hold.debit_account_id, hold.credit_account_id))
        targets: list[repo.ReversalTarget] = []
        if target_ids or target_cids:
            targets = repo.reversal_targets(conn, target_ids, target_cids)
            for target in targets:
                ids.extend(account_id for account_id, _ in target.legs)
        locked = repo.lock_accounts(
            conn,
            advisory_keys=None if holds else keys,
            ids=sorted(set(ids)),
            codes=sorted(set(codes)),
            client_ids=client_ids,
            reversal_ids=[t.id for t in targets],
        )
        batch = _Batch(commands, locked, holds, targets, self.clock.now())

        outcomes: list[Outcome | None] = [None] * len(commands)
        for index in open_chain:
            outcomes[index] = Outcome(
                commands[index].client_id, "failed", error=static_errors[index]
            )
        # Overdue holds that a command wants to post are expired first, outside any
        # chain: the expiry stands even if the chain that found it fails.
        batch.expire_overdue(
            c.pending
            for i, c in enumerate(commands)
            if isinstance(c, PostPending) and i in fingerprints
        )
        for chain in chains:
            savepoint = batch.savepoint()
            failed: int | None = None
            for index in chain:
                command = commands[index]
                try:
                    if index in static_errors:
                        raise static_errors[index]
                    outcomes[index] = batch.apply(index, fingerprints[index])
                except _Answered as answered:
                    outcomes[index] = Outcome(command.client_id, "failed", error=answered.error)
                    failed = index
                    break
                except DomainError as error:
                    outcomes[index] = Outcome(command.client_id, "failed", error=error)
                    if index not in static_errors and not isinstance(command, _ExpirePending):
                        batch.refuse(index, fingerprints[index], error)
                    failed = index
                    break
            if failed is not None and len(chain) > 1:
                batch.rollback_to(savepoint)
                cause = commands[failed].client_id
                why = outcomes[failed]
                # The chain's refusal is final when its cause's is (not for a
                # malformed member, which the client may correct under the same ids).
                final = failed not in static_errors and why is not None and why.final
                for index in chain:
                    if index != failed:
                        chained = LinkedChainFailed(failed_client_id=cause)
                        outcomes[index] = Outcome(
                            commands[index].client_id, "failed", error=chained
                        )
                        if final and index in fingerprints:
                            batch.refuse(index, fingerprints[index], chained)
            batch.release_savepoints()

        if batch.refused_here:
            repo.write_refusals(
                conn,
                [
                    (cid, fp, idempotency.refusal(error))
                    for cid, (fp, error) in batch.refused_here.items()
                ],
                batch.now,
            )
        new_ids: dict[str, int] = {}
        if batch.writes:
            touched = [batch.book.accounts[i] for i in sorted(batch.book.touched)]
            ids_in_order = repo.write_batch(conn, batch.writes, touched, batch.now)
            new_ids = {w.client_id: i for w, i in zip(batch.writes, ids_in_order, strict=True)}
        result: list[Outcome] = []
        for outcome in outcomes:
            assert outcome is not None
            if outcome.entry_id is None and outcome.status != "failed":
                outcome = Outcome(outcome.client_id, outcome.status, new_ids[outcome.client_id])
            result.append(outcome)
        return result
