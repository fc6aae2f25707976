"""The interface to other banks: pull money from a customer's card at another bank
(a top-up) or push money to it (a withdrawal), through a clearing network (in
China 网联 or 银联; abroad an ACH or card scheme).

Three facts about real networks shape this interface:

- A call can end without an answer (:class:`ClearingTimeout`); the money may or may
  not have moved. The caller must be able to ask later, so every request carries a
  ``reference`` the *bank* chose before calling (the originator's serial number,
  交易流水号), and :meth:`ClearingNetwork.status` answers by that reference.
- A request carries a ``deadline``; the network refuses to act on it after that
  instant. Once the deadline has passed, a network that never received a request
  can say so for good: it will never carry it out.
- The bank keeps no card number. Binding a card enrols it with the issuer, who
  answers with a token (签约协议号); money calls name the card by that token.

:class:`FakeClearingNetwork` is the in-memory stand-in used by tests and
development; it is not a network.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from rongbank.clock import Clock


class ClearingTimeout(Exception):
    """The network did not answer in time: the request may or may not have been
    carried out. Ask :meth:`ClearingNetwork.status` later."""


@dataclass(frozen=True, slots=True)
class ClearingRequest:
    reference: str
    """The bank's serial number: the network's idempotency key and what
    :meth:`ClearingNetwork.status` is asked with."""
    card_token: str
    amount: int
    """Minor units of ``currency``, positive."""
    currency: str
    deadline: datetime
    """The network must not carry out the request after this instant."""


@dataclass(frozen=True, slots=True)
class ClearingResult:
    reference: str
    status: Literal["succeeded", "failed"]
    reason: str = ""
    """Why it failed, in the network's words (shown to the customer)."""


@dataclass(frozen=True, slots=True)
class CardEnrolment:
    """The issuer's answer to a card binding: a token to name the card by, or a
    refusal with its reason."""

    token: str | None
    bank_name: str | None = None
    reason: str = ""


class ClearingNetwork(Protocol):
    def enrol_card(self, *, card_number: str, holder_name: str) -> CardEnrolment:
        """Ask the issuer to accept debits and credits of this card from us."""
        ...

    def debit_card(self, request: ClearingRequest) -> ClearingResult:
        """Pull ``amount`` from the card (a top-up). Raises :class:`ClearingTimeout`."""
        ...

    def credit_card(self, request: ClearingRequest) -> ClearingResult:
        """Push ``amount`` to the card (a withdrawal). Raises :class:`ClearingTimeout`."""
        ...

    def status(self, reference: str) -> ClearingResult:
        """What became of a request: what the network did, or ``failed`` if it never
        received it (final only once the request's deadline has passed). Raises
        :class:`ClearingTimeout`."""
        ...


NOT_RECEIVED = "not received by the clearing network"


@dataclass(frozen=True, slots=True)
class Succeed:
    """The next call on the card succeeds."""


@dataclass(frozen=True, slots=True)
class Decline:
    """The next call on the card is refused by the issuer."""

    reason: str = "declined by the card issuer"


@dataclass(frozen=True, slots=True)
class TimeOut:
    """The next call on the card raises :class:`ClearingTimeout`; with
    ``carried_out`` the network did the work anyway (and ``status`` says so)."""

    carried_out: bool


Behaviour = Succeed | Decline | TimeOut


ISSUERS = {
    **dict.fromkeys(("622202", "622208", "622200", "621226", "621225", "620200"), "工商银行"),
    **dict.fromkeys(("621661", "621660", "621663", "456351", "601382", "621785"), "中国银行"),
    **dict.fromkeys(("621700", "622700", "436742", "622280", "621284"), "建设银行"),
    **dict.fromkeys(("622848", "622845", "622846", "622841", "621282"), "农业银行"),
    **dict.fromkeys(("622588", "622575", "621483", "621485", "621486"), "招商银行"),
    **dict.fromkeys(("622260", "622262", "621069"), "交通银行"),
    **dict.fromkeys(("621799", "622188", "621098"), "邮储银行"),
}
"""The issuer the fake network names for a card, by its first six digits (the
issuer identification number, from which the real networks know a card's bank):
some well-known ones of the big banks, so that pages show what a customer would
see. Any other card is bound with no bank name, as a real answer without one is."""


def issuer_of(card_number: str) -> str | None:
    return ISSUERS.get(card_number[:6])


class FakeClearingNetwork:
    """An in-memory clearing network for tests and development: NOT a real one.

    Every card succeeds unless told otherwise with :meth:`script`. It keeps what it
    did per reference (so ``status`` tells the truth after a timeout and a repeated
    reference never moves money twice), counts calls, and with a ``clock`` refuses
    requests past their deadline. Thread-safe.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock
        self.unreachable = False
        """While True every call times out without doing anything (an outage)."""
        self.calls: list[tuple[str, str]] = []
        """(method, reference or masked card) for every call, in order."""
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._token_ids = itertools.count(1)
        self._refused: dict[str, str] = {}
        self._scripts: defaultdict[str, deque[Behaviour]] = defaultdict(deque)
        self._done: dict[str, ClearingResult] = {}
        self._moved: defaultdict[str, int] = defaultdict(int)

    # -- programming the fake ---------------------------------------------------------

    def script(self, card_number: str, *behaviours: Behaviour) -> None:
        """Queue what the next money calls on this card do (then: succeed)."""
        with self._lock:
            self._scripts[card_number].extend(behaviours)

    def refuse_enrolment(self, card_number: str, reason: str) -> None:
        with self._lock:
            self._refused[card_number] = reason

    # -- what it did ----------------------------------------------------------------------

    def moved(self, card_number: str) -> int:
        """Net amount credited to the card through this network (debits negative)."""
        with self._lock:
            return self._moved[card_number]

    def count(self, method: str) -> int:
        with self._lock:
            return sum(1 for name, _ in self.calls if name == method)

    # -- the network ----------------------------------------------------------------------

    def enrol_card(self, *, card_number: str, holder_name: str) -> CardEnrolment:
        with self._lock:
            self.calls.append(("enrol_card", card_number[-4:]))
            if self.unreachable:
                raise ClearingTimeout()
            if card_number in self._refused:
                return CardEnrolment(token=None, reason=self._refused[card_number])
            token = f"fake-token-{next(self._token_ids)}"
            self._tokens[token] = card_number
            return CardEnrolment(token=token, bank_name=issuer_of(card_number))

    def debit_card(self, request: ClearingRequest) -> ClearingResult:
        return self._move("debit_card", request, -request.amount)

    def credit_card(self, request: ClearingRequest) -> ClearingResult:
        return self._move("credit_card", request, request.amount)

    def status(self, reference: str) -> ClearingResult:
        with self._lock:
            self.calls.append(("status", reference))
            if self.unreachable:
                raise ClearingTimeout()
            return self._done.get(reference) or ClearingResult(reference, "failed", NOT_RECEIVED)

    def _move(self, method: str, request: ClearingRequest, signed: int) -> ClearingResult:
        with self._lock:
            self.calls.append((method, request.reference))
            if self.unreachable:
                raise ClearingTimeout()
            if request.reference in self._done:  # a repeated serial number moves nothing
                return self._done[request.reference]
            card = self._tokens.get(request.card_token)
            if card is None:
                return self._record(request, "failed", "unknown card")
            if self.clock is not None and self.clock.now() > request.deadline:
                return self._record(request, "failed", "request arrived after its deadline")
            script = self._scripts[card]
            behaviour = script.popleft() if script else Succeed()
            if isinstance(behaviour, Decline):
                return self._record(request, "failed", behaviour.reason)
            if isinstance(behaviour, TimeOut) and not behaviour.carried_out:
                raise ClearingTimeout()
            result = self._record(request, "succeeded", "")
            self._moved[card] += signed
            if isinstance(behaviour, TimeOut):
                raise ClearingTimeout()
            return result

    def _record(
        self, request: ClearingRequest, status: Literal["succeeded", "failed"], reason: str
    ) -> ClearingResult:
        result = ClearingResult(request.reference, status, reason)
        self._done[request.reference] = result
        return result
