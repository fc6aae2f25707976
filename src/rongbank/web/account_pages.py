"""The customer's accounts in the web bank: the list with what is available in
each, a transfer between e-accounts (the form, the review, the confirmation with the
customer's authentication tool when the bank asks), and statements to download."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from rongbank.accounts.receipts import transfer_entry
from rongbank.accounts.service import EAccount
from rongbank.accounts.statements import Movement, StatementsService, render_csv, render_pdf
from rongbank.api.one_hop import OneHopRoute
from rongbank.auth.service import Principal
from rongbank.auth.tools import PaymentRequest
from rongbank.errors import DomainError, Forbidden
from rongbank.idempotency import keyed
from rongbank.inputs import Day
from rongbank.money import format_amount, parse_positive_amount
from rongbank.platform import Platform
from rongbank.web.csrf import check_csrf
from rongbank.web.i18n import translate
from rongbank.web.pages import Me, PlatformDep, local_time, refusal_text, render
from rongbank.web.step_up import (
    ChallengeAnswer,
    ChallengeCarried,
    ChallengeField,
    Responses,
    ToolChoice,
    challenge_view,
    confirm_payment,
)

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)


def accounts_view(platform: Platform, customer_id: int) -> list[dict[str, Any]]:
    with platform.transaction() as session:
        return [
            _account_view(account, available)
            for account, available in platform.accounts.accounts_of(session, customer_id)
        ]


def _account_view(account: EAccount, available: int) -> dict[str, Any]:
    return {
        "number": account.number,
        "class": account.account_class,
        "status": account.status,
        "reason": account.status_reason,
        "available": format_amount(available, scale=2),
    }


@router.get("/accounts")
def accounts(request: Request, platform: PlatformDep, me: Me) -> Response:
    with platform.transaction() as session:
        customer = platform.accounts.customer(session, me.id)
        login = platform.auth.login_history(session, me)
    return render(
        request,
        "accounts.html",
        customer=customer,
        accounts=accounts_view(platform, me.id),
        previous_login=login.previous_login_at and local_time(login.previous_login_at),
        failed_logins=login.failures_before_login,
    )


@router.get("/transfer")
def transfer_page(request: Request, platform: PlatformDep, me: Me, to: str = "") -> Response:
    """The transfer form; ``to`` fills in the payee picked (a saved or recent one)."""
    with platform.transaction() as session:
        saved = platform.payees.saved(session, me.id)
        recent = [r for r in platform.payees.recent(session, me.id, limit=5) if not r.saved]
    return render(
        request,
        "transfer.html",
        accounts=accounts_view(platform, me.id),
        form={"destination": to[:40]},
        saved_payees=saved,
        recent_payees=recent,
    )


@router.post("/transfer")
def transfer_review(
    request: Request,
    platform: PlatformDep,
    me: Me,
    source: Annotated[str, Form(max_length=40)],
    destination: Annotated[str, Form(max_length=40)],
    amount: Annotated[str, Form(max_length=40)],
    note: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """First step: check what can be checked and show it back for confirmation."""
    check_csrf(request, csrf)
    form = {
        "source": source,
        "destination": destination.replace(" ", ""),
        "amount": amount,
        "note": note,
    }
    try:
        minor = parse_positive_amount(amount.strip(), scale=2, currency="CNY")
        with platform.transaction() as session:
            # Refused here, not after the customer has confirmed: the same account,
            # more than is available, the limits.
            _, payee = platform.accounts.review_transfer(
                session,
                customer_id=me.id,
                source=source,
                destination=form["destination"],
                amount=minor,
            )
            payee_name = platform.accounts.customer(session, payee.customer_id).name
    except DomainError as error:
        return render(
            request,
            "transfer.html",
            422,
            accounts=accounts_view(platform, me.id),
            form=form,
            error=refusal_text(request, error),
        )
    return render(
        request,
        "confirm.html",
        form={**form, "amount": format_amount(minor, scale=2)},
        payee_name=masked_name(payee_name),
        client_id=uuid.uuid4().hex,
    )


def masked_name(name: str) -> str:
    """Show the payee as banks do (*小明) so the payer can recognise, not learn, it."""
    return "*" + name[1:] if len(name) > 1 else name


def _confirm_again(
    request: Request,
    platform: Platform,
    me: Principal,
    form: dict[str, str],
    client_id: str,
    *,
    challenge: Mapping[str, Any] | None,
    error: DomainError | None = None,
) -> Response:
    """The confirmation page once more: with the challenge to answer, or with why the
    last answer did not count (and then, without a challenge, a button to ask anew)."""
    with platform.transaction() as session:
        payee = platform.accounts.account(session, form["destination"])
        payee_name = platform.accounts.customer(session, payee.customer_id).name
        mobile = platform.accounts.customer(session, me.id).mobile
    return render(
        request,
        "confirm.html",
        200 if error is None else 422,
        form=form,
        payee_name=masked_name(payee_name),
        client_id=client_id,
        challenge=None if challenge is None else challenge_view(challenge, mobile=mobile),
        error=None if error is None else refusal_text(request, error),
    )


@router.post("/transfer/confirm")
def transfer_confirm(
    request: Request,
    platform: PlatformDep,
    me: Me,
    source: Annotated[str, Form(max_length=40)],
    destination: Annotated[str, Form(max_length=40)],
    amount: Annotated[str, Form(max_length=40)],
    client_id: Annotated[str, Form(max_length=64)],
    note: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
    challenge_id: ChallengeField = "",
    challenge: ChallengeCarried = "",
    response: Responses = None,
    tool: ToolChoice = "",
) -> Response:
    """Second step: the customer confirms, and answers the challenge when the bank
    asks for one (``response``: one field, or one per grid card position). ``tool``
    asks for a new challenge on another of the customer's tools instead."""
    check_csrf(request, csrf)
    form = {"source": source, "destination": destination, "amount": amount, "note": note}
    ledger_client_id = f"web:{client_id}"

    def made(session: Session) -> bool:
        return platform.accounts.transfer_made(
            session, customer_id=me.id, client_id=ledger_client_id
        )

    def refused(error: DomainError) -> Response:
        return render(
            request,
            "transfer.html",
            422,
            accounts=accounts_view(platform, me.id),
            form=form,
            error=refusal_text(request, error),
        )

    def entry() -> int | None:
        with platform.transaction() as session:
            return transfer_entry(
                session, platform.ledger, customer_id=me.id, client_id=ledger_client_id
            )

    try:
        minor = parse_positive_amount(amount, scale=2, currency="CNY")
    except DomainError as error:
        return refused(error)

    def pay(session: Session) -> Response:
        done = platform.accounts.transfer(
            session,
            customer_id=me.id,
            source=source,
            destination=destination,
            amount=minor,
            client_id=ledger_client_id,
            description=note,
        )
        saved = platform.payees.by_account(session, me.id, destination)
        return render(
            request,
            "done.html",
            form=form,
            entry_id=done.entry_id,
            saved_payee=saved,
            held=done.status == "held",  # the fraud engine's review holds the money
        )

    return confirm_payment(
        platform,
        me.id,
        PaymentRequest(
            purpose="transfer",
            payer=source,
            payee=destination,
            amount=minor,
            currency="CNY",
            client_id=ledger_client_id,
        ),
        ChallengeAnswer.of(
            challenge_id=challenge_id, challenge=challenge, response=response, tool=tool
        ),
        pay,
        already_done=made,
        again=lambda shown, error: _confirm_again(
            request, platform, me, form, client_id, challenge=shown, error=error
        ),
        refused=refused,
        done_before=lambda: render(request, "done.html", form=form, entry_id=entry()),
        # The API's scope: a refused form is answered the same if sent again (its
        # page then starts a new transfer, with a new id).
        idempotency=keyed(
            f"customer:{me.id}:transfer",
            ledger_client_id,
            {"source": source, "destination": destination, "amount": minor, "description": note},
        ),
    )


def statements_service(platform: Platform) -> StatementsService:
    return StatementsService(platform.accounts, platform.ledger, platform.clock)


def movement_view(m: Movement, lang: str) -> dict[str, Any]:
    return {
        "entry_id": m.entry_id,
        # A transfer between e-accounts has a receipt (``/receipts/{entry_id}``).
        "receipt": m.kind == "transfer" and bool(m.counterparty),
        "at": local_time(m.at),
        # The bank's own names in the reader's language; a payer's note as written.
        "description": translate(lang)[f"memo_{m.memo}"] if m.memo else m.description,
        "counterparty": m.counterparty,
        "amount": format_amount(m.amount, scale=2),
        "balance": format_amount(m.balance, scale=2),
        "direction": m.direction,
    }


@router.get("/statement.{fmt}")
def statement_download(
    fmt: str, request: Request, platform: PlatformDep, me: Me, account: str, start: Day, end: Day
) -> Response:
    renderers = {
        "csv": (render_csv, "text/csv; charset=utf-8"),
        "pdf": (render_pdf, "application/pdf"),
    }
    if fmt not in renderers:
        raise Forbidden("Statements come as CSV or PDF here.")
    render_statement, media_type = renderers[fmt]
    with platform.standby_reads() as session:
        statement = statements_service(platform).statement(
            session, customer_id=me.id, number=account, start=start, end=end
        )
    filename = f"statement-{account[-4:]}-{start}-{end}.{fmt}"
    return Response(
        render_statement(statement),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
