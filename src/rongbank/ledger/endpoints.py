"""The ledger's HTTP API: the bank's back office, for staff only.

Roles: ``operations`` opens ledger accounts and moves money (transfers, entries,
holds, reversals, batches); ``risk_analyst`` reads (accounts, balances, statements,
entries, the trial balance). Other roles, administrators included, neither: whoever
gives out logins does not also move money. A new install, before anyone has a staff
login, is opened with the operator token (see ``rongbank.api.deps``).

Every movement is audited in the transaction that writes it, refusals too: who
(``actor``), what (``ledger.transfer``...), on which accounts or entry, the amount
and the outcome. Movements here pass no customer limit or step-up: those guard what
a customer asks; staff are guarded by their role and the audit trail. A frozen
account (``rongbank.ledger.rules``) is not debited unless the request gives the
authority for it in ``frozen_debit_reason``.

Thin: parse, authorise, call one service method, shape the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.orm import Session

from rongbank.api.deps import StaffActor, get_platform, require_staff_or_operator
from rongbank.api.one_hop import OneHopRoute
from rongbank.errors import InvalidRequest
from rongbank.inputs import CountParam, IdParam, Moment, parse_id
from rongbank.ledger import repository as repo
from rongbank.ledger import schemas as s
from rongbank.ledger.client_ids import check_not_reserved
from rongbank.ledger.errors import PendingNotFound
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import (
    FROZEN_DEBIT,
    AccountRef,
    Command,
    LedgerService,
    MultiLegEntry,
    Outcome,
    PostingSpec,
    PostPending,
    Reverse,
    Transfer,
    VoidPending,
    balance_of,
)
from rongbank.money import format_amount, parse_amount, parse_positive_amount
from rongbank.platform import Platform

READERS = ("operations", "risk_analyst")
KEEPERS = ("operations",)

router = APIRouter(tags=["ledger"], route_class=OneHopRoute)

PlatformDep = Annotated[Platform, Depends(get_platform)]
Reader = Annotated[StaffActor, Depends(require_staff_or_operator(*READERS))]
Keeper = Annotated[StaffActor, Depends(require_staff_or_operator(*KEEPERS))]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=128, include_in_schema=True)
]


class MissingClientId(InvalidRequest):
    code = "client_id_required"
    message = "Every money-moving request needs a client id (or an Idempotency-Key header)."


class ClientIdMismatch(InvalidRequest):
    code = "client_id_mismatch"
    message = "The Idempotency-Key header and the body's client_id differ."


def _client_id(body: str | None, header: str | None) -> str:
    if body is not None and header is not None and body != header:
        raise ClientIdMismatch()
    client_id = body or header
    if not client_id:
        raise MissingClientId()
    check_not_reserved(client_id)
    return client_id


class _Money:
    """Formats and parses amounts of the currencies the ledger declares."""

    def __init__(self, ledger: LedgerService, session: Session) -> None:
        self.ledger = ledger
        self.session = session

    def scale(self, currency: str) -> int:
        return self.ledger.currency(self.session, currency).scale

    def fmt(self, minor: int, currency: str) -> str:
        return format_amount(minor, scale=self.scale(currency))

    def positive(self, text: str, currency: str) -> int:
        return parse_positive_amount(text, scale=self.scale(currency), currency=currency)


def _account_out(row: repo.AccountRow, money: _Money) -> s.LedgerAccountOut:
    balance = balance_of(row)
    fmt = money.fmt
    c = row.currency
    return s.LedgerAccountOut(
        id=row.id,
        code=row.code,
        name=row.name,
        currency=c,
        type=AccountType(row.type),
        rule=BalanceRule(row.rule),
        overdraft_limit=fmt(row.overdraft_limit, c),
        balance=s.BalanceOut(
            posted=fmt(balance.posted, c),
            pending_debits=fmt(balance.pending_debits, c),
            pending_credits=fmt(balance.pending_credits, c),
            available=fmt(balance.available, c),
        ),
        debits_posted=fmt(row.debits_posted, c),
        credits_posted=fmt(row.credits_posted, c),
        created_at=row.created_at,
        frozen=row.frozen,
    )


def _entry_out(row: repo.EntryRow, money: _Money, status: str | None = None) -> s.EntryOut:
    hold = None
    if row.hold is not None:
        h = row.hold
        hold = s.HoldOut(
            state=h.state,
            amount=money.fmt(h.amount, h.currency),
            expires_at=h.expires_at,
            posted_amount=None
            if h.posted_amount is None
            else money.fmt(h.posted_amount, h.currency),
            resolved_by=h.resolved_by,
        )
    return s.EntryOut(
        id=row.id,
        client_id=row.client_id,
        kind=row.kind,
        status=status,
        description=row.description,
        metadata=row.metadata,
        created_at=row.created_at,
        postings=[
            s.PostingOut(
                account_id=p.account_id,
                account_code=p.account_code,
                currency=p.currency,
                debit=money.fmt(p.amount, p.currency) if p.amount > 0 else None,
                credit=money.fmt(-p.amount, p.currency) if p.amount < 0 else None,
                pending=p.pending,
            )
            for p in row.postings
        ],
        pending_id=row.pending_id,
        reverses_id=row.reverses_id,
        reversed_by=row.reversed_by,
        hold=hold,
    )


def _transfer(
    body: s.LedgerTransferIn, client_id: str, money: _Money, linked: bool = False
) -> Transfer:
    return Transfer(
        client_id=client_id,
        debit_account=body.debit_account,
        credit_account=body.credit_account,
        amount=money.positive(body.amount, body.currency),
        currency=body.currency,
        pending=body.pending,
        timeout=timedelta(seconds=body.timeout_seconds) if body.timeout_seconds else None,
        description=body.description,
        metadata=body.metadata,
        linked=linked,
        frozen_debit_reason=body.frozen_debit_reason.strip(),
    )


def _entry(body: s.EntryIn, client_id: str, money: _Money, linked: bool = False) -> MultiLegEntry:
    postings = [
        PostingSpec(
            account=p.account,
            currency=p.currency,
            amount=(
                money.positive(p.debit, p.currency)
                if p.debit is not None
                else -money.positive(p.credit or "", p.currency)
            ),
        )
        for p in body.postings
    ]
    return MultiLegEntry(
        client_id=client_id,
        postings=postings,
        description=body.description,
        metadata=body.metadata,
        linked=linked,
        frozen_debit_reason=body.frozen_debit_reason.strip(),
    )


def _post_amount(
    session: Session, platform: Platform, money: _Money, pending: AccountRef, amount: str | None
) -> int | None:
    """Parse the amount to post in the pending transfer's own currency."""
    if amount is None:
        return None
    hold = platform.ledger.entry(session, pending).hold
    if hold is None:
        raise PendingNotFound(pending=pending)
    return money.positive(amount, hold.currency)


def _target(command: Command) -> str:
    if isinstance(command, Transfer):
        return f"{command.debit_account} -> {command.credit_account}"
    if isinstance(command, MultiLegEntry):
        return " ".join(str(p.account) for p in command.postings)
    if isinstance(command, PostPending | VoidPending):
        return f"entry {command.pending}"
    return f"entry {command.entry}"


def _amounts(command: Command) -> dict[str, Any]:
    if isinstance(command, Transfer):
        return {"amount": command.amount, "currency": command.currency}
    if isinstance(command, MultiLegEntry):
        return {"postings": [[str(p.account), p.amount, p.currency] for p in command.postings]}
    if isinstance(command, PostPending) and command.amount is not None:
        return {"amount": command.amount}
    return {}


def _audit(platform: Platform, actor: StaffActor) -> Callable[[Session, Command, Outcome], None]:
    """What writes a movement's audit row, in the transaction of the movement."""

    def record(session: Session, command: Command, outcome: Outcome) -> None:
        details: dict[str, Any] = {"client_id": command.client_id, **_amounts(command)}
        if outcome.error is not None:
            details["error"] = outcome.error.code
        elif outcome.entry_id is not None:
            details["entry_id"] = outcome.entry_id
        if isinstance(command, Transfer | MultiLegEntry) and command.frozen_debit_reason:
            details[FROZEN_DEBIT] = command.frozen_debit_reason
        platform.audit.record(
            session,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=f"ledger.{command.kind}",
            target=_target(command),
            result="refused" if outcome.error is not None else "ok",
            details=details,
        )

    return record


def _apply_one(
    platform: Platform, actor: StaffActor, command: Command, response: Response
) -> s.EntryOut:
    """Apply one command (through group commit when enabled) with its audit row, and
    answer with the entry: 201 when created now, 200 when it already existed (a
    retry)."""
    record = _audit(platform, actor)
    outcome: Outcome
    if platform.committer is not None:
        outcome = platform.committer.submit(
            command, then=lambda session, done: record(session, command, done)
        )
    else:
        # Commit even when the command failed: its refusal is remembered and audited,
        # and it may have expired an overdue hold on the way, which must stick.
        with platform.transaction() as session:
            outcome = platform.ledger.execute(session, [command])[0]
            record(session, command, outcome)
    if outcome.error is not None:
        raise outcome.error
    response.status_code = 201 if outcome.status == "created" else 200
    with platform.transaction() as session:
        row = platform.ledger.entry(session, outcome.entry_id_or_raise())
        return _entry_out(row, _Money(platform.ledger, session), outcome.status)


@router.get("/currencies", response_model=list[s.CurrencyOut])
def list_currencies(platform: PlatformDep, _: Reader) -> list[s.CurrencyOut]:
    with platform.transaction() as session:
        return [
            s.CurrencyOut(code=c.code, scale=c.scale, kind=c.kind, name=c.name)
            for c in platform.ledger.currencies(session).values()
        ]


@router.post("/accounts", status_code=201)
def create_account(
    body: s.AccountIn, platform: PlatformDep, response: Response, actor: Keeper
) -> s.LedgerAccountOut:
    """Open a ledger account. Repeating the same request returns the account (200);
    the same code with other attributes is a conflict (409)."""
    with platform.audited(
        actor_kind=actor.kind,
        actor_id=actor.id,
        action="ledger.account.open",
        target=body.code,
        details={"currency": body.currency, "type": body.type, "rule": body.rule},
    ) as session:
        money = _Money(platform.ledger, session)
        overdraft = parse_amount(
            body.overdraft_limit, scale=money.scale(body.currency), currency=body.currency
        )
        row, created = platform.ledger.create_account(
            session,
            code=body.code,
            name=body.name,
            currency=body.currency,
            type=body.type,
            rule=body.rule,
            overdraft_limit=overdraft,
        )
        response.status_code = 201 if created else 200
        return _account_out(row, money)


@router.get("/accounts")
def list_accounts(
    platform: PlatformDep,
    _: Reader,
    currency: str | None = None,
    type: AccountType | None = None,
    code_prefix: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[CountParam, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> s.AccountPage:
    with platform.transaction() as session:
        rows = platform.ledger.accounts(
            session, currency=currency, type=type, code_prefix=code_prefix, after=after, limit=limit
        )
        money = _Money(platform.ledger, session)
        return s.AccountPage(
            accounts=[_account_out(r, money) for r in rows],
            next_after=rows[-1].id if len(rows) == limit else None,
        )


def _ref(ref: str) -> AccountRef:
    """An id when ``ref`` spells one in ASCII digits, else a code."""
    account_id = parse_id(ref)
    return ref if account_id is None else account_id


@router.get("/accounts/{ref}")
def get_account(ref: str, platform: PlatformDep, _: Reader) -> s.LedgerAccountOut:
    """An account by id (digits) or code, with its posted, pending and available balance."""
    with platform.transaction() as session:
        row = platform.ledger.account(session, _ref(ref))
        return _account_out(row, _Money(platform.ledger, session))


@router.get("/accounts/{ref}/balance")
def get_balance_at(
    ref: str, platform: PlatformDep, _: Reader, at: Moment | None = None
) -> s.BalanceAtOut:
    """The posted balance as it stood at ``at`` (now if omitted)."""
    with platform.transaction() as session:
        when = at or platform.clock.now()
        if when.tzinfo is None:
            raise InvalidRequest("Give 'at' with a time zone, e.g. 2026-01-31T16:00:00+08:00.")
        account = platform.ledger.account(session, _ref(ref))
        posted = platform.ledger.balance_at(session, account.id, when)
        money = _Money(platform.ledger, session)
        return s.BalanceAtOut(
            account=account.code,
            currency=account.currency,
            at=when,
            posted=money.fmt(posted, account.currency),
        )


@router.get("/accounts/{ref}/statement")
def get_statement(
    ref: str,
    platform: PlatformDep,
    _: Reader,
    start: Moment,
    end: Moment,
    after: Annotated[CountParam, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> s.StatementOut:
    """Movements in [start, end) with opening, running and closing balances; page with
    ``after`` = the previous page's ``next_after``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidRequest("Give start and end with a time zone.")
    with platform.transaction() as session:
        st = platform.ledger.statement(
            session, _ref(ref), start=start, end=end, after=after, limit=limit
        )
        money = _Money(platform.ledger, session)
        c = st.account.currency
        sign = 1 if AccountType(st.account.type).debit_normal else -1
        return s.StatementOut(
            account=st.account.code,
            currency=c,
            start=st.start,
            end=st.end,
            opening_balance=money.fmt(st.opening, c),
            closing_balance=money.fmt(st.closing, c),
            lines=[
                s.StatementLineOut(
                    posting_id=line.posting_id,
                    entry_id=line.entry_id,
                    client_id=line.client_id,
                    kind=line.kind,
                    description=line.description,
                    at=line.created_at,
                    debit=money.fmt(line.amount, c) if line.amount > 0 else None,
                    credit=money.fmt(-line.amount, c) if line.amount < 0 else None,
                    balance=money.fmt(sign * line.balance_after, c),
                )
                for line in st.lines
            ],
            next_after=st.next_after,
        )


@router.post("/transfers", status_code=201)
def create_transfer(
    body: s.LedgerTransferIn,
    platform: PlatformDep,
    response: Response,
    actor: Keeper,
    idempotency_key: IdempotencyKey = None,
) -> s.EntryOut:
    """Move money between two accounts, or reserve it (``pending``) until posted or voided.
    Idempotent by client id: a retry returns the original entry (200)."""
    client_id = _client_id(body.client_id, idempotency_key)
    with platform.transaction() as session:
        command = _transfer(body, client_id, _Money(platform.ledger, session))
    return _apply_one(platform, actor, command, response)


@router.post("/entries", status_code=201)
def create_entry(
    body: s.EntryIn,
    platform: PlatformDep,
    response: Response,
    actor: Keeper,
    idempotency_key: IdempotencyKey = None,
) -> s.EntryOut:
    """A multi-leg entry whose postings sum to zero per currency (FX, fee splits)."""
    client_id = _client_id(body.client_id, idempotency_key)
    with platform.transaction() as session:
        command = _entry(body, client_id, _Money(platform.ledger, session))
    return _apply_one(platform, actor, command, response)


@router.get("/transfers/{entry_id}")
def get_transfer(entry_id: IdParam, platform: PlatformDep, _: Reader) -> s.EntryOut:
    with platform.transaction() as session:
        return _entry_out(
            platform.ledger.entry(session, entry_id), _Money(platform.ledger, session)
        )


@router.get("/transfers/by-client-id/{client_id}")
def get_transfer_by_client_id(client_id: str, platform: PlatformDep, _: Reader) -> s.EntryOut:
    with platform.transaction() as session:
        return _entry_out(
            platform.ledger.entry(session, client_id), _Money(platform.ledger, session)
        )


@router.post("/transfers/{entry_id}/post", status_code=201)
def post_pending(
    entry_id: IdParam,
    body: s.PostPendingIn,
    platform: PlatformDep,
    response: Response,
    actor: Keeper,
    idempotency_key: IdempotencyKey = None,
) -> s.EntryOut:
    """Complete a pending transfer in full, or in part (the rest is released)."""
    client_id = _client_id(body.client_id, idempotency_key)
    with platform.transaction() as session:
        amount = _post_amount(
            session, platform, _Money(platform.ledger, session), entry_id, body.amount
        )
    command = PostPending(
        client_id=client_id, pending=entry_id, amount=amount, description=body.description
    )
    return _apply_one(platform, actor, command, response)


@router.post("/transfers/{entry_id}/void", status_code=201)
def void_pending(
    entry_id: IdParam,
    body: s.ResolveIn,
    platform: PlatformDep,
    response: Response,
    actor: Keeper,
    idempotency_key: IdempotencyKey = None,
) -> s.EntryOut:
    """Cancel a pending transfer and release the reserved money."""
    client_id = _client_id(body.client_id, idempotency_key)
    command = VoidPending(client_id=client_id, pending=entry_id, description=body.description)
    return _apply_one(platform, actor, command, response)


@router.post("/transfers/{entry_id}/reverse", status_code=201)
def reverse(
    entry_id: IdParam,
    body: s.ResolveIn,
    platform: PlatformDep,
    response: Response,
    actor: Keeper,
    idempotency_key: IdempotencyKey = None,
) -> s.EntryOut:
    """Correct a posted entry with a new entry of opposite postings, linked to it."""
    client_id = _client_id(body.client_id, idempotency_key)
    command = Reverse(client_id=client_id, entry=entry_id, description=body.description)
    return _apply_one(platform, actor, command, response)


@router.post("/batches")
def create_batch(body: s.BatchIn, platform: PlatformDep, actor: Keeper) -> s.BatchOut:
    """Apply many commands in one transaction. Each item succeeds or fails on its
    own, except items joined by ``linked: true`` (with the next item), which all
    succeed or all fail. The answer lists each item's outcome in order."""
    with platform.transaction() as session:
        money = _Money(platform.ledger, session)
        commands: list[Command] = []
        for item in body.items:
            check_not_reserved(item.client_id)  # a malformed batch, refused whole
            if isinstance(item, s.BatchTransfer):
                commands.append(_transfer(item, item.client_id, money, item.linked))
            elif isinstance(item, s.BatchEntry):
                commands.append(_entry(item, item.client_id, money, item.linked))
            elif isinstance(item, s.BatchPost):
                amount = _post_amount(session, platform, money, item.pending, item.amount)
                commands.append(
                    PostPending(
                        client_id=item.client_id,
                        pending=item.pending,
                        amount=amount,
                        description=item.description,
                        linked=item.linked,
                    )
                )
            elif isinstance(item, s.BatchVoid):
                commands.append(
                    VoidPending(
                        client_id=item.client_id,
                        pending=item.pending,
                        description=item.description,
                        linked=item.linked,
                    )
                )
            else:
                commands.append(
                    Reverse(
                        client_id=item.client_id,
                        entry=item.entry,
                        description=item.description,
                        linked=item.linked,
                    )
                )
        outcomes = platform.ledger.execute(session, commands)
        record = _audit(platform, actor)
        for command, outcome in zip(commands, outcomes, strict=True):
            record(session, command, outcome)
    results = [
        s.BatchResultOut(
            client_id=o.client_id,
            status=o.status,
            entry_id=o.entry_id,
            error=s.ErrorOut(**o.error.to_dict()) if o.error is not None else None,
        )
        for o in outcomes
    ]
    failed = sum(1 for o in outcomes if o.status == "failed")
    return s.BatchOut(
        results=results, created=sum(1 for o in outcomes if o.status == "created"), failed=failed
    )


@router.get("/trial-balance")
def trial_balance(platform: PlatformDep, _: Reader) -> s.TrialBalanceOut:
    """Total debits and credits per currency over all accounts: equal when sound."""
    with platform.transaction() as session:
        money = _Money(platform.ledger, session)
        lines = []
        for row in platform.ledger.trial_balance(session):
            c = row.currency
            lines.append(
                s.TrialBalanceLineOut(
                    currency=c,
                    accounts=row.accounts,
                    debits_posted=money.fmt(row.debits_posted, c),
                    credits_posted=money.fmt(row.credits_posted, c),
                    debits_pending=money.fmt(row.debits_pending, c),
                    credits_pending=money.fmt(row.credits_pending, c),
                    balanced=row.debits_posted == row.credits_posted
                    and row.debits_pending == row.credits_pending,
                )
            )
        return s.TrialBalanceOut(balanced=all(x.balanced for x in lines), currencies=lines)
