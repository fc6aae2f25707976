"""Step-up authentication of money-moving requests.

Every payment goes through :meth:`StepUp.authorise` inside the transaction that
moves the money. It locks the customer's counters, weighs the risk check's score,
and decides (``rongbank.auth.limits``): a small payment goes password-free; otherwise it needs a
challenge that was answered for exactly this request, which it spends. Usage is
counted in the same transaction, so concurrent payments cannot both slip under a
limit, and a payment that fails counts nothing.

When no answered challenge is there, ``authorise`` raises :class:`ChallengeNeeded`
(not a business error: the transaction rolls back, and the boundary then opens a
challenge in a transaction of its own, see ``Platform.authorised``). A challenge is
bound to the SHA-256 of its request, single use, and expires after a few minutes.

Answering (:meth:`StepUp.answer`) is separate, and like a login it returns its
refusal rather than raising it, so the boundary can commit the failure count first:
five wrong answers in a row block the tool, and every wrong answer says how many are
left before that.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.auth.limits import (
    PASSWORD_FREE,
    Decision,
    OwnLimit,
    Risk,
    ToolKind,
    ToolLimits,
    Usage,
    check_own_limit,
    decide,
    password_free,
)
from rongbank.auth.tools import LIMIT_NAMES, PaymentRequest, Tool, ToolNotActive, ToolService
from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.db import advisory_lock, pipeline, run, run_later, statement
from rongbank.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated

MAX_FAILURES = 5

_USAGE = statement(
    "SELECT kind, coalesce(sum(amount) FILTER (WHERE day = :d), 0), "
    "coalesce(sum(count) FILTER (WHERE day = :d), 0), coalesce(sum(amount), 0) "
    "FROM auth_usage WHERE customer_id = :c AND day BETWEEN :y AND :d GROUP BY kind"
)
_OWN = statement("SELECT kind, per_payment, daily FROM auth_limit WHERE customer_id = :c")
_USAGE_AND_OWN = statement(
    # What ``decide`` reads once the lock is granted, in one statement: the usage rows
    # (true) and the customer's own limits (false).
    "SELECT true, kind, coalesce(sum(amount) FILTER (WHERE day = :d), 0), "
    "coalesce(sum(count) FILTER (WHERE day = :d), 0), coalesce(sum(amount), 0) "
    "FROM auth_usage WHERE customer_id = :c AND day BETWEEN :y AND :d GROUP BY kind "
    "UNION ALL SELECT false, kind, per_payment, daily, NULL FROM auth_limit WHERE customer_id = :c"
)
_COUNT = statement(
    "INSERT INTO auth_usage (customer_id, kind, day, amount, count) "
    "VALUES (:c, :k, :d, :a, 1) ON CONFLICT (customer_id, kind, day) DO UPDATE "
    "SET amount = auth_usage.amount + excluded.amount, count = auth_usage.count + 1"
)


def _usage(rows: Iterable[tuple[Any, ...]]) -> dict[str, Usage]:
    return {str(r[0]): Usage(int(r[1]), int(r[2]), int(r[3])) for r in rows}


def _own(rows: Iterable[tuple[Any, ...]]) -> dict[str, OwnLimit]:
    return {str(r[0]): OwnLimit(_whole(r[1]), _whole(r[2])) for r in rows}


def _whole(value: Any) -> int | None:
    """A limit as an int (numeric where ``_USAGE_AND_OWN``'s union makes it so)."""
    return None if value is None else int(value)


class RiskCheck(Protocol):
    """Scores one payment; the risk centre plugs its models in here."""

    def assess(self, session: Session, customer_id: int, payment: PaymentRequest) -> Risk: ...


class NewPayeeRiskCheck:
    """The default: a large first payment to a payee the customer has never paid is
    the classic pattern of a scam, so it needs a tool that binds the code to the
    payee and amount. Everything else is low risk."""

    def __init__(self, threshold: int = 500_000) -> None:
        self.threshold = threshold

    def assess(self, session: Session, customer_id: int, payment: PaymentRequest) -> Risk:
        if payment.amount < self.threshold:
            return Risk.LOW
        paid_before = session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM e_account payee "
                "JOIN ledger_posting credit ON credit.account_id = payee.ledger_account_id "
                "JOIN ledger_posting debit ON debit.entry_id = credit.entry_id "
                "JOIN e_account payer ON payer.ledger_account_id = debit.account_id "
                "WHERE payee.number = :payee AND payer.customer_id = :c)"
            ),
            {"payee": payment.payee, "c": customer_id},
        ).scalar_one()
        return Risk.LOW if paid_before else Risk.ELEVATED


@dataclass(frozen=True, slots=True)
class Challenge:
    """What the customer is asked; ``question`` per tool (see ``ToolService``)."""

    id: str
    tool: ToolKind
    question: str
    expires_at: datetime
    alternatives: tuple[ToolKind, ...]
    """Other tools the customer holds that may authorise this payment instead."""
    challenges_left: int | None = None
    """How many more challenges the tool answers after this one: a grid card runs
    out (0: get a new card); None for tools that do not."""


class ChallengeNeeded(Exception):  # a signal to the boundary, not a refusal
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__("this payment needs an answered challenge")


class ChallengeRequired(Forbidden):
    code = "challenge_required"
    message = (
        "Confirm this payment with your authentication tool: answer the challenge in "
        "details and send the same request again with challenge_id and response."
    )
    final = False  # how to authorise the request, not its outcome


class ChallengeNotFound(NotFound):
    code = "challenge_not_found"
    message = "There is no such challenge for you."
    final = False


class ChallengeExpired(Conflict):
    code = "challenge_expired"
    message = "This challenge has expired or was already used; send the request again."
    final = False


class ChallengeMismatch(Conflict):
    code = "challenge_mismatch"
    message = (
        "This challenge was issued for a different request (payee, amount or reference); "
        "send the request again for a new challenge."
    )
    final = False


class ChallengeFailed(Unauthenticated):
    """One message for every wrong answer: it never says which part was wrong."""

    code = "challenge_failed"
    message = "The answer is not right."


class ToolBlocked(Forbidden):
    code = "tool_blocked"
    message = (
        "This authentication tool is blocked after too many wrong answers. Ask your "
        "account manager or a teller to unblock it, or get a new one."
    )
    final = False


class ToolNotHeld(InvalidRequest):
    code = "tool_not_held"
    message = "You asked for a tool you do not hold, or one that cannot authorise this payment."
    final = False


@dataclass(frozen=True, slots=True)
class AnswerResult:
    error: ChallengeFailed | ToolBlocked | None = None

    def unwrap(self) -> None:
        if self.error is not None:
            raise self.error


class StepUp:
    def __init__(
        self,
        clock: Clock,
        limits: ToolLimits,
        tools: ToolService,
        *,
        risk: RiskCheck | None = None,
        ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self.clock = clock
        self.limits = limits
        self.tools = tools
        self.risk: RiskCheck = risk or NewPayeeRiskCheck()
        self.ttl = ttl

    def _today(self) -> date:
        return self.clock.now().astimezone(BUSINESS_TIME_ZONE).date()

    # -- deciding ----------------------------------------------------------------------

    def usage(self, session: Session, customer_id: int) -> dict[str, Usage]:
        return _usage(run(session, _USAGE, self._usage_params(customer_id)))

    def own_limits(self, session: Session, customer_id: int) -> dict[str, OwnLimit]:
        return _own(run(session, _OWN, {"c": customer_id}))

    def _usage_params(self, customer_id: int) -> dict[str, object]:
        day = self._today()
        return {"c": customer_id, "d": day, "y": date(day.year, 1, 1)}

    def set_own_limit(self, session: Session, customer_id: int, kind: str, own: OwnLimit) -> None:
        check_own_limit(self.limits, kind, own)
        session.execute(
            text(
                "INSERT INTO auth_limit (customer_id, kind, per_payment, daily) "
                "VALUES (:c, :k, :p, :d) ON CONFLICT (customer_id, kind) "
                "DO UPDATE SET per_payment = excluded.per_payment, daily = excluded.daily"
            ),
            {"c": customer_id, "k": kind, "p": own.per_payment, "d": own.daily},
        )

    def decide(
        self,
        session: Session,
        customer_id: int,
        payment: PaymentRequest,
        risk: Risk,
        *,
        answered: str | None = None,
        standing: bool = False,
    ) -> Decision:
        """How ``payment`` may be authorised, the customer's counters locked first (one
        payment of a customer at a time decides and counts). ``answered``: the
        challenge the request comes back with, whose tool may have ended since it was
        asked (a grid card ends with the challenge that takes its last positions): it
        still answers that one challenge. ``standing``: as on a day with nothing moved
        yet (see :meth:`authorise`)."""
        with pipeline(session):  # one round trip: the lock, then what it guards
            advisory_lock(session, "auth_usage", customer_id)
            read = run(session, _USAGE_AND_OWN, self._usage_params(customer_id))
        rows = read.fetchall()
        usage = {} if standing else _usage(r[1:] for r in rows if r[0])
        own = _own(r[1:4] for r in rows if not r[0])
        if password_free(self.limits, amount=payment.amount, usage=usage, own=own, risk=risk):
            return Decision(password_free=True)
        # Only now the tools held: a password-free payment needs none of them.
        held = self.tools.held(session, customer_id)
        if answered is not None:
            held |= self._ended_since(session, customer_id, answered)
        return decide(
            self.limits, amount=payment.amount, held=held, usage=usage, own=own, risk=risk
        )

    # -- security changes (``Platform.confirmed``) --------------------------------------

    def tool_change(self, customer_id: int, kind: ToolKind, binding: str = "") -> PaymentRequest:
        """Getting a tool of ``kind``; ``binding`` names the very key (a CSR's hash)."""
        return PaymentRequest.security_change(
            customer_id, f"为您的网上银行添加新的{LIMIT_NAMES[kind]}", f"{kind.value}:{binding}"
        )

    def limit_change(
        self, session: Session, customer_id: int, kind: str, own: OwnLimit
    ) -> PaymentRequest | None:
        """Setting an own limit; None when it lifts nothing (lowering is always
        welcome and needs no confirmation)."""
        if not own.raises(self.own_limits(session, customer_id).get(kind, OwnLimit())):
            return None
        return PaymentRequest.security_change(
            customer_id,
            f"提高{LIMIT_NAMES.get(kind, kind)}的支付限额",
            f"{kind}:{own.per_payment}:{own.daily}",
        )

    # -- inside the money transaction --------------------------------------------------

    def authorise(
        self,
        session: Session,
        customer_id: int,
        payment: PaymentRequest,
        challenge_id: str | None,
        risk: Risk,
        *,
        standing: bool = False,
    ) -> str:
        """Allow ``payment`` and count it, or raise; returns how it was authorised
        (``password_free`` or the tool kind). ``risk`` is the risk check's score,
        taken before the payment's own effects were written.

        ``standing``: the customer sets up a payment the bank will make later on its
        own (a scheduled transfer), when nobody can answer a challenge. It is decided
        as one payment of that amount on a day with nothing moved yet, so one beyond
        the password-free allowance is confirmed with a tool now, and nothing is
        counted: each run is counted on its day (:meth:`authorise_run`)."""
        decision = self.decide(
            session, customer_id, payment, risk, answered=challenge_id, standing=standing
        )
        if decision.password_free:
            kind = PASSWORD_FREE
        else:
            if challenge_id is None:
                raise ChallengeNeeded(decision)
            kind = self._spend(session, customer_id, payment, challenge_id, decision)
        if not standing:
            self._count(session, customer_id, kind, payment.amount)
        return kind

    def authorise_run(self, session: Session, customer_id: int, payment: PaymentRequest) -> str:
        """Allow and count one run of a payment the customer authorised when setting
        it up (``authorise`` with ``standing``), or raise as for any payment over the
        limits. Nobody is there to answer a challenge: the run goes when the limits
        left today cover it, counted as a payment made now would be (password-free,
        or under the weakest tool the customer holds that covers it), and is refused
        (:class:`~rongbank.auth.limits.ToolLimitExceeded`...) when they do not."""
        decision = self.decide(session, customer_id, payment, Risk.LOW)
        kind = PASSWORD_FREE if decision.password_free else decision.tools[0].value
        self._count(session, customer_id, kind, payment.amount)
        return kind

    def _count(self, session: Session, customer_id: int, kind: str, amount: int) -> None:
        run_later(  # with the transaction's next round trip (the audit row's, its COMMIT)
            session,
            _COUNT,
            {"c": customer_id, "k": kind, "d": self._today(), "a": amount},
        )

    def confirm(
        self,
        session: Session,
        customer_id: int,
        change: PaymentRequest,
        challenge_id: str | None,
        *,
        tools: tuple[ToolKind, ...] = (ToolKind.SMS,),
    ) -> None:
        """Allow a security change (``Platform.confirmed``) or raise. By default it
        needs a code sent to the registered mobile, whatever tools the customer holds,
        since a new tool is what a thief with the password would add first; a change
        made *through* the mobile (a password reset) asks one of ``tools`` instead."""
        decision = Decision(tools=tools)
        if challenge_id is None:
            raise ChallengeNeeded(decision)
        self._spend(session, customer_id, change, challenge_id, decision)

    def binding_tools(self, tools: tuple[ToolKind, ...]) -> tuple[ToolKind, ...]:
        """Those of ``tools`` that bind what they confirm (strength 2 and more), as an
        elevated risk asks: token or U盾 even where none is in ``tools``."""
        strong = [t for t in self.limits.tools.values() if t.strength >= 2]
        return tuple(t.kind for t in strong if t.kind in tools) or tuple(t.kind for t in strong)

    def strong_tools(self, session: Session, customer_id: int) -> tuple[ToolKind, ...]:
        """The customer's active tools that sign or bind what they confirm (strength 2
        and more: token, U盾), strongest first: what a change made with the mobile
        alone must be confirmed with too, for a customer who holds one. Raises
        :class:`ToolBlocked` when the only ones they hold are blocked: else whoever
        had the phone could block the token with wrong answers, then go without it."""
        strong = sorted(
            (t for t in self.limits.tools.values() if t.strength >= 2), key=lambda t: -t.strength
        )
        live = [(t.kind, self.tools.live_tool(session, customer_id, t.kind)) for t in strong]
        active = tuple(kind for kind, tool in live if tool and tool.status == "active")
        blocked = [kind for kind, tool in live if tool and tool.status == "blocked"]
        if blocked and not active:
            raise ToolBlocked(tool=blocked[0].value)
        return active

    @staticmethod
    def _ended_since(session: Session, customer_id: int, challenge_id: str) -> set[ToolKind]:
        """The kind of a tool used up since it answered this (passed) challenge."""
        rows = session.execute(
            text(
                "SELECT t.kind FROM auth_challenge ch JOIN auth_tool t ON t.id = ch.tool_id "
                "WHERE ch.public_id = :id AND ch.customer_id = :c AND ch.status = 'passed' "
                "AND t.status = 'expired'"
            ),
            {"id": challenge_id, "c": customer_id},
        ).all()
        return {ToolKind(row[0]) for row in rows}

    def _spend(
        self,
        session: Session,
        customer_id: int,
        payment: PaymentRequest,
        challenge_id: str,
        decision: Decision,
    ) -> str:
        row = session.execute(
            text(
                "UPDATE auth_challenge ch SET status = 'used' FROM auth_tool t "
                "WHERE ch.public_id = :id AND ch.customer_id = :c AND ch.status = 'passed' "
                "AND ch.request_digest = :digest AND ch.expires_at > :now AND t.id = ch.tool_id "
                "RETURNING t.kind"
            ),
            {
                "id": challenge_id,
                "c": customer_id,
                "digest": payment.digest(),
                "now": self.clock.now(),
            },
        ).first()
        if row is None or ToolKind(row[0]) not in decision.tools:
            # Not answered, spent, expired, for another request, or by a tool that no
            # longer covers it (limits used up meanwhile): ask again.
            raise ChallengeNeeded(decision)
        return str(row[0])

    # -- its own transactions ----------------------------------------------------------

    def open_challenge(
        self,
        session: Session,
        customer_id: int,
        payment: PaymentRequest,
        decision: Decision,
        *,
        mobile: str,
        prefer: ToolKind | None = None,
    ) -> Challenge:
        if prefer is not None and prefer not in decision.tools:
            raise ToolNotHeld(tool=prefer.value, allowed=[t.value for t in decision.tools])
        kind = prefer or decision.tools[0]
        # The SMS tool row is made on first use; the money transaction that found it
        # missing has rolled back, so make it here for good.
        self.tools.held(session, customer_id)
        tool = self.tools.live_tool(session, customer_id, kind)
        if tool is None or tool.status != "active":
            raise ToolNotHeld(tool=kind.value)
        nonce = secrets.token_urlsafe(16)
        question = self.tools.question(session, tool, payment, mobile=mobile, nonce=nonce)
        now = self.clock.now()
        session.execute(
            text(
                "INSERT INTO auth_challenge (public_id, customer_id, tool_id, request_digest, "
                "amount, shown, question, code_hash, status, created_at, expires_at) "
                "VALUES (:id, :c, :t, :digest, :amount, :shown, :q, :h, 'open', :now, :exp)"
            ),
            {
                "id": nonce,
                "c": customer_id,
                "t": tool.id,
                "digest": payment.digest(),
                "amount": payment.amount,
                "shown": payment.describe(),
                "q": question.text,
                "h": question.code_hash,
                "now": now,
                "exp": now + self.ttl,
            },
        )
        return Challenge(
            id=nonce,
            tool=kind,
            question=question.text,
            expires_at=now + self.ttl,
            alternatives=tuple(t for t in decision.tools if t is not kind),
            challenges_left=question.left,
        )

    def answer(
        self,
        session: Session,
        customer_id: int,
        payment: PaymentRequest,
        challenge_id: str,
        response: str,
    ) -> AnswerResult:
        """Check an answer; on success the challenge is ready to be spent by this
        request. Raises for a challenge that cannot be answered at all."""
        row = session.execute(
            text(
                "SELECT tool_id, request_digest, question, code_hash, status, expires_at "
                "FROM auth_challenge WHERE public_id = :id AND customer_id = :c FOR UPDATE"
            ),
            {"id": challenge_id, "c": customer_id},
        ).first()
        if row is None:
            raise ChallengeNotFound()
        tool_id, digest, question, code_hash, status, expires_at = row
        if status == "passed" and bytes(digest) == payment.digest():
            return AnswerResult()  # a retry of an answered request: nothing to check again
        tool = self.tools.tool(session, int(tool_id), lock=True)
        if tool.status == "blocked":  # said first: asking again will not help
            return AnswerResult(ToolBlocked(tool=tool.kind.value))
        if status != "open" or expires_at <= self.clock.now():
            raise ChallengeExpired()
        if bytes(digest) != payment.digest():
            raise ChallengeMismatch()
        if tool.status not in ("active", "expired"):  # an expired card answers its last
            raise ToolNotActive(status=tool.status)
        right = self.tools.check(
            session,
            tool,
            question=str(question),
            code_hash=None if code_hash is None else bytes(code_hash),
            nonce=challenge_id,
            response=response,
        )
        if right:
            self._set_failures(session, tool, 0)
            session.execute(
                text("UPDATE auth_challenge SET status = 'passed' WHERE public_id = :id"),
                {"id": challenge_id},
            )
            return AnswerResult()
        failures = tool.failures + 1
        self._set_failures(session, tool, failures)
        if failures >= MAX_FAILURES:
            session.execute(
                text("UPDATE auth_challenge SET status = 'failed' WHERE public_id = :id"),
                {"id": challenge_id},
            )
            return AnswerResult(ToolBlocked(tool=tool.kind.value))
        left = MAX_FAILURES - failures
        return AnswerResult(
            ChallengeFailed(
                f"The answer is not right. {left} more wrong "
                f"{'answer blocks' if left == 1 else 'answers block'} this tool.",
                attempts_left=left,
            )
        )

    @staticmethod
    def _set_failures(session: Session, tool: Tool, failures: int) -> None:
        session.execute(
            text(
                "UPDATE auth_tool SET failures = :f, "
                "status = CASE WHEN :f >= :max AND status = 'active' THEN 'blocked' "
                "ELSE status END WHERE id = :id"
            ),
            {"f": failures, "max": MAX_FAILURES, "id": tool.id},
        )
