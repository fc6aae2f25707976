"""Direct-bank use cases: customer registration, e-accounts, transfers (staff in
:mod:`rongbank.accounts.staff`).

Each e-account is one ledger account (a liability: the customer's deposit is what
the bank owes). Class limits are checked in the same transaction as the ledger
movement, against usage counters that the same transaction updates, so that two
concurrent payments cannot both slip under a limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank import outbox, review_hold
from rongbank.accounts.errors import (
    AccountBalanceNotZero,
    AccountFrozen,
    AccountNotActive,
    AccountNumberInvalid,
    AvailableBalanceExceeded,
    CustomerAlreadyRegistered,
    CustomerNotFound,
    EAccountNotFound,
    FreezeReasonRequired,
    NotYourAccount,
    SameEAccount,
)
from rongbank.accounts.events import CustomerRegistered, TransferMade
from rongbank.accounts.identity import parse_credit_code, parse_mobile, parse_resident_id
from rongbank.accounts.rules import (
    ClassLimits,
    Usage,
    account_number,
    check_inflow,
    check_outflow,
    inflow_room,
    luhn_valid,
)
from rongbank.accounts.staff import StaffMembers
from rongbank.auth.reset import Holder
from rongbank.auth.service import AuthService, PrincipalKind
from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.db import pipeline, run, run_later, statement, text_array
from rongbank.ledger.client_ids import Namespace, RequestKey, request_id
from rongbank.ledger.repository import ACCOUNT_COLUMNS, AccountRow
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import LedgerService, Transfer, balance_of
from rongbank.money import format_amount
from rongbank.pii import PersonalData, customer_columns, for_this_process, opened


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    kind: str
    name: str
    mobile: str
    manager_id: int | None


@dataclass(frozen=True, slots=True)
class EAccount:
    id: int
    number: str
    customer_id: int
    account_class: int
    currency: str
    ledger_account_id: int
    status: str
    status_reason: str


@dataclass(frozen=True, slots=True)
class LimitsRead:
    """What a transfer's class limits are checked against, per account number: today's
    and this year's (outflow, inflow) usage, and the ledger balance now."""

    usage: dict[str, tuple[Usage, Usage]]
    balance: dict[str, int]


@dataclass(frozen=True, slots=True)
class TransferDone:
    entry_id: int
    status: str
    """"created", "held" (for the fraud engine's review: a pending transfer), or
    "exists" for a retry of the same request."""


class MadeCheck:
    """Whether a customer's transfer is made (``AccountsService.transfer_made``),
    remembering the answer with the transaction it was asked in: only a request
    whose idempotency key is claimed in that transaction may hand it to
    ``AccountsService.transfer`` (``made``)."""

    def __init__(self, accounts: AccountsService, customer_id: int, client_id: str) -> None:
        self._accounts, self._customer_id, self._client_id = accounts, customer_id, client_id
        self._asked: tuple[Session, bool] | None = None
        self._sent: tuple[Session, Callable[[], bool]] | None = None

    def ask(self, session: Session) -> None:
        """Send the question now, in a pipeline (``Platform.authorised`` asks it in the
        round trip of the idempotency key's claim); the call reads its answer."""
        client_id = request_id(Namespace.TRANSFER, self._customer_id, self._client_id)
        self._sent = (session, self._accounts.ledger.has_entry_later(session, client_id))

    def __call__(self, session: Session) -> bool:
        if self._sent is not None and self._sent[0] is session:
            made = self._sent[1]()
        else:
            made = self._accounts.transfer_made(
                session, customer_id=self._customer_id, client_id=self._client_id
            )
        self._sent = None
        self._asked = (session, made)
        return made

    def answer(self, session: Session) -> bool | None:
        """The answer asked in ``session``'s transaction (None: not asked there)."""
        if self._asked is None or self._asked[0] is not session:
            return None
        return self._asked[1]


def _check_open(account: EAccount) -> None:
    """Money moves only through an active account (a frozen one says so)."""
    if account.status == "frozen":
        raise AccountFrozen(account=account.number[-4:])
    if account.status != "active":
        raise AccountNotActive(account=account.number[-4:], status=account.status)


_ACCOUNT_COLUMNS = (
    "id, number, customer_id, class, currency, ledger_account_id, status, status_reason"
)
_ACCOUNT = statement(f"SELECT {_ACCOUNT_COLUMNS} FROM e_account WHERE number = :n")  # noqa: S608
_LOCK_ACCOUNT = statement(
    f"SELECT {_ACCOUNT_COLUMNS} FROM e_account WHERE number = :n FOR UPDATE"  # noqa: S608
)
_LOCK_ACCOUNTS = statement(
    f"SELECT {_ACCOUNT_COLUMNS} FROM e_account WHERE number = ANY(CAST(:ns AS text[])) "  # noqa: S608
    "ORDER BY id FOR UPDATE"  # locked as sorted: in id order
)
Flow = Literal["inflow", "outflow"]
_USAGE = {
    column: statement(
        f"SELECT coalesce(sum({column}) FILTER (WHERE day = :d), 0), "  # noqa: S608
        f"coalesce(sum({column}), 0) FROM e_account_usage "
        "WHERE e_account_id = :a AND day >= :y AND day <= :d"
    )
    for column in ("inflow", "outflow")
}
_LIMITS_READ = statement(
    # Both accounts' usage of their class limits and their ledger balances: what
    # ``transfer`` checks, read after ``_LOCK_ACCOUNTS`` in its round trip (a statement
    # of its own: in READ COMMITTED it sees what the lock waited for, one statement
    # with the lock would not).
    "SELECT e.number, "  # noqa: S608 (the ledger's column names)
    "coalesce(sum(u.outflow) FILTER (WHERE u.day = :d), 0), coalesce(sum(u.outflow), 0), "
    "coalesce(sum(u.inflow) FILTER (WHERE u.day = :d), 0), coalesce(sum(u.inflow), 0), "
    + ", ".join(f"l.{c.strip()}" for c in ACCOUNT_COLUMNS.split(","))
    + " FROM e_account e JOIN ledger_account l ON l.id = e.ledger_account_id "
    "LEFT JOIN e_account_usage u ON u.e_account_id = e.id AND u.day >= :y AND u.day <= :d "
    "WHERE e.number = ANY(CAST(:ns AS text[])) GROUP BY e.id, l.id"
)
_COUNT_PAIR = statement(
    # A transfer's two counts in one statement (the payer's and the payee's rows, in
    # that order, as two statements took them).
    "INSERT INTO e_account_usage (e_account_id, day, outflow, inflow) "
    "VALUES (:payer, :d, :x, 0), (:payee, :d, 0, :x) ON CONFLICT (e_account_id, day) "
    "DO UPDATE SET outflow = e_account_usage.outflow + excluded.outflow, "
    "inflow = e_account_usage.inflow + excluded.inflow"
)
_COUNT = {
    column: statement(
        f"INSERT INTO e_account_usage (e_account_id, day, {column}) "  # noqa: S608
        f"VALUES (:a, :d, :x) ON CONFLICT (e_account_id, day) "
        f"DO UPDATE SET {column} = e_account_usage.{column} + excluded.{column}"
    )
    for column in ("inflow", "outflow")
}


class AccountsService(StaffMembers):
    def __init__(
        self,
        ledger: LedgerService,
        clock: Clock,
        *,
        auth: AuthService,
        limits: dict[int, ClassLimits],
        number_prefix: str = "628888",
        pii: PersonalData | None = None,
    ) -> None:
        self.pii = pii or for_this_process()
        self.ledger = ledger
        self.clock = clock
        self.auth = auth
        self.limits = limits
        self.number_prefix = number_prefix

    def business_day(self) -> date:
        return self.clock.now().astimezone(BUSINESS_TIME_ZONE).date()

    def business_day_bounds(self) -> tuple[datetime, datetime]:
        """Today's Beijing business day: [its midnight, the next midnight), as daily
        limits count it."""
        day = self.business_day()
        start = datetime(day.year, day.month, day.day, tzinfo=BUSINESS_TIME_ZONE)
        return start, start + timedelta(days=1)

    # -- account managers --------------------------------------------------------

    def _new_customer_id_and_manager(self, session: Session) -> tuple[int, int | None]:
        """The new customer's id, taken first so that their numbers can be sealed to
        their row, and their manager, in one statement."""
        # One registration at a time picks a manager, so that a burst of sign-ups is
        # spread evenly instead of all landing on whoever was least loaded at the start.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('assign_manager'))"))
        row = session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('customer', 'id')), (SELECT s.id "
                "FROM staff s LEFT JOIN customer c ON c.manager_id = s.id "
                "WHERE s.role = 'account_manager' AND s.active "
                "GROUP BY s.id ORDER BY count(c.id), s.id LIMIT 1)"
            )
        ).one()
        return int(row[0]), None if row[1] is None else int(row[1])

    def reassign_manager(self, session: Session, *, customer_id: int, manager_id: int) -> None:
        updated = session.execute(
            text(
                "UPDATE customer SET manager_id = s.id FROM staff s "
                "WHERE customer.id = :c AND s.id = :m AND s.role = 'account_manager' AND s.active"
            ),
            {"c": customer_id, "m": manager_id},
        ).rowcount  # type: ignore[attr-defined]
        if not updated:
            raise CustomerNotFound(customer_id=customer_id, manager_id=manager_id)

    # -- customers -----------------------------------------------------------------

    def register_person(
        self, session: Session, *, name: str, mobile: str, resident_id: str
    ) -> tuple[Customer, EAccount]:
        """Register a person and open their class II e-account (the class a bank may
        open remotely; class I needs the customer in person)."""
        identity = parse_resident_id(resident_id, today=self.business_day())
        customer = self._insert_customer(
            session,
            kind="person",
            name=name.strip(),
            mobile=parse_mobile(mobile),
            resident_id=identity.number,
            birth_date=identity.birth_date,
            sex=identity.sex.value,
        )
        return customer, self.open_account(session, customer_id=customer.id, account_class=2)

    def register_enterprise(
        self,
        session: Session,
        *,
        name: str,
        mobile: str,
        credit_code: str,
        legal_rep_name: str,
        legal_rep_id: str,
    ) -> tuple[Customer, EAccount]:
        code = parse_credit_code(credit_code)
        representative = parse_resident_id(legal_rep_id, today=self.business_day(), minimum_age=18)
        customer = self._insert_customer(
            session,
            kind="enterprise",
            name=name.strip(),
            mobile=parse_mobile(mobile),
            credit_code=code.code,
            legal_rep_name=legal_rep_name.strip(),
            legal_rep_id=representative.number,
        )
        return customer, self.open_account(session, customer_id=customer.id, account_class=1)

    def _insert_customer(self, session: Session, **fields: object) -> Customer:
        customer_id, fields["manager_id"] = self._new_customer_id_and_manager(session)
        fields["id"] = customer_id
        fields["created_at"] = self.clock.now()
        mobile = str(fields["mobile"])
        # The numbers sealed to this row, hashed; the plaintext columns stay empty.
        fields |= customer_columns(self.pii, customer_id, fields)
        columns = ", ".join(fields)
        values = ", ".join(f":{k}" for k in fields)
        row = session.execute(
            text(
                f"INSERT INTO customer ({columns}) OVERRIDING SYSTEM VALUE "  # noqa: S608
                f"VALUES ({values}) ON CONFLICT DO NOTHING RETURNING id, kind, name, manager_id"
            ),
            fields,
        ).first()
        if row is None:
            raise CustomerAlreadyRegistered()
        customer = Customer(int(row[0]), str(row[1]), str(row[2]), mobile, row[3])
        legal_rep = fields.get("legal_rep_name")
        outbox.record(
            session,
            CustomerRegistered(
                occurred_at=self.clock.now(),
                customer_id=customer.id,
                kind=customer.kind,
                customer_name=customer.name,
                legal_rep_name=None if legal_rep is None else str(legal_rep),
            ),
        )
        return customer

    def customer_names(self, session: Session, customer_ids: list[int]) -> dict[int, str]:
        rows = session.execute(
            text("SELECT id, name FROM customer WHERE id = ANY(:ids)"), {"ids": customer_ids}
        ).all()
        return {int(r[0]): str(r[1]) for r in rows}

    def managers(self, session: Session) -> list[tuple[int, str]]:
        rows = session.execute(
            text("SELECT id, name FROM staff WHERE role = 'account_manager' AND active ORDER BY id")
        ).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    def customer(self, session: Session, customer_id: int) -> Customer:
        row = session.execute(
            text(
                "SELECT id, kind, name, mobile, mobile_enc, manager_id FROM customer WHERE id = :id"
            ),
            {"id": customer_id},
        ).first()
        if row is None:
            raise CustomerNotFound(customer_id=customer_id)
        mobile = opened(self.pii, customer_id, "mobile", row[3], row[4])
        return Customer(row[0], row[1], row[2], str(mobile), row[5])

    # -- who is who, for a password reset (``rongbank.auth.reset.Holders``) ----------

    def reset_holder(self, session: Session, *, mobile: str, identity_number: str) -> Holder | None:
        """The customer whose registered mobile (normalised) and identity number (a
        person's own, an enterprise's legal representative's) these are, if they have
        a login. Raises for an identity number that cannot be one (its check digit):
        that says nothing about who banks here."""
        number = parse_resident_id(identity_number, today=self.business_day(), minimum_age=0)
        row = session.execute(
            text(
                "SELECT id FROM customer WHERE mobile_hash = :mobile "
                "AND coalesce(resident_id_hash, legal_rep_id_hash) = :number"
            ),
            {
                "mobile": self.pii.hash("mobile", mobile),
                "number": self.pii.hash("id", number.number),
            },
        ).first()
        return None if row is None else self._holder(session, int(row[0]))

    def holder(self, session: Session, customer_id: int) -> Holder:
        holder = self._holder(session, customer_id)
        if holder is None:
            raise CustomerNotFound(customer_id=customer_id)
        return holder

    def _holder(self, session: Session, customer_id: int) -> Holder | None:
        row = session.execute(
            text(
                "SELECT mobile, mobile_enc, resident_id, resident_id_enc, legal_rep_id, "
                "legal_rep_id_enc FROM customer WHERE id = :id"
            ),
            {"id": customer_id},
        ).first()
        login = self.auth.login_name_of(
            session, kind=PrincipalKind.CUSTOMER, principal_id=customer_id
        )
        if row is None or not login:
            return None
        mobile = str(opened(self.pii, customer_id, "mobile", row[0], row[1]))
        number = opened(self.pii, customer_id, "resident_id", row[2], row[3]) or opened(
            self.pii, customer_id, "legal_rep_id", row[4], row[5]
        )
        return Holder(customer_id, mobile, personal=(mobile, str(number)))

    # -- e-accounts ----------------------------------------------------------------

    def open_account(self, session: Session, *, customer_id: int, account_class: int) -> EAccount:
        if account_class not in self.limits:
            raise ValueError(f"no limits configured for class {account_class}")
        sequence = session.execute(text("SELECT nextval('e_account_number_seq')")).scalar_one()
        number = account_number(self.number_prefix, int(sequence))
        ledger_row, _ = self.ledger.create_account(
            session,
            code=f"dep:{number}",
            name=f"deposit of customer {customer_id}",
            currency="CNY",
            type=AccountType.LIABILITY,
            rule=BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS,
        )
        row = session.execute(
            text(
                "INSERT INTO e_account (number, customer_id, class, currency, ledger_account_id, "  # noqa: S608
                "status, opened_at) VALUES (:n, :c, :k, 'CNY', :l, 'active', :at) "
                f"RETURNING {_ACCOUNT_COLUMNS}"
            ),
            {
                "n": number,
                "c": customer_id,
                "k": account_class,
                "l": ledger_row.id,
                "at": self.clock.now(),
            },
        ).one()
        return EAccount(*row)

    def accounts_of(self, session: Session, customer_id: int) -> list[tuple[EAccount, int]]:
        """The customer's accounts with their available balance in fen."""
        rows = session.execute(
            text(f"SELECT {_ACCOUNT_COLUMNS} FROM e_account WHERE customer_id = :c ORDER BY id"),  # noqa: S608
            {"c": customer_id},
        ).all()
        return [(a, self.available(session, a)) for a in (EAccount(*row) for row in rows)]

    def available(self, session: Session, account: EAccount) -> int:
        """What the customer can spend now, in fen."""
        return balance_of(self.ledger.account(session, account.ledger_account_id)).available

    def account(self, session: Session, number: str, *, lock: bool = False) -> EAccount:
        if not luhn_valid(number) or len(number) != 19:
            raise AccountNumberInvalid()
        row = run(session, _LOCK_ACCOUNT if lock else _ACCOUNT, {"n": number}).fetchone()
        if row is None:
            raise EAccountNotFound()
        return EAccount(*row)

    def own_account(
        self, session: Session, customer_id: int, number: str, *, lock: bool = False
    ) -> EAccount:
        """The customer's own account ``number``; :class:`NotYourAccount` for another's,
        for none, and for a malformed number alike (nothing says which it was)."""
        try:
            account = self.account(session, number, lock=lock)
        except (EAccountNotFound, AccountNumberInvalid):
            raise NotYourAccount() from None
        if account.customer_id != customer_id:
            raise NotYourAccount()
        return account

    def own_usable_account(self, session: Session, customer_id: int, number: str) -> EAccount:
        """:meth:`own_account`, locked, refused when frozen or no longer active (what
        buying a product or opening a position from it needs)."""
        account = self.own_account(session, customer_id, number, lock=True)
        if account.status == "frozen":
            raise AccountFrozen(account=account.number[-4:])
        if account.status != "active":
            raise AccountNotActive(account=account.number[-4:], status=account.status)
        return account

    def set_status(self, session: Session, *, number: str, status: str, reason: str) -> EAccount:
        """Freeze (``status="frozen"``, with a reason) or unfreeze (``"active"``) an
        account; staff only."""
        if status not in ("active", "frozen"):
            raise ValueError(f"unknown account status {status!r}")
        if status == "frozen" and not reason.strip():
            raise FreezeReasonRequired()
        account = self.account(session, number, lock=True)
        if account.status == "closed":
            raise AccountNotActive(status=account.status)
        row = session.execute(
            text(
                "UPDATE e_account SET status = :s, status_reason = :r WHERE id = :id "  # noqa: S608
                f"RETURNING {_ACCOUNT_COLUMNS}"
            ),
            {"s": status, "r": reason.strip(), "id": account.id},
        ).one()
        # The ledger holds the freeze too, so that no path debits the account, the
        # back office's ledger API included, but with a stated authority.
        self.ledger.set_frozen(session, account.ledger_account_id, frozen=status == "frozen")
        return EAccount(*row)

    def close(self, session: Session, *, number: str) -> EAccount:
        """Close an account; only at a zero balance with nothing reserved."""
        account = self.account(session, number, lock=True)
        if account.status == "closed":
            return account
        ledger_row = self.ledger.account(session, account.ledger_account_id)
        balance = balance_of(ledger_row)
        if balance.posted != 0 or balance.pending_debits or balance.pending_credits:
            raise AccountBalanceNotZero(balance=balance.posted)
        row = session.execute(
            text(
                "UPDATE e_account SET status = 'closed', closed_at = :at WHERE id = :id "  # noqa: S608
                f"RETURNING {_ACCOUNT_COLUMNS}"
            ),
            {"at": self.clock.now(), "id": account.id},
        ).one()
        return EAccount(*row)

    # -- money -----------------------------------------------------------------------

    def transfer(
        self,
        session: Session,
        *,
        customer_id: int,
        source: str,
        destination: str,
        amount: int,
        client_id: RequestKey,
        description: str = "",
        made: bool | None = None,
    ) -> TransferDone:
        """Pay from one of the customer's accounts into any account, within the
        class limits of both, exactly once per ``client_id`` (the customer's own key,
        or a card's).

        ``made``: whether the ledger holds this transfer already, as the caller asked
        it in this transaction after claiming the request's idempotency key (a
        concurrent request with the key waits on the claim until this one ends, so
        the answer stands; ``MadeCheck``); None: asked here, once both accounts
        are locked (which a concurrent use of a card's or a schedule's key waits for)."""
        if source == destination:
            raise SameEAccount()
        payer, payee, read = self._lock_pair(
            session, customer_id, source, destination, limits=made is not True
        )
        command = Transfer(
            client_id=request_id(Namespace.TRANSFER, customer_id, client_id),
            debit_account=payer.ledger_account_id,
            credit_account=payee.ledger_account_id,
            amount=amount,
            currency=payer.currency,
            description=description,
            metadata={"payer": payer.number, "payee": payee.number},
        )
        if made is None:
            made = self.ledger.has_entry(session, command.client_id)
        if made:
            # A retry: the ledger answers it (the original entry, or a conflict if
            # the content differs); limits and states were checked the first time.
            # One held for review was made pending: asked again as it was made.
            if self.ledger.entry(session, command.client_id).kind == "pending":
                command = replace(command, pending=True)
            outcome = self.ledger.transfer(session, command)
            return TransferDone(outcome.entry_id_or_raise(), outcome.status)
        for account in (payer, payee):
            _check_open(account)
        limited = not self._between_own_accounts(payer, payee)
        if limited:
            assert read is not None
            self._check_read_limits(payer, payee, amount, read)
        hold = review_hold.take(session)
        if hold is not None:  # the fraud engine's review: reserved, not moved
            command = replace(command, pending=True)
        outcome = self.ledger.transfer(session, command)
        entry_id = outcome.entry_id_or_raise()
        # The counts and the event need no answer: they go with the next round trip.
        if limited:
            self._count(session, payer, payee, amount)
        if hold is None and outcome.status == "created":
            self._announce(session, entry_id, payer, payee, amount)
        if hold is not None:
            if outcome.status == "created":
                hold.held(session, command.client_id, entry_id)
            return TransferDone(entry_id, "held" if outcome.status == "created" else outcome.status)
        return TransferDone(entry_id, outcome.status)

    def held_transfer_released(self, session: Session, entry_id: int) -> None:
        """A transfer held for review (made pending by :meth:`transfer`) was released:
        its money moves now, so it is announced now, as any transfer is when it moves
        (the payee hears of it). Its key is the held entry's, so once."""
        entry = self.ledger.entry(session, entry_id)
        payer = self.account(session, str(entry.metadata["payer"]))
        payee = self.account(session, str(entry.metadata["payee"]))
        amount = entry.hold.amount if entry.hold is not None else 0
        self._announce(session, entry_id, payer, payee, amount)

    def _announce(
        self, session: Session, entry_id: int, payer: EAccount, payee: EAccount, amount: int
    ) -> None:
        outbox.record(
            session,
            TransferMade(
                entry_id=entry_id,
                payer_customer_id=payer.customer_id,
                payer_account_id=payer.id,
                payee_customer_id=payee.customer_id,
                payee_account_id=payee.id,
                payee_account_tail=payee.number[-4:],
                amount=amount,
                currency=payee.currency,
                occurred_at=self.clock.now(),
            ),
        )

    def review_transfer(
        self, session: Session, *, customer_id: int, source: str, destination: str, amount: int
    ) -> tuple[EAccount, EAccount]:
        """The payer's and the payee's accounts of a transfer the customer is about to
        confirm, or what :meth:`transfer` would refuse it for: the same account,
        someone else's, an account not open, the class limits, and more than the
        payer's available balance now. Writes and locks nothing: :meth:`transfer`
        checks it all again (and the ledger the balance) when the money moves."""
        if source == destination:
            raise SameEAccount()
        payer = self.own_account(session, customer_id, source)
        payee = self.account(session, destination)
        for account in (payer, payee):
            _check_open(account)
        available = self.available(session, payer)
        if amount > available:
            raise AvailableBalanceExceeded(available=format_amount(available, scale=2))
        if not self._between_own_accounts(payer, payee):
            self._check_limits(session, payer, payee, amount)
        return payer, payee

    def transfer_made(self, session: Session, *, customer_id: int, client_id: RequestKey) -> bool:
        """Whether the customer already made the transfer with this client id."""
        return self.ledger.has_entry(
            session, request_id(Namespace.TRANSFER, customer_id, client_id)
        )

    def made_check(self, *, customer_id: int, client_id: str) -> MadeCheck:
        """``Platform.authorised``'s ``already_done`` for a customer's transfer, which
        keeps its answer for :meth:`transfer`'s ``made`` (one ledger read, not two)."""
        return MadeCheck(self, customer_id, client_id)

    def _lock_pair(
        self, session: Session, customer_id: int, source: str, destination: str, *, limits: bool
    ) -> tuple[EAccount, EAccount, LimitsRead | None]:
        """The customer's ``source`` account and the ``destination``, both locked in
        one statement, in id order (the order of every lock on two accounts, so no
        deadlock); refused as reading them one by one would (a source not theirs,
        then a destination malformed or unknown). With ``limits``, what their class
        limits are checked against too, read once they are locked, in the same round
        trip."""
        if not luhn_valid(source) or len(source) != 19:
            raise AccountNumberInvalid()
        numbers = [source, destination]
        listed = text_array(numbers)
        with pipeline(session):
            locked = run(session, _LOCK_ACCOUNTS, {"ns": listed})
            if limits:
                day = self.business_day()
                params = {"ns": listed, "d": day, "y": date(day.year, 1, 1)}
                usage = run(session, _LIMITS_READ, params)
        rows = locked.fetchall()
        read = None
        if limits:
            read = LimitsRead({}, {})
            for number, out_day, out_year, in_day, in_year, *account in usage.fetchall():
                # sum(bigint) is numeric: ints as ``_usage`` makes them
                read.usage[number] = (
                    Usage(int(out_day), int(out_year)),
                    Usage(int(in_day), int(in_year)),
                )
                read.balance[number] = balance_of(AccountRow(*account)).posted
        found = {account.number: account for account in (EAccount(*row) for row in rows)}
        payer = found.get(source)
        if payer is None or payer.customer_id != customer_id:
            raise NotYourAccount()
        if not luhn_valid(destination) or len(destination) != 19:
            raise AccountNumberInvalid()
        payee = found.get(destination)
        if payee is None:
            raise EAccountNotFound()
        return payer, payee, read

    @staticmethod
    def _between_own_accounts(payer: EAccount, payee: EAccount) -> bool:
        """Money between a customer's own class I account and their other accounts
        is not limited (the bound-account rule of 银发〔2018〕16号)."""
        return payer.customer_id == payee.customer_id and 1 in (
            payer.account_class,
            payee.account_class,
        )

    def _check_limits(
        self, session: Session, payer: EAccount, payee: EAccount, amount: int
    ) -> None:
        """Refuse before anything is written if either side's class forbids it."""
        self.check_outflow_limit(session, payer, amount=amount)
        self.check_inflow_limit(session, payee, amount=amount)

    def _check_read_limits(
        self, payer: EAccount, payee: EAccount, amount: int, read: LimitsRead
    ) -> None:
        """:meth:`_check_limits` on what :meth:`_lock_pair` read."""
        check_outflow(self.limits[payer.account_class], read.usage[payer.number][0], amount)
        check_inflow(
            self.limits[payee.account_class],
            read.usage[payee.number][1],
            amount,
            read.balance[payee.number] + amount,
        )

    def _count(self, session: Session, payer: EAccount, payee: EAccount, amount: int) -> None:
        """Both sides' usage counted (:meth:`count_usage`), in one statement."""
        params = {"payer": payer.id, "payee": payee.id, "d": self.business_day(), "x": amount}
        run_later(session, _COUNT_PAIR, params)

    def check_outflow_limit(self, session: Session, account: EAccount, *, amount: int) -> None:
        """Refuse ``amount`` more out of ``account`` today if it would pass its class's
        daily or yearly outflow limit (transfers, and merchant payments too)."""
        self.outflow_check(session, account, amount=amount)()

    def outflow_check(
        self, session: Session, account: EAccount, *, amount: int
    ) -> Callable[[], None]:
        """:meth:`check_outflow_limit` in two steps, for a pipeline: the read is sent
        now, and the function returned checks its answer."""
        usage = self._usage_later(session, account, self.business_day(), "outflow")
        return lambda: check_outflow(self.limits[account.account_class], usage(), amount)

    def check_inflow_limit(self, session: Session, account: EAccount, *, amount: int) -> None:
        """Refuse ``amount`` more into ``account`` today if it would pass its class's
        daily or yearly inflow limit or balance cap (transfers in, e-Pay refunds)."""
        balance_now = balance_of(self.ledger.account(session, account.ledger_account_id)).posted
        check_inflow(
            self.limits[account.account_class],
            self._usage(session, account, self.business_day(), "inflow"),
            amount,
            balance_now + amount,
        )

    def inflow_room(self, session: Session, account: EAccount) -> int | None:
        """How much more may come into ``account`` today within its class's limits
        (None: no limit): what an e-Pay settlement may pay into it now."""
        balance_now = balance_of(self.ledger.account(session, account.ledger_account_id)).posted
        return inflow_room(
            self.limits[account.account_class],
            self._usage(session, account, self.business_day(), "inflow"),
            balance_now,
        )

    def count_usage(
        self,
        session: Session,
        account: EAccount,
        *,
        column: Flow,
        amount: int,
    ) -> None:
        """Count ``amount`` towards today's usage of the account's class limits; the
        caller holds the account's lock (so that two payments cannot both slip under)."""
        run_later(session, _COUNT[column], {"a": account.id, "d": self.business_day(), "x": amount})

    @classmethod
    def _usage(cls, session: Session, account: EAccount, day: date, column: Flow) -> Usage:
        return cls._usage_later(session, account, day, column)()

    @staticmethod
    def _usage_later(
        session: Session, account: EAccount, day: date, column: Flow
    ) -> Callable[[], Usage]:
        cursor = run(
            session, _USAGE[column], {"a": account.id, "d": day, "y": date(day.year, 1, 1)}
        )

        def usage() -> Usage:
            row = cursor.fetchone()
            assert row is not None
            return Usage(day=int(row[0]), year=int(row[1]))

        return usage
