"""The platform's authorisation seam: audited transactions, payments the customer
authorises (step-up), security changes they confirm, and the password flows that
go through them.

:class:`Authorisation` is mixed into :class:`~rongbank.platform.Platform`, which
wires the services it uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy.orm import Session

from rongbank.accounts.identity import parse_mobile
from rongbank.accounts.service import AccountsService
from rongbank.audit.service import AuditLog
from rongbank.auth.limits import Risk, ToolKind
from rongbank.auth.reset import PasswordResets, StartedReset
from rongbank.auth.service import AuthService, LoginResult, Principal, PrincipalKind
from rongbank.auth.stepup import Challenge, ChallengeNeeded, ChallengeRequired, StepUp
from rongbank.auth.tools import PaymentRequest
from rongbank.clock import Clock
from rongbank.errors import DomainError
from rongbank.idempotency import Keyed, known, remembering
from rongbank.metrics import counted_payments
from rongbank.risk.engine.engine import PaymentBlocked


class Authorisation:
    """Audited and authorised transactions, mixed into ``Platform``."""

    clock: Clock
    accounts: AccountsService
    auth: AuthService
    audit: AuditLog
    stepup: StepUp
    password_resets: PasswordResets
    transaction: Callable[[], AbstractContextManager[Session]]

    @contextmanager
    def audited(
        self,
        *,
        actor_kind: str,
        actor_id: int | None,
        action: str,
        target: str = "",
        details: dict[str, Any] | None = None,
        idempotency: Keyed | None = None,
        prepare: Callable[[Session], object] | None = None,
    ) -> Iterator[Session]:
        """A transaction whose outcome is audited: recorded with it when it commits;
        a business refusal is recorded in a transaction of its own, then re-raised.
        With ``idempotency``, the request's key is claimed first and a final refusal
        remembered under it, in the refusal's same transaction (see
        ``rongbank.idempotency``). ``prepare``: what runs before the key is claimed,
        unaudited (``remembering``)."""
        with self._audited(
            actor_kind=actor_kind,
            actor_id=actor_id,
            audit=lambda: (action, target, details),
            idempotency=idempotency,
            prepare=prepare,
        ) as session:
            yield session

    @contextmanager
    def _audited(
        self,
        *,
        actor_kind: str,
        actor_id: int | None,
        audit: Callable[[], tuple[str, str, dict[str, Any] | None]],
        idempotency: Keyed | None,
        prepare: Callable[[Session], object] | None,
        ahead: Callable[[Session], object] | None = None,
    ) -> Iterator[Session]:
        """``audited``, with what the row says (action, target, details) asked once
        ``prepare`` has run (it may be what finds it out); ``ahead``: sent with the
        key's claim (``rongbank.idempotency.claim``)."""

        def record(session: Session, error: DomainError | None = None) -> None:
            action, target, details = audit()
            self.audit.record(
                session,
                actor_kind=actor_kind,
                actor_id=actor_id,
                action=action,
                target=target,
                result="ok" if error is None else "refused",
                details=details if error is None else {**(details or {}), "error": error.code},
            )
            if isinstance(error, PaymentBlocked):  # the engine's decision, kept
                error.record(session)

        with remembering(
            self.transaction,
            idempotency,
            self.clock,
            refused=record,
            prepare=prepare,
            ahead=ahead,
        ) as session:
            yield session
            record(session)

    @counted_payments
    @contextmanager
    def authorised(
        self,
        payment: PaymentRequest | Callable[[Session], PaymentRequest],
        *,
        customer_id: int,
        challenge_id: str | None = None,
        response: str | None = None,
        prefer: ToolKind | None = None,
        already_done: Callable[[Session], bool] = lambda _: False,
        idempotency: Keyed | None = None,
        standing: bool = False,
    ) -> Iterator[Session]:
        """An audited transaction for a payment the customer has authorised.

        With a ``response``, the challenge is answered first (the failure count
        committed even when wrong). Then the body moves the money, and the step-up
        rules decide at its end, inside the same transaction; when they want a
        challenge, one is opened in a transaction of its own and
        :class:`ChallengeRequired` raised with it. ``already_done`` says whether this
        is a retry of a payment made before, which needs no new authentication (the
        ledger answers it with the original result). ``idempotency``: the request's
        key, which remembers a refusal as its outcome (``Platform.audited``).
        ``standing``: setting up a payment the bank makes later, each run counted
        then (``StepUp.authorise``). An ``already_done`` with an ``ask(session)``
        (``MadeCheck``) sends its question in the round trip of the key's claim.

        ``payment`` may be a function that reads what the payment is (a merchant,
        an order) in the transaction's session: it runs first, in the same
        transaction, and what it refuses is answered unaudited (``remembering``'s
        ``prepare``), as it would be from a transaction of its own before.
        """

        def check(session: Session, payment: PaymentRequest) -> Callable[[Session], object] | None:
            if already_done(session):
                return None
            # Scored before the body writes the payment's own effects.
            risk = self.stepup.risk.assess(session, customer_id, payment)
            return lambda s: self.stepup.authorise(
                s, customer_id, payment, challenge_id, risk, standing=standing
            )

        with self._challenged(
            payment,
            customer_id=customer_id,
            challenge_id=challenge_id,
            response=response,
            prefer=prefer,
            already_done=already_done,
            check=check,
            audit=lambda p: (
                p.purpose,
                f"{p.payer} -> {p.payee}",
                {"amount": p.amount, "client_id": p.client_id},
            ),
            idempotency=idempotency,
            ahead=getattr(already_done, "ask", None),
        ) as session:
            yield session

    @contextmanager
    def confirmed(
        self,
        change: PaymentRequest,
        *,
        customer_id: int,
        challenge_id: str | None = None,
        response: str | None = None,
        action: str,
        target: str,
        first: bool = False,
        tools: tuple[ToolKind, ...] = (ToolKind.SMS,),
    ) -> Iterator[Session]:
        """An audited transaction for a security change (a new tool, a higher limit of
        one's own, a new payout card), confirmed like a payment by a code sent to the
        registered mobile, so that a stolen password alone cannot add a tool, lift a
        limit or bind a card.

        The code is checked after the body, so that a change that cannot be made says
        so before a code is sent; with ``first``, before it instead, for a body that
        reaches outside the bank (a card enrolled with its issuer), which must not run
        unconfirmed: the caller then checks what can be refused before asking. ``tools``:
        what may confirm it (``StepUp.confirm``)."""

        def check(session: Session, change: PaymentRequest) -> Callable[[Session], object] | None:
            # A change that moves money (a loan signed and paid out) is a payment to
            # the fraud engine too; where it wants a binding tool, only those confirm.
            risk = self.stepup.risk.assess(session, customer_id, change) if change.amount else None
            needed = self.stepup.binding_tools(tools) if risk is Risk.ELEVATED else tools

            def confirm(s: Session) -> None:
                self.stepup.confirm(s, customer_id, change, challenge_id, tools=needed)

            if not first:
                return confirm
            confirm(session)
            return None

        with self._challenged(
            change,
            customer_id=customer_id,
            challenge_id=challenge_id,
            response=response,
            prefer=None,
            already_done=lambda _: False,
            check=check,
            audit=lambda _: (action, target, None),
        ) as session:
            yield session

    @contextmanager
    def _challenged(
        self,
        payment: PaymentRequest | Callable[[Session], PaymentRequest],
        *,
        customer_id: int,
        challenge_id: str | None,
        response: str | None,
        prefer: ToolKind | None,
        already_done: Callable[[Session], bool],
        check: Callable[[Session, PaymentRequest], Callable[[Session], object] | None],
        audit: Callable[[PaymentRequest], tuple[str, str, dict[str, Any] | None]],
        idempotency: Keyed | None = None,
        ahead: Callable[[Session], object] | None = None,
    ) -> Iterator[Session]:
        """``check`` runs before the body and returns what decides after it (None:
        nothing to decide), raising :class:`ChallengeNeeded` for a challenge;
        ``audit`` says what the audit row of the request says (action, target,
        details)."""
        known_request = payment if isinstance(payment, PaymentRequest) else None

        def request_of(session: Session) -> PaymentRequest:
            nonlocal known_request
            if known_request is None:
                assert not isinstance(payment, PaymentRequest)
                known_request = payment(session)
            return known_request

        def request() -> PaymentRequest:
            assert known_request is not None
            return known_request

        if challenge_id is not None and response is not None:
            with self.transaction() as session:
                request_of(session)
                # A retry of a request done (or refused) before: its challenge is
                # spent, and the ledger (or the key's record) answers as the first time.
                done = already_done(session) or (
                    idempotency is not None and known(session, idempotency)
                )
            if not done:
                self._answer(request(), customer_id, challenge_id, response, audit(request())[1])
        try:
            with self._audited(
                actor_kind="customer",
                actor_id=customer_id,
                audit=lambda: audit(request()),
                idempotency=idempotency,
                prepare=None if known_request is not None else request_of,
                ahead=ahead,
            ) as session:
                decide = check(session, request())
                yield session
                # After the body, so that a request that cannot succeed anyway (no
                # funds, over an account limit) says so before asking for a challenge.
                if decide is not None:
                    decide(session)
        except ChallengeNeeded as needed:
            action = audit(request())[0]
            with self.audited(
                actor_kind="customer",
                actor_id=customer_id,
                target=audit(request())[1],
                action="challenge.open",
                details={"for": action, "amount": request().amount},
            ) as session:
                mobile = self.accounts.customer(session, customer_id).mobile
                challenge = self.stepup.open_challenge(
                    session, customer_id, request(), needed.decision, mobile=mobile, prefer=prefer
                )
            raise ChallengeRequired(challenge=_challenge_details(challenge)) from None

    def _answer(
        self,
        payment: PaymentRequest,
        customer_id: int,
        challenge_id: str,
        response: str,
        target: str,
    ) -> None:
        """Answer a challenge in a transaction of its own, so that a wrong answer's
        failure count is committed before the refusal is raised."""
        with self.transaction() as session:
            answered = self.stepup.answer(session, customer_id, payment, challenge_id, response)
            self.audit.record(
                session,
                actor_kind="customer",
                actor_id=customer_id,
                target=target,
                action="challenge.answer",
                result="refused" if answered.error else "ok",
                details={"challenge": challenge_id[:8], "amount": payment.amount}
                | ({"error": answered.error.code} if answered.error else {}),
            )
        answered.unwrap()

    def audit_login(
        self, session: Session, result: LoginResult, *, login_name: str, ip: str | None
    ) -> None:
        principal = result.new_session.principal if result.new_session else None
        self.audit.record(
            session,
            actor_kind=principal.kind.value if principal else "anonymous",
            actor_id=principal.id if principal else None,
            action="login",
            target=login_name,
            result="ok" if principal else "refused",
            ip=ip,
            details=(
                {}
                if result.error is None
                # A disabled login is refused as a wrong password; the bank is told why.
                else {"error": result.error.code} | ({"disabled": True} if result.disabled else {})
            )
            # Whose login was tried, for their login history (``AuditLog.logins_of``).
            | ({"login_of": f"{owner[0].value}:{owner[1]}"} if (owner := result.login_of) else {}),
        )

    def change_password(
        self, principal: Principal, *, current: str, new: str, ip: str | None
    ) -> int:
        """Change the principal's password (``AuthService.change_password``), audited,
        a wrong current password counted before it is refused; how many other
        sessions ended."""

        def record(session: Session, error: DomainError | None, ended: int = 0) -> None:
            self.audit.record(
                session,
                actor_kind=principal.kind.value,
                actor_id=principal.id,
                action="password.change",
                result="refused" if error else "ok",
                ip=ip,
                details={"error": error.code} if error else {"sessions_ended": ended},
            )

        try:
            with self.transaction() as session:
                personal = (
                    self.accounts.holder(session, principal.id).personal
                    if principal.kind is PrincipalKind.CUSTOMER
                    else ()
                )
                changed = self.auth.change_password(
                    session, principal, current=current, new=new, ip=ip, personal=personal
                )
                record(session, changed.error, changed.sessions_ended)
        except DomainError as error:  # a new password the policy refuses
            with self.transaction() as session:
                record(session, error)
            raise
        return changed.unwrap()

    def start_password_reset(
        self, *, mobile: str, identity_number: str, ip: str | None
    ) -> StartedReset:
        """Start a password reset (``rongbank.auth.reset``), audited; the same answer
        whoever the mobile belongs to."""
        number = parse_mobile(mobile)
        with self.audited(
            actor_kind="anonymous", actor_id=None, action="password.reset.start", target=number
        ) as session:
            return self.password_resets.start(
                session, mobile=number, identity_number=identity_number, ip=ip
            )

    def finish_password_reset(
        self,
        reset_id: str,
        *,
        code: str | None,
        password: str | None,
        challenge_id: str | None,
        response: str | None,
        ip: str | None,
    ) -> int:
        """Check a reset's code and new password (a wrong code counted before it is
        refused), then set the password, confirmed by the customer's token or U盾
        when they hold one (``Platform.confirmed``). How many sessions ended."""
        target = f"password-reset:{reset_id[:8]}"
        with self.transaction() as session:
            checked = self.password_resets.check(session, reset_id, code=code, password=password)
            if checked.error is None:
                strong = self.stepup.strong_tools(session, checked.unwrap())
            else:
                self.audit.record(
                    session,
                    actor_kind="anonymous",
                    actor_id=None,
                    action="password.reset",
                    target=target,
                    result="refused",
                    ip=ip,
                    details={"error": checked.error.code},
                )
        customer_id = checked.unwrap()
        work = (
            self.confirmed(
                self.password_resets.change(customer_id, reset_id),
                customer_id=customer_id,
                challenge_id=challenge_id,
                response=response,
                action="password.reset",
                target=target,
                tools=strong,
            )
            if strong
            else self.audited(
                actor_kind="customer", actor_id=customer_id, action="password.reset", target=target
            )
        )
        with work as session:
            return self.password_resets.finish(session, reset_id, ip=ip)


def _challenge_details(challenge: Challenge) -> dict[str, Any]:
    return {
        "id": challenge.id,
        "tool": challenge.tool.value,
        "question": challenge.question,
        "expires_at": challenge.expires_at.isoformat(),
        "alternatives": [t.value for t in challenge.alternatives],
        "challenges_left": challenge.challenges_left,
    }
