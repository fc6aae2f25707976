"""Account history and statements (交易明细, 对账单) of a customer's e-accounts.

Everything here is read from the ledger: an e-account's movements are the posted
postings of its ledger account, its balances the ledger's running balances. The
statement of a period (business dates, Beijing time, both ends included) renders
as CSV for spreadsheets, PDF for people, and ISO 20022 camt.053 for enterprises'
bookkeeping systems. A customer sees only their own accounts: asking for any
other number gets the same answer as a number that does not exist.
"""

from __future__ import annotations

import csv
import io
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.errors import EAccountNotFound
from rongbank.accounts.service import AccountsService, Customer, EAccount
from rongbank.branding import BANK_NAME, CjkFont, find_cjk_font
from rongbank.clock import BUSINESS_TIME_ZONE, Clock
from rongbank.errors import Forbidden, InvalidRequest
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.repository import StatementRow
from rongbank.ledger.service import LedgerService, normal_side
from rongbank.money import format_amount

CNY_SCALE = 2

EARLIEST = date(2000, 1, 1)
"""History without a start date starts here (before any account of this bank)."""
MAX_STATEMENT_DAYS = 366
MAX_STATEMENT_LINES = 10_000
"""More movements than this in one statement: ask for a shorter period."""
MAX_PDF_LINES = 2_000
"""A PDF takes about 1.5 s per thousand lines to lay out (measured), time a worker
is tied up for; a longer period is for CSV, or for several PDFs."""
HISTORY_SCAN = 5_000
"""At most this many movements are read to fill one filtered history page; a page
with fewer matches then still carries a cursor to go on from."""
_LEDGER_PAGE = 1_000

Direction = Literal["in", "out"]


class StatementPeriodInvalid(InvalidRequest):
    code = "statement_period_invalid"
    message = (
        "Choose a period that starts on or before its end, ends no later than today, "
        f"and spans at most {MAX_STATEMENT_DAYS} days."
    )


class StatementTooLong(InvalidRequest):
    code = "statement_too_long"
    message = (
        "The period has too many movements for one statement in this format; choose a "
        "shorter period (or CSV, which holds the most)."
    )


class Camt053ForEnterprisesOnly(Forbidden):
    code = "camt053_for_enterprises_only"
    message = (
        "ISO 20022 camt.053 statements are offered to enterprise customers; "
        "download the statement as CSV or PDF instead."
    )


def mask_account_number(number: str) -> str:
    """``6288880000000000018`` -> ``6288****0018``: the first and last four digits,
    as on Chinese bank slips. The stars are always four, so the mask does not even
    tell the length; a number too short to keep eight digits is hidden whole."""
    if len(number) < 12:
        return "*" * len(number)
    return f"{number[:4]}****{number[-4:]}"


@dataclass(frozen=True, slots=True)
class Movement:
    """One posted movement of an account, from the customer's side."""

    posting_id: int
    entry_id: int
    kind: str
    """The ledger entry's kind ("transfer", "reversal"...), or "interest"."""
    at: datetime
    description: str
    counterparty: str
    """The other account, masked; empty when it is the bank's own (interest, fees)."""
    amount: int
    """Fen: > 0 money in (a credit to the account), < 0 money out (a debit)."""
    balance: int
    """The account's balance in fen once this movement was booked."""
    memo: str = ""
    """Which of :data:`BANK_MEMOS` names this movement (then ``description`` is that
    name, and a page in another language shows its own word for it); empty when the
    description is text someone gave it (a payer's note, a merchant's order)."""

    @property
    def direction(self) -> Direction:
        return "in" if self.amount > 0 else "out"

    @property
    def debit(self) -> int:
        return -self.amount if self.amount < 0 else 0

    @property
    def credit(self) -> int:
        return self.amount if self.amount > 0 else 0


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    start: date | None = None
    end: date | None = None
    """Business dates (Beijing time), both included."""
    direction: Direction | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    """Fen, compared with the movement's amount whatever its direction."""

    def matches(self, movement: Movement) -> bool:
        size = abs(movement.amount)
        return (
            (self.direction is None or movement.direction == self.direction)
            and (self.min_amount is None or size >= self.min_amount)
            and (self.max_amount is None or size <= self.max_amount)
        )


@dataclass(frozen=True, slots=True)
class HistoryPage:
    account: EAccount
    movements: list[Movement]
    next_after: int | None
    """Pass as ``after`` for the next page; None when there is nothing further."""


@dataclass(frozen=True, slots=True)
class PeriodStatement:
    account: EAccount
    holder: Customer
    start: date
    end: date
    opening: int
    closing: int
    movements: list[Movement]
    generated_at: datetime

    @property
    def total_debits(self) -> int:
        return sum(m.debit for m in self.movements)

    @property
    def total_credits(self) -> int:
        return sum(m.credit for m in self.movements)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), BUSINESS_TIME_ZONE)


class StatementsService:
    def __init__(self, accounts: AccountsService, ledger: LedgerService, clock: Clock) -> None:
        self.accounts = accounts
        self.ledger = ledger
        self.clock = clock

    def own_account(self, session: Session, *, customer_id: int, number: str) -> EAccount:
        """The customer's account; another customer's is "not found", exactly as a
        number that does not exist, so that nobody can probe which numbers exist."""
        account = self.accounts.account(session, number)
        if account.customer_id != customer_id:
            raise EAccountNotFound()
        return account

    def history(
        self,
        session: Session,
        *,
        customer_id: int,
        number: str,
        filters: HistoryFilter,
        after: int = 0,
        limit: int = 20,
    ) -> HistoryPage:
        """Movements in booking order, filtered, ``limit`` at a time."""
        account = self.own_account(session, customer_id=customer_id, number=number)
        start = filters.start or EARLIEST
        end = filters.end or self.accounts.business_day()
        if end < start:
            raise StatementPeriodInvalid(start=start.isoformat(), end=end.isoformat())
        found: list[Movement] = []
        scanned = 0
        while True:
            page = self.ledger.statement(
                session,
                account.ledger_account_id,
                start=_midnight(start),
                end=_midnight(end + timedelta(days=1)),
                after=after,
                limit=min(_LEDGER_PAGE, HISTORY_SCAN - scanned),
            )
            movements = self._movements(session, account, page.lines)
            for index, movement in enumerate(movements):
                after = movement.posting_id
                if filters.matches(movement):
                    found.append(movement)
                    if len(found) == limit:
                        more = index + 1 < len(movements) or page.next_after is not None
                        return HistoryPage(account, found, after if more else None)
            scanned += len(movements)
            if page.next_after is None:
                return HistoryPage(account, found, None)
            if scanned >= HISTORY_SCAN:
                return HistoryPage(account, found, after)

    def statement(
        self,
        session: Session,
        *,
        customer_id: int,
        number: str,
        start: date | None = None,
        end: date | None = None,
        enterprise_only: bool = False,
        max_lines: int = MAX_STATEMENT_LINES,
    ) -> PeriodStatement:
        """The statement of business dates ``start`` to ``end`` (default: this month
        so far), with opening and closing balances and every movement between."""
        account = self.own_account(session, customer_id=customer_id, number=number)
        holder = self.accounts.customer(session, account.customer_id)
        if enterprise_only and holder.kind != "enterprise":
            raise Camt053ForEnterprisesOnly()
        today = self.accounts.business_day()
        end = end or today
        start = start or end.replace(day=1)
        if not start <= end <= today or (end - start).days >= MAX_STATEMENT_DAYS:
            raise StatementPeriodInvalid(start=start.isoformat(), end=end.isoformat())
        movements: list[Movement] = []
        after = 0
        while True:
            page = self.ledger.statement(
                session,
                account.ledger_account_id,
                start=_midnight(start),
                end=_midnight(end + timedelta(days=1)),
                after=after,
                limit=_LEDGER_PAGE,
            )
            movements.extend(self._movements(session, account, page.lines))
            if len(movements) > max_lines:
                raise StatementTooLong(maximum=max_lines)
            if page.next_after is None:
                break
            after = page.next_after
        # The ledger's balances are on the account's normal side already.
        return PeriodStatement(
            account=account,
            holder=holder,
            start=start,
            end=end,
            opening=page.opening,
            closing=page.closing,
            movements=movements,
            generated_at=self.clock.now(),
        )

    def _movements(
        self, session: Session, account: EAccount, lines: Sequence[StatementRow]
    ) -> list[Movement]:
        ledger_account = self.ledger.account(session, account.ledger_account_id)
        others = _counterparties(session, account, [line.entry_id for line in lines])
        movements = []
        for line in lines:
            amount = normal_side(ledger_account.type, line.amount)
            kind = "interest" if line.client_id.startswith(f"{Namespace.INTEREST}:") else line.kind
            memo = bank_memo(line.client_id, kind, line.description, amount)
            movements.append(
                Movement(
                    posting_id=line.posting_id,
                    entry_id=line.entry_id,
                    kind=kind,
                    at=line.created_at,
                    description=BANK_MEMOS[memo] if memo else line.description,
                    memo=memo,
                    counterparty=others.get(line.entry_id, ""),
                    amount=amount,
                    balance=normal_side(ledger_account.type, line.balance_after),
                )
            )
        return movements


BANK_MEMOS = {
    "interest": "活期存款利息",
    "reversal": "冲正",
    "top_up": "银行卡充值",
    "withdrawal": "提现至银行卡",
    "withdrawal_returned": "提现未成功退回",
    "opening_balance": "演示账户期初资金",
    "money_in": "转入",
    "money_out": "转出",
}
"""The bank's own names of movements (摘要) on histories and statements, in Chinese;
the web pages name them in the reader's language by the same keys."""


def bank_memo(client_id: str, kind: str, description: str, amount: int) -> str:
    """The key in :data:`BANK_MEMOS` of a movement the bank names itself, or "" for
    one whose description someone gave it. A movement the bank makes (interest, a
    top-up, a withdrawal, a demo's opening balance) is named from what it is, never
    from the text stored with it: entries written before these names were English."""
    namespace, _, rest = client_id.partition(":")
    if kind == "interest":
        return "interest"
    if namespace == Namespace.FUNDING:
        step = rest.rpartition(":")[2]
        return {"credit": "top_up", "void": "withdrawal_returned"}.get(step, "withdrawal")
    if namespace == Namespace.DEMO:
        return "opening_balance"
    if description:
        return ""
    if kind == "reversal":
        return "reversal"
    return "money_in" if amount > 0 else "money_out"


def _counterparties(session: Session, account: EAccount, entry_ids: list[int]) -> dict[int, str]:
    """The masked e-account on the other side of each entry, where there is one.

    One query for a whole page instead of one ledger lookup per line; it reads the
    ledger's postings of the given entries and nothing else."""
    if not entry_ids:
        return {}
    rows = session.execute(
        text(
            "SELECT DISTINCT ON (p.entry_id) p.entry_id, a.number FROM ledger_posting p "
            "JOIN e_account a ON a.ledger_account_id = p.account_id "
            "WHERE p.entry_id = ANY(:ids) AND p.account_id <> :own AND NOT p.pending "
            "ORDER BY p.entry_id, p.id"
        ),
        {"ids": entry_ids, "own": account.ledger_account_id},
    ).all()
    return {int(row[0]): mask_account_number(str(row[1])) for row in rows}


# -- rendering ------------------------------------------------------------------------


def _yuan(fen: int) -> str:
    return format_amount(fen, scale=CNY_SCALE)


def _local(at: datetime) -> datetime:
    return at.astimezone(BUSINESS_TIME_ZONE)


def _cell(value: str) -> str:
    """Text a spreadsheet must not run as a formula (a description the payer typed
    could start with "=" ...: CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


CSV_HEADER = (
    "日期 Date",
    "摘要 Description",
    "对方账户 Counterparty",
    "支出 Debit",
    "收入 Credit",
    "余额 Balance",
)


def render_csv(statement: PeriodStatement) -> bytes:
    """UTF-8 with a byte-order mark, which is what makes Excel read Chinese right,
    and CRLF line ends (RFC 4180). Opening and closing balances are rows of their
    own; the closing row carries the period's totals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerow(
        [
            statement.start.isoformat(),
            "期初余额 Opening balance",
            "",
            "",
            "",
            _yuan(statement.opening),
        ]
    )
    for m in statement.movements:
        writer.writerow(
            [
                _local(m.at).strftime("%Y-%m-%d %H:%M:%S"),
                _cell(m.description),
                m.counterparty,
                _yuan(m.debit) if m.debit else "",
                _yuan(m.credit) if m.credit else "",
                _yuan(m.balance),
            ]
        )
    writer.writerow(
        [
            statement.end.isoformat(),
            "期末余额 Closing balance",
            "",
            _yuan(statement.total_debits),
            _yuan(statement.total_credits),
            _yuan(statement.closing),
        ]
    )
    return out.getvalue().encode("utf-8-sig")


def render_pdf(statement: PeriodStatement, *, font: CjkFont | None = None) -> bytes:
    """An A4 statement with the holder's name, the masked account number, the period,
    a summary, and every movement (the table's heading repeats on each page)."""
    # Imported on use: fpdf2 takes 0.2 s to import, which every API process would
    # otherwise pay at start.
    from fpdf import FPDF
    from fpdf.enums import WrapMode
    from fpdf.fonts import FontFace

    class StatementPdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("cjk", size=8)
            self.cell(w=0, h=5, text=f"第 {self.page_no()}/{{nb}} 页", align="C")

    font = font or find_cjk_font()
    pdf = StatementPdf(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(f"对账单 Statement {mask_account_number(statement.account.number)}")
    pdf.set_creator(BANK_NAME)
    pdf.add_font("cjk", fname=str(font.path), collection_font_number=font.index)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.cell(text=f"{BANK_NAME} 账户对账单 Account statement", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("cjk", size=10)
    account = statement.account
    for label, value in (
        ("户名 Holder", statement.holder.name),
        ("账号 Account", mask_account_number(account.number)),
        ("币种 Currency", f"{account.currency} 人民币"),
        ("期间 Period", f"{statement.start} 至 {statement.end}"),
        ("期初余额 Opening balance", _yuan(statement.opening)),
        ("支出合计 Total debits", _yuan(statement.total_debits)),
        ("收入合计 Total credits", _yuan(statement.total_credits)),
        ("期末余额 Closing balance", _yuan(statement.closing)),
        ("生成时间 Generated", _local(statement.generated_at).strftime("%Y-%m-%d %H:%M:%S")),
    ):
        pdf.cell(w=55, h=6, text=label)
        pdf.cell(h=6, text=value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("cjk", size=8)
    with pdf.table(
        col_widths=(30, 50, 34, 24, 24, 28),
        text_align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis=None, fill_color=(230, 230, 230)),
        wrapmode=WrapMode.CHAR,
        line_height=5,
    ) as table:
        table.row(CSV_HEADER)
        table.row(
            [str(statement.start), "期初余额 Opening balance", "", "", "", _yuan(statement.opening)]
        )
        for m in statement.movements:
            table.row(
                [
                    _local(m.at).strftime("%Y-%m-%d %H:%M"),
                    m.description,
                    m.counterparty,
                    _yuan(m.debit) if m.debit else "",
                    _yuan(m.credit) if m.credit else "",
                    _yuan(m.balance),
                ]
            )
        table.row(
            [
                str(statement.end),
                "期末余额 Closing balance",
                "",
                _yuan(statement.total_debits),
                _yuan(statement.total_credits),
                _yuan(statement.closing),
            ]
        )
    return bytes(pdf.output())


CAMT053_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def render_camt053(statement: PeriodStatement) -> bytes:
    """ISO 20022 camt.053.001.08 (BankToCustomerStatementV08), in the schema's
    element order: one statement with the opening (OPBD) and closing (CLBD) booked
    balances, a summary, and one booked entry per movement whose AcctSvcrRef is the
    ledger entry id."""
    sub = _camt_element

    def amount(parent: ET.Element, tag: str, fen: int) -> None:
        sub(parent, tag, _yuan(abs(fen)), Ccy=statement.account.currency)

    def side(fen: int) -> str:
        return "CRDT" if fen >= 0 else "DBIT"

    def iso(at: datetime) -> str:
        return _local(at).isoformat(timespec="seconds")

    account = statement.account
    created = statement.generated_at
    # Unprefixed names in the document's default namespace, as banks send camt.
    document = ET.Element("Document", xmlns=CAMT053_NAMESPACE)
    root = sub(document, "BkToCstmrStmt")
    header = sub(root, "GrpHdr")
    sub(header, "MsgId", camt_message_id(created))
    sub(header, "CreDtTm", iso(created))
    stmt = sub(root, "Stmt")
    sub(stmt, "Id", f"{account.id}-{statement.start:%Y%m%d}-{statement.end:%Y%m%d}")
    sub(stmt, "CreDtTm", iso(created))
    period = sub(stmt, "FrToDt")
    sub(period, "FrDtTm", iso(_midnight(statement.start)))
    sub(period, "ToDtTm", iso(_midnight(statement.end + timedelta(days=1)) - timedelta(seconds=1)))
    acct = sub(stmt, "Acct")
    sub(sub(sub(acct, "Id"), "Othr"), "Id", account.number)
    sub(acct, "Ccy", account.currency)
    sub(sub(acct, "Ownr"), "Nm", statement.holder.name[:140])
    sub(sub(sub(acct, "Svcr"), "FinInstnId"), "Nm", BANK_NAME)
    for code, fen, day in (
        ("OPBD", statement.opening, statement.start),
        ("CLBD", statement.closing, statement.end),
    ):
        balance = sub(stmt, "Bal")
        sub(sub(sub(balance, "Tp"), "CdOrPrtry"), "Cd", code)
        amount(balance, "Amt", fen)
        sub(balance, "CdtDbtInd", side(fen))
        sub(sub(balance, "Dt"), "Dt", day.isoformat())
    summary = sub(stmt, "TxsSummry")
    total = sub(summary, "TtlNtries")
    sub(total, "NbOfNtries", str(len(statement.movements)))
    sub(total, "Sum", _yuan(statement.total_credits + statement.total_debits))
    net = statement.total_credits - statement.total_debits
    net_entry = sub(total, "TtlNetNtry")
    sub(net_entry, "Amt", _yuan(abs(net)))
    sub(net_entry, "CdtDbtInd", side(net))
    for tag, moves in (
        ("TtlCdtNtries", [m.credit for m in statement.movements if m.credit]),
        ("TtlDbtNtries", [m.debit for m in statement.movements if m.debit]),
    ):
        totals = sub(summary, tag)
        sub(totals, "NbOfNtries", str(len(moves)))
        sub(totals, "Sum", _yuan(sum(moves)))
    for m in statement.movements:
        entry = sub(stmt, "Ntry")
        sub(entry, "NtryRef", str(m.posting_id))
        amount(entry, "Amt", m.amount)
        sub(entry, "CdtDbtInd", side(m.amount))
        sub(sub(entry, "Sts"), "Cd", "BOOK")
        sub(sub(entry, "BookgDt"), "DtTm", iso(m.at))
        sub(sub(entry, "ValDt"), "Dt", _local(m.at).date().isoformat())
        sub(entry, "AcctSvcrRef", str(m.entry_id))
        _bank_transaction_code(sub(entry, "BkTxCd"), m)
        if m.counterparty:
            parties = sub(sub(sub(entry, "NtryDtls"), "TxDtls"), "RltdPties")
            other = sub(parties, "DbtrAcct" if m.amount > 0 else "CdtrAcct")
            sub(sub(sub(other, "Id"), "Othr"), "Id", m.counterparty)
        if m.description:
            sub(entry, "AddtlNtryInf", m.description[:500])
    ET.indent(document)
    xml: bytes = ET.tostring(document, encoding="utf-8", xml_declaration=True)
    return xml


def camt_message_id(created: datetime) -> str:
    """A new GrpHdr/MsgId: ISO 20022 wants it unique per sender over a pertinent
    period, and two statements can be fetched in the same second (even of the same
    account and period), so after the Beijing time it was made (for people reading
    it) comes a random part: 19 hex digits, 76 bits, 35 characters in all (Max35Text)."""
    return f"RB{_local(created):%Y%m%d%H%M%S}{uuid.uuid4().hex[:19]}"


def _camt_element(
    parent: ET.Element, tag: str, value: str | None = None, **attrs: str
) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if value is not None:
        element.text = value
    return element


def _bank_transaction_code(parent: ET.Element, movement: Movement) -> None:
    """ISO 20022 bank transaction codes (domain, family, sub-family): interest is
    ACMT/MCOP/INTR (miscellaneous credit operations: interest), a payment in or out
    PMNT/RCDT|ICDT/DMCT (received or issued domestic credit transfer). The ledger's
    own kind follows as the proprietary code."""
    if movement.kind == "interest":
        domain, family, sub_family = "ACMT", "MCOP", "INTR"
    else:
        domain, family, sub_family = "PMNT", "RCDT" if movement.amount > 0 else "ICDT", "DMCT"
    code = _camt_element(parent, "Domn")
    _camt_element(code, "Cd", domain)
    family_element = _camt_element(code, "Fmly")
    _camt_element(family_element, "Cd", family)
    _camt_element(family_element, "SubFmlyCd", sub_family)
    proprietary = _camt_element(parent, "Prtry")
    _camt_element(proprietary, "Cd", movement.kind)
    _camt_element(proprietary, "Issr", "Rongbank")
