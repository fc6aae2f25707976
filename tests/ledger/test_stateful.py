"""LedgerService driven by random sequences of commands, checked against a model.

The model is deliberately naive: per account four totals and the balance rule,
holds and entries in dictionaries. After every step the database must agree with
it, and the ledger's own invariants must hold. Each example runs in one
transaction on its own connection, rolled back at the end.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection, Engine, RootTransaction, text
from sqlalchemy.orm import Session

from rongbank.clock import FrozenClock
from rongbank.ledger.rules import AccountType, BalanceRule
from rongbank.ledger.service import (
    Command,
    LedgerService,
    MultiLegEntry,
    Outcome,
    PostingSpec,
    PostPending,
    Reverse,
    Transfer,
    VoidPending,
)
from tests.ledger.factories import create_account

amounts = st.integers(min_value=1, max_value=5_000)


@dataclass
class ModelAccount:
    id: int
    currency: str
    rule: BalanceRule
    overdraft: int
    dp: int = 0
    cp: int = 0
    dpe: int = 0
    cpe: int = 0

    def violation(self) -> str | None:
        if (
            self.rule is BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS
            and self.dp + self.dpe > self.cp + self.overdraft
        ):
            return "insufficient_funds"
        if (
            self.rule is BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS
            and self.cp + self.cpe > self.dp + self.overdraft
        ):
            return "exceeds_debits"
        return None


@dataclass
class ModelHold:
    debit: int
    credit: int
    amount: int
    expires_at: datetime | None
    state: str = "pending"


@dataclass
class ModelEntry:
    kind: str
    legs: list[tuple[int, int]] = field(default_factory=list)  # posted (account, amount)
    hold: ModelHold | None = None  # the reservation a pending transfer makes
    reversed: bool = False


class Refused(Exception):
    """The model's prediction that a command fails, with the codes it may fail with."""

    def __init__(self, *codes: str) -> None:
        super().__init__(codes)
        self.codes = set(codes)


class Model:
    def __init__(self) -> None:
        self.accounts: dict[int, ModelAccount] = {}
        self.holds: dict[int, ModelHold] = {}
        self.entries: dict[int, ModelEntry] = {}

    def copy(self) -> Model:
        other = Model()
        other.accounts = {k: dataclasses.replace(v) for k, v in self.accounts.items()}
        other.holds = {k: dataclasses.replace(v) for k, v in self.holds.items()}
        other.entries = {
            k: dataclasses.replace(v, legs=list(v.legs)) for k, v in self.entries.items()
        }
        return other

    def move(
        self,
        legs: list[tuple[int, int]],
        *,
        pending: bool = False,
        release: ModelHold | None = None,
    ) -> None:
        """Apply legs, or raise Refused and change nothing."""
        new: dict[int, ModelAccount] = {}

        def state(account_id: int) -> ModelAccount:
            if account_id not in new:
                new[account_id] = dataclasses.replace(self.accounts[account_id])
            return new[account_id]

        if release is not None:
            state(release.debit).dpe -= release.amount
            state(release.credit).cpe -= release.amount
        for account_id, amount in legs:
            account = state(account_id)
            if pending:
                if amount > 0:
                    account.dpe += amount
                else:
                    account.cpe -= amount
            elif amount > 0:
                account.dp += amount
            else:
                account.cp -= amount
        violations = {v for a in new.values() if (v := a.violation())}
        if violations:
            raise Refused(*violations)
        self.accounts.update(new)

    def transfer(self, command: Transfer, now: datetime) -> ModelEntry:
        assert isinstance(command.debit_account, int)
        assert isinstance(command.credit_account, int)
        debit, credit = command.debit_account, command.credit_account
        if debit == credit:
            raise Refused("same_account")
        if self.accounts[credit].currency != command.currency:
            raise Refused("currency_mismatch")
        legs = [(debit, command.amount), (credit, -command.amount)]
        self.move(legs, pending=command.pending)
        if command.pending:
            expires = now + command.timeout if command.timeout else None
            return ModelEntry("pending", hold=ModelHold(debit, credit, command.amount, expires))
        return ModelEntry("transfer", legs)

    def post(self, command: PostPending, now: datetime) -> ModelEntry:
        assert isinstance(command.pending, int)
        hold = self.holds[command.pending]
        if hold.state == "expired":  # by the expiry job or an earlier post: says so
            raise Refused("pending_transfer_expired")
        if hold.state != "pending":
            raise Refused("pending_transfer_already_resolved")
        if hold.expires_at is not None and hold.expires_at <= now:
            self.move([], release=hold)
            hold.state = "expired"
            raise Refused("pending_transfer_expired")
        amount = hold.amount if command.amount is None else command.amount
        if amount > hold.amount:
            raise Refused("post_exceeds_pending")
        legs = [(hold.debit, amount), (hold.credit, -amount)]
        self.move(legs, release=hold)
        hold.state = "posted"
        return ModelEntry("post_pending", legs)

    def void(self, command: VoidPending) -> ModelEntry:
        assert isinstance(command.pending, int)
        hold = self.holds[command.pending]
        if hold.state != "pending":
            raise Refused("pending_transfer_already_resolved")
        self.move([], release=hold)
        hold.state = "voided"
        return ModelEntry("void_pending")

    def reverse(self, command: Reverse) -> ModelEntry:
        assert isinstance(command.entry, int)
        target = self.entries[command.entry]
        if target.kind not in ("transfer", "post_pending", "entry"):
            raise Refused("entry_not_reversible")
        if target.reversed:
            raise Refused("entry_already_reversed")
        legs = [(account_id, -amount) for account_id, amount in target.legs]
        self.move(legs)
        target.reversed = True
        return ModelEntry("reversal", legs)

    def apply(self, command: Command, now: datetime) -> ModelEntry:
        if isinstance(command, Transfer):
            return self.transfer(command, now)
        if isinstance(command, PostPending):
            return self.post(command, now)
        if isinstance(command, VoidPending):
            return self.void(command)
        if isinstance(command, MultiLegEntry):
            return self.entry(command)
        assert isinstance(command, Reverse)
        return self.reverse(command)

    def entry(self, command: MultiLegEntry) -> ModelEntry:
        legs = [(int(p.account), p.amount) for p in command.postings]
        if any(amount == 0 for _, amount in legs):
            raise Refused("invalid_entry")
        self.move(legs)
        return ModelEntry("entry", legs)


ACCOUNT_KINDS = {
    # kind: (type, rule, overdraft limit)
    "deposit": (AccountType.LIABILITY, BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS, 0),
    "overdraft": (AccountType.LIABILITY, BalanceRule.DEBITS_MUST_NOT_EXCEED_CREDITS, 2_000),
    "loan": (AccountType.ASSET, BalanceRule.CREDITS_MUST_NOT_EXCEED_DEBITS, 0),
    "suspense": (AccountType.LIABILITY, BalanceRule.NONE, 0),
}
currencies = st.sampled_from(["CNY", "USD"])
timeouts = st.none() | st.integers(min_value=1, max_value=60).map(lambda m: timedelta(minutes=m))

Expected = ModelEntry | Refused

NOT_REMEMBERED = {"same_account", "invalid_entry", "linked_chain_failed"}
"""Refusals a client id does not keep: a malformed command (which the client may
correct under the same id), and a chain's, which is final only when its cause is."""


class LedgerMachine(RuleBasedStateMachine):
    engine: Engine  # set by the test below: hypothesis builds the machine itself

    def __init__(self) -> None:
        super().__init__()
        self.connection: Connection = self.engine.connect()
        self.transaction: RootTransaction = self.connection.begin()
        self.session = Session(bind=self.connection, join_transaction_mode="create_savepoint")
        self.clock = FrozenClock()
        self.service = LedgerService(self.clock)
        self.model = Model()
        self.banks: dict[str, int] = {}
        # Batches whose commands were all created, with their entries: to retry.
        self.done: list[list[tuple[Command, int]]] = []
        # Commands refused for what the ledger held (not for being malformed), with
        # the code: their client ids answer that refusal from then on.
        self.refused: list[tuple[Command, str]] = []
        self._prefix = uuid.uuid4().hex[:8]
        self._ids = itertools.count()

    def teardown(self) -> None:
        self.session.close()
        self.transaction.rollback()
        self.connection.close()

    def cid(self, kind: str) -> str:
        return f"sm-{self._prefix}-{kind}-{next(self._ids)}"

    def open(self, currency: str, kind: str) -> int:
        type_, balance_rule, overdraft = ACCOUNT_KINDS[kind]
        account_id = create_account(
            self.session,
            code=self.cid(kind),
            currency=currency,
            type=type_,
            rule=balance_rule,
            overdraft_limit=overdraft,
        )
        self.model.accounts[account_id] = ModelAccount(
            account_id, currency, balance_rule, overdraft
        )
        return account_id

    def transfer_command(
        self,
        debit: int,
        credit: int,
        amount: int,
        *,
        pending: bool = False,
        timeout: timedelta | None = None,
        linked: bool = False,
    ) -> Transfer:
        return Transfer(
            client_id=self.cid("t"),
            debit_account=debit,
            credit_account=credit,
            amount=amount,
            currency=self.model.accounts[debit].currency,
            pending=pending,
            timeout=timeout,
            linked=linked,
        )

    def run(self, commands: list[Command]) -> list[Outcome]:
        """Execute a batch (independent commands, or one linked chain) and check each
        outcome against the model's prediction."""
        now = self.clock.now()
        chain = len(commands) > 1 and commands[0].linked
        model = self.model.copy() if chain else self.model
        expected: list[Expected] = []
        for command in commands:
            try:
                expected.append(model.apply(command, now))
            except Refused as refused:
                expected.append(refused)
                if chain:
                    break
        if chain:
            if any(isinstance(e, Refused) for e in expected):
                expected += [Refused("linked_chain_failed")] * (len(commands) - len(expected))
                expected = [
                    e if isinstance(e, Refused) else Refused("linked_chain_failed")
                    for e in expected
                ]
            else:
                self.model = model

        outcomes = self.service.execute(self.session, commands)

        assert [o.client_id for o in outcomes] == [c.client_id for c in commands]
        created: list[tuple[Command, int]] = []
        for command, outcome, expect in zip(commands, outcomes, expected, strict=True):
            if isinstance(expect, Refused):
                assert outcome.status == "failed", (command, expect.codes)
                assert outcome.error is not None
                assert outcome.error.code in expect.codes, (command, outcome.error)
                if outcome.error.code not in NOT_REMEMBERED:
                    self.refused.append((command, outcome.error.code))
            else:
                assert outcome.status == "created", (command, outcome.error)
                entry_id = outcome.entry_id_or_raise()
                self.model.entries[entry_id] = expect
                if expect.hold is not None:
                    self.model.holds[entry_id] = expect.hold
                created.append((command, entry_id))
        if len(created) == len(commands):
            self.done.append(created)
        return outcomes

    def pair(self, data: st.DataObject) -> tuple[int, int]:
        """Two accounts, mostly distinct and in the same currency; now and then any
        two, so that the refusals of odd pairs are exercised too."""
        ids = sorted(self.model.accounts)
        debit = data.draw(st.sampled_from(ids))
        currency = self.model.accounts[debit].currency
        peers = [i for i in ids if i != debit and self.model.accounts[i].currency == currency]
        odd = data.draw(st.integers(min_value=0, max_value=9)) == 9
        return debit, data.draw(st.sampled_from(ids if odd or not peers else peers))

    @initialize()
    def open_chart(self) -> None:
        for currency in ("CNY", "USD"):
            self.banks[currency] = self.open(currency, "suspense")
        funded = [
            self.open(currency, kind)
            for currency, kind in [
                ("CNY", "deposit"),
                ("CNY", "deposit"),
                ("CNY", "overdraft"),
                ("USD", "deposit"),
            ]
        ]
        self.open("CNY", "loan")
        self.run(
            [
                self.transfer_command(self.banks[self.model.accounts[a].currency], a, 20_000)
                for a in funded
            ]
        )

    @rule(currency=currencies, kind=st.sampled_from(sorted(ACCOUNT_KINDS)))
    def open_account(self, currency: str, kind: str) -> None:
        self.open(currency, kind)

    @rule(data=st.data(), amount=amounts)
    def fund(self, data: st.DataObject, amount: int) -> None:
        account = data.draw(st.sampled_from(sorted(self.model.accounts)))
        bank = self.banks[self.model.accounts[account].currency]
        if bank != account:
            self.run([self.transfer_command(bank, account, amount)])

    @rule(data=st.data(), amount=amounts)
    def transfer(self, data: st.DataObject, amount: int) -> None:
        self.run([self.transfer_command(*self.pair(data), amount)])

    @rule(data=st.data(), amount=amounts, timeout=timeouts)
    def reserve(self, data: st.DataObject, amount: int, timeout: timedelta | None) -> None:
        command = self.transfer_command(*self.pair(data), amount, pending=True, timeout=timeout)
        self.run([command])

    @rule(
        data=st.data(),
        amounts=st.lists(amounts, min_size=2, max_size=5),
        linked=st.booleans(),
    )
    def batch(self, data: st.DataObject, amounts: list[int], linked: bool) -> None:
        last = len(amounts) - 1
        self.run(
            [
                self.transfer_command(*self.pair(data), amount, linked=linked and i < last)
                for i, amount in enumerate(amounts)
            ]
        )

    @rule(data=st.data(), debits=st.lists(amounts, min_size=1, max_size=3))
    def multi_leg_entry(self, data: st.DataObject, debits: list[int]) -> None:
        """Debit a few accounts of one currency and credit the total to another
        (the same account may appear more than once)."""
        first, last = self.pair(data)
        currency = self.model.accounts[first].currency
        if self.model.accounts[last].currency != currency:
            return  # entries in the wrong currency are the service tests' business
        peers = sorted(i for i, a in self.model.accounts.items() if a.currency == currency)
        postings = [
            PostingSpec(account=data.draw(st.sampled_from(peers)), amount=a, currency=currency)
            for a in debits
        ]
        postings.append(PostingSpec(account=last, amount=-sum(debits), currency=currency))
        self.run([MultiLegEntry(client_id=self.cid("e"), postings=postings)])

    @rule(data=st.data(), amount=amounts)
    def duplicate_in_batch(self, data: st.DataObject, amount: int) -> None:
        command = self.transfer_command(*self.pair(data), amount)
        before = self.model.copy()
        try:
            entry: Expected = self.model.apply(command, self.clock.now())
        except Refused as refused:
            entry = refused
        first, second = self.service.execute(self.session, [command, command])
        if isinstance(entry, Refused):
            self.model = before
            assert (first.status, second.status) == ("failed", "failed")
            assert first.error is not None
            assert first.error.code in entry.codes
        else:
            assert (first.status, second.status) == ("created", "exists")
            assert second.entry_id == first.entry_id
            self.model.entries[first.entry_id_or_raise()] = entry

    def hold(self, data: st.DataObject) -> int:
        """A hold, mostly one still pending; now and then any, resolved or not."""
        holds = sorted(self.model.holds)
        open_ = [h for h in holds if self.model.holds[h].state == "pending"]
        odd = data.draw(st.integers(min_value=0, max_value=4)) == 4
        return data.draw(st.sampled_from(holds if odd or not open_ else open_))

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), amount=st.none() | amounts)
    def post(self, data: st.DataObject, amount: int | None) -> None:
        pending = self.hold(data)
        self.run([PostPending(client_id=self.cid("post"), pending=pending, amount=amount)])

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        self.run([VoidPending(client_id=self.cid("void"), pending=self.hold(data))])

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(sorted(self.model.entries)))
        self.run([Reverse(client_id=self.cid("rev"), entry=entry)])

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """Send a whole earlier batch again (a linked chain is retried whole)."""
        batch = data.draw(st.sampled_from(self.done))
        outcomes = self.service.execute(self.session, [command for command, _ in batch])
        assert [(o.status, o.entry_id) for o in outcomes] == [
            ("exists", entry_id) for _, entry_id in batch
        ]

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def reuse_client_id(self, data: st.DataObject) -> None:
        command, _ = data.draw(st.sampled_from([c for batch in self.done for c in batch]))
        other = dataclasses.replace(
            command, description=command.description + " again", linked=False
        )
        outcome = self.service.execute(self.session, [other])[0]
        assert outcome.error is not None
        assert outcome.error.code == "idempotency_conflict"

    @precondition(lambda self: self.refused)
    @rule(data=st.data(), fund=amounts)
    def retry_refused(self, data: st.DataObject, fund: int) -> None:
        """A refused command sent again (alone) is refused the same, even after its
        debit account was funded, and moves nothing (the invariants check)."""
        command, code = data.draw(st.sampled_from(self.refused))
        if isinstance(command, Transfer) and command.debit_account in self.model.accounts:
            bank = self.banks[self.model.accounts[command.debit_account].currency]
            self.run([self.transfer_command(bank, command.debit_account, fund)])
        if isinstance(command, PostPending) and isinstance(command.pending, int):
            # The ledger expires an overdue hold that a post names before it answers,
            # even with a refusal it remembers: the hold is overdue whatever the answer.
            hold = self.model.holds.get(command.pending)
            expires_at = hold.expires_at if hold is not None else None
            if hold and hold.state == "pending" and expires_at and expires_at <= self.clock.now():
                self.model.move([], release=hold)
                hold.state = "expired"
        alone = dataclasses.replace(command, linked=False)
        outcome = self.service.execute(self.session, [alone])[0]
        assert outcome.error is not None, (command, code)
        assert outcome.error.code == code

    @precondition(lambda self: self.refused)
    @rule(data=st.data())
    def reuse_refused_client_id(self, data: st.DataObject) -> None:
        command, _ = data.draw(st.sampled_from(self.refused))
        other = dataclasses.replace(
            command, description=command.description + " again", linked=False
        )
        outcome = self.service.execute(self.session, [other])[0]
        assert outcome.error is not None
        assert outcome.error.code == "idempotency_conflict"

    @rule(minutes=st.integers(min_value=1, max_value=45))
    def advance_clock(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule()
    def expire(self) -> None:
        now = self.clock.now()
        due = [
            hold
            for hold in self.model.holds.values()
            if hold.state == "pending" and hold.expires_at is not None and hold.expires_at <= now
        ]
        for hold in due:
            self.model.move([], release=hold)
            hold.state = "expired"
        assert self.service.expire_due_holds(self.session) == len(due)

    @invariant()
    def database_matches_the_model(self) -> None:
        rows = self.session.execute(
            text(
                "SELECT a.id, a.debits_posted, a.credits_posted, a.debits_pending, "
                "a.credits_pending, "
                "coalesce(sum(p.amount) FILTER (WHERE p.amount > 0 AND NOT p.pending), 0), "
                "coalesce(-sum(p.amount) FILTER (WHERE p.amount < 0 AND NOT p.pending), 0) "
                "FROM ledger_account a LEFT JOIN ledger_posting p ON p.account_id = a.id "
                "WHERE a.id = ANY(:ids) GROUP BY a.id"
            ),
            {"ids": list(self.model.accounts)},
        ).all()
        assert len(rows) == len(self.model.accounts)
        net: dict[str, int] = defaultdict(int)
        pending: dict[str, int] = defaultdict(int)
        for account_id, dp, cp, dpe, cpe, posted_debits, posted_credits in rows:
            model = self.model.accounts[account_id]
            assert (dp, cp, dpe, cpe) == (model.dp, model.cp, model.dpe, model.cpe)
            assert (dp, cp) == (posted_debits, posted_credits)
            stored = dataclasses.replace(model, dp=dp, cp=cp, dpe=dpe, cpe=cpe)
            assert stored.violation() is None
            net[model.currency] += dp - cp
            pending[model.currency] += dpe - cpe
        assert all(total == 0 for total in net.values()), net
        assert all(total == 0 for total in pending.values()), pending

    @invariant()
    def the_ledger_verifies(self) -> None:
        assert self.service.verify(self.session) == {}


def test_the_ledger_matches_its_model(engine: Engine) -> None:
    LedgerMachine.engine = engine
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
