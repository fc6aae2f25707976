"""A customer's account history and statement downloads (CSV, PDF, camt.053)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from rongbank.accounts.statements import (
    MAX_PDF_LINES,
    MAX_STATEMENT_LINES,
    HistoryFilter,
    PeriodStatement,
    StatementsService,
    render_camt053,
    render_csv,
    render_pdf,
)
from rongbank.api.deps import CustomerPrincipal, PlatformDep
from rongbank.api.docs import file_answer
from rongbank.api.one_hop import OneHopRoute
from rongbank.inputs import CountParam, Day
from rongbank.money import format_amount, parse_amount
from rongbank.platform import Platform

router = APIRouter(tags=["direct bank"], prefix="/me", route_class=OneHopRoute)

CNY_SCALE = 2


class MovementOut(BaseModel):
    posting_id: int
    entry_id: int
    at: datetime
    description: str
    counterparty: str
    direction: Literal["in", "out"]
    amount: str
    balance: str


class HistoryOut(BaseModel):
    account: str
    currency: str
    movements: list[MovementOut]
    next_after: int | None


def _service(platform: Platform) -> StatementsService:
    return StatementsService(platform.accounts, platform.ledger, platform.clock)


def _amount(value: str | None) -> int | None:
    return None if value is None else parse_amount(value, scale=CNY_SCALE, currency="CNY")


Start = Annotated[Day | None, Query(description="First business date (Beijing time)")]
End = Annotated[Day | None, Query(description="Last business date, included")]
AmountText = Annotated[str | None, Query(max_length=40, examples=["100.00"])]


@router.get("/accounts/{number}/history")
def history(
    number: str,
    platform: PlatformDep,
    me: CustomerPrincipal,
    start: Start = None,
    end: End = None,
    direction: Literal["in", "out"] | None = None,
    min_amount: AmountText = None,
    max_amount: AmountText = None,
    after: Annotated[CountParam, Query(ge=0, description="next_after of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HistoryOut:
    """Your account's movements, oldest first, filtered by period, direction and
    amount; follow ``next_after`` for more."""
    filters = HistoryFilter(
        start=start,
        end=end,
        direction=direction,
        min_amount=_amount(min_amount),
        max_amount=_amount(max_amount),
    )
    with platform.transaction() as session:
        page = _service(platform).history(
            session, customer_id=me.id, number=number, filters=filters, after=after, limit=limit
        )
    return HistoryOut(
        account=page.account.number,
        currency=page.account.currency,
        movements=[
            MovementOut(
                posting_id=m.posting_id,
                entry_id=m.entry_id,
                at=m.at,
                description=m.description,
                counterparty=m.counterparty,
                direction=m.direction,
                amount=format_amount(abs(m.amount), scale=CNY_SCALE),
                balance=format_amount(m.balance, scale=CNY_SCALE),
            )
            for m in page.movements
        ],
        next_after=page.next_after,
    )


def _statement(
    platform: Platform,
    customer_id: int,
    number: str,
    start: date | None,
    end: date | None,
    *,
    enterprise_only: bool = False,
    max_lines: int = MAX_STATEMENT_LINES,
) -> PeriodStatement:
    with platform.standby_reads() as session:
        return _service(platform).statement(
            session,
            customer_id=customer_id,
            number=number,
            start=start,
            end=end,
            enterprise_only=enterprise_only,
            max_lines=max_lines,
        )


def _download(statement: PeriodStatement, content: bytes, media_type: str, suffix: str) -> Response:
    # The file name carries only the last four digits, like the masked number.
    name = (
        f"statement-{statement.account.number[-4:]}-"
        f"{statement.start:%Y%m%d}-{statement.end:%Y%m%d}.{suffix}"
    )
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


_STATEMENT_DOC = (
    "Your account's statement for business dates ``start`` to ``end`` (both included; "
    "default: this month so far), with opening and closing balances."
)


@router.get(
    "/accounts/{number}/statement.csv",
    response_class=Response,
    responses=file_answer("text/csv", description="The statement."),
    description=_STATEMENT_DOC + " UTF-8 with a byte-order mark, for Excel.",
)
def statement_csv(
    number: str, platform: PlatformDep, me: CustomerPrincipal, start: Start = None, end: End = None
) -> Response:
    statement = _statement(platform, me.id, number, start, end)
    return _download(statement, render_csv(statement), "text/csv; charset=utf-8", "csv")


@router.get(
    "/accounts/{number}/statement.pdf",
    response_class=Response,
    responses=file_answer("application/pdf", description="The statement."),
    description=_STATEMENT_DOC,
)
def statement_pdf(
    number: str, platform: PlatformDep, me: CustomerPrincipal, start: Start = None, end: End = None
) -> Response:
    statement = _statement(platform, me.id, number, start, end, max_lines=MAX_PDF_LINES)
    return _download(statement, render_pdf(statement), "application/pdf", "pdf")


@router.get(
    "/accounts/{number}/statement.xml",
    response_class=Response,
    responses=file_answer("application/xml", description="The statement."),
    description=_STATEMENT_DOC + " ISO 20022 camt.053.001.08, for enterprise customers.",
)
def statement_camt053(
    number: str, platform: PlatformDep, me: CustomerPrincipal, start: Start = None, end: End = None
) -> Response:
    statement = _statement(platform, me.id, number, start, end, enterprise_only=True)
    return _download(statement, render_camt053(statement), "application/xml", "xml")
