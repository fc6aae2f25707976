"""A payment confirmed on a page: the challenge the bank asks (shown, carried back
with the answer) and the answer run through ``Platform.authorised``, for every page
that moves money (transfers, e-Pay, wealth, withdrawals...)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Form
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.accounts.identity import mask_mobile
from rongbank.auth import otp
from rongbank.auth.limits import ToolKind
from rongbank.auth.stepup import (
    ChallengeExpired,
    ChallengeFailed,
    ChallengeMismatch,
    ChallengeNotFound,
    ChallengeRequired,
    ToolBlocked,
    ToolNotHeld,
)
from rongbank.auth.tools import PaymentRequest, ToolNotActive
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.errors import DomainError, InvalidRequest
from rongbank.idempotency import Keyed
from rongbank.platform import Platform


def challenge_view(challenge: Mapping[str, Any], *, mobile: str) -> dict[str, Any]:
    """What the confirmation page shows of a challenge (``Platform.authorised``'s
    details), and the same details packed to come back with the answer: a wrong answer
    shows the same challenge again without asking the engine for it."""
    question = str(challenge["question"])
    expires_at = datetime.fromisoformat(str(challenge["expires_at"]))
    return {
        "id": challenge["id"],
        "tool": challenge["tool"],
        "question": question,
        "alternatives": list(challenge["alternatives"]),
        "until": expires_at.astimezone(BUSINESS_TIME_ZONE).strftime("%H:%M"),
        "carried": base64.urlsafe_b64encode(json.dumps(dict(challenge)).encode()).decode(),
        "mobile": mask_mobile(mobile),
        "positions": question.split(",") if challenge["tool"] == ToolKind.GRID_CARD else [],
        "challenges_left": challenge.get("challenges_left"),
        "token_payee": question[: otp.PAYEE_DIGITS],
        "token_amount": question[otp.PAYEE_DIGITS :],
        "text_href": data_url(question.encode(), "text/plain;charset=utf-8"),
    }


def carried_challenge(carried: str, challenge_id: str) -> dict[str, Any] | None:
    """The challenge the page showed, as it came back in the form; None when it does
    not describe ``challenge_id``. Only shown again: the engine checks the answer."""
    try:
        challenge = json.loads(base64.urlsafe_b64decode(carried.encode()))
        ToolKind(challenge["tool"])
        datetime.fromisoformat(challenge["expires_at"])
        fits = (
            challenge["id"] == challenge_id
            and isinstance(challenge["question"], str)
            and isinstance(challenge["alternatives"], list)
        )
    except (ValueError, TypeError, KeyError):
        return None
    return challenge if fits else None


def data_url(content: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(content).decode()}"


class ResponseMissing(InvalidRequest):
    code = "response_missing"
    message = "Please enter the code."


ChallengeField = Annotated[str, Form(max_length=64)]
ResponseField = Annotated[str, Form(max_length=64)]
ChallengeCarried = Annotated[str, Form(max_length=8000)]
Responses = Annotated[list[str] | None, Form()]
ToolChoice = Annotated[str, Form(max_length=20)]


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """What a payment's confirmation form sends back: the challenge it showed (None:
    it showed none, or the customer asked for another tool), the answer (one field, or
    one per grid card position, joined), and the tool the customer asked for instead."""

    shown: dict[str, Any] | None
    answer: str
    prefer: ToolKind | None

    @classmethod
    def of(
        cls, *, challenge_id: str, challenge: str, response: list[str] | None, tool: str
    ) -> ChallengeAnswer:
        try:
            prefer = ToolKind(tool) if tool else None
        except ValueError:
            prefer = None
        return cls(
            shown=None if tool else carried_challenge(challenge, challenge_id),
            answer=" ".join(part.strip() for part in response or []).strip(),
            prefer=prefer,
        )


def confirm_payment(
    platform: Platform,
    customer_id: int,
    payment: PaymentRequest,
    answered: ChallengeAnswer,
    work: Callable[[Session], Response],
    *,
    already_done: Callable[[Session], bool],
    again: Callable[[Mapping[str, Any] | None, DomainError | None], Response],
    refused: Callable[[DomainError], Response],
    done_before: Callable[[], Response],
    idempotency: Keyed | None = None,
) -> Response:
    """Run ``work`` (which moves the money and renders the receipt) as a payment the
    customer confirms on a page: within the password-free allowance at once, else
    ``again`` shows the confirmation page with the challenge to answer, or with why
    the answer did not count (no challenge: a button to ask anew). Other refusals go
    to ``refused``; ``done_before`` shows a payment already made by this very form."""

    def pay(step_up: StepUpAnswer) -> Response:
        with platform.authorised(
            payment,
            customer_id=customer_id,
            challenge_id=step_up.challenge_id,
            response=step_up.response,
            prefer=step_up.prefer,
            already_done=already_done,
            idempotency=idempotency,
        ) as session:
            return work(session)

    return confirm_step_up(
        platform,
        answered,
        pay,
        already_done=already_done,
        again=again,
        refused=refused,
        done_before=done_before,
    )


@dataclass(frozen=True, slots=True)
class StepUpAnswer:
    """What a confirmation form answers the step-up with (``Platform.authorised``)."""

    challenge_id: str | None
    response: str | None
    prefer: ToolKind | None


def confirm_step_up(
    platform: Platform,
    answered: ChallengeAnswer,
    pay: Callable[[StepUpAnswer], Response],
    *,
    already_done: Callable[[Session], bool],
    again: Callable[[Mapping[str, Any] | None, DomainError | None], Response],
    refused: Callable[[DomainError], Response],
    done_before: Callable[[], Response],
) -> Response:
    """:func:`confirm_payment` for a payment that opens its own authorised transaction
    (a withdrawal, which commits before it calls the other bank): ``pay`` runs it with
    the form's answer, and the step-up's answers are shown as there."""
    try:
        if answered.shown is not None and not answered.answer:
            raise ResponseMissing()
        page = pay(
            StepUpAnswer(
                challenge_id=answered.shown["id"] if answered.shown else None,
                response=answered.answer if answered.shown else None,
                prefer=answered.prefer,
            )
        )
    except ChallengeRequired as required:
        return again(required.details["challenge"], None)
    except (ChallengeFailed, ResponseMissing) as error:
        return again(answered.shown, error)
    except (
        ToolBlocked,
        ToolNotActive,
        ToolNotHeld,
        ChallengeExpired,
        ChallengeMismatch,
        ChallengeNotFound,
    ) as error:
        if isinstance(error, ChallengeExpired):
            with platform.transaction() as session:
                paid = already_done(session)
            if paid:
                # The answered form sent twice (a double click): the first one paid
                # and spent the challenge. The customer sees the payment, not "expired".
                return done_before()
        return again(None, error)
    except DomainError as error:
        return refused(error)
    return page
