"""The lending end-of-day benchmark behind ``rongbank bench lending-eod``.

One run, one PostgreSQL server (:func:`rongbank.ledger.bench.bench_server`):

1. **Set-up** (not measured): ``borrowers`` customers with an e-account each and
   ``loans`` twelve-month loans among them, written in bulk (loans, their schedules,
   one ledger entry lending the principal still owed), started over the last three
   months so that about a thirtieth fall due on any day, some with instalments
   already paid. One borrower in ``delinquent`` has no money: their loans go overdue.
2. **pgbench** (reference): TPC-B on the same server, as every benchmark prints it.
3. **End of day** for today, then for tomorrow, then tomorrow again (a date already
   run: nothing changes). Each is timed by the wall clock, by this process's CPU and
   by the CPU of the PostgreSQL backend that ran it (a loaded machine stretches the
   wall time; the CPU times say what the work costs).
4. **Check**: the trial balance is zero and the lending accounts carry the sums of
   the loans.

The goal from the issue: the end of day of 100,000 loans in at most 60 s.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.ledger.bench import BenchServer, Machine, PathResult, bench_server
from rongbank.ledger.client_ids import Namespace
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import MultiLegEntry, PostingSpec
from rongbank.lending.book import CURRENCY, Book
from rongbank.lending.eod import EodFigures
from rongbank.lending.schedule import RepaymentMethod, build_schedule
from rongbank.payments.bench import person
from rongbank.platform import Platform
from rongbank.settings import Settings, throwaway_secrets

PRINCIPAL = 1_200_000
RATE_BPS = 1200
TERM = 12
GOAL_SECONDS = 60.0


@dataclass(frozen=True, kw_only=True)
class EodRun:
    business_date: str
    wall_s: float
    client_cpu_s: float
    """This process's CPU (Python: the auto-debit's plans, the ledger batch)."""
    backend_cpu_s: float
    """The PostgreSQL backend's CPU (the set-based statements)."""
    figures: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class LendingEodReport:
    machine: Machine
    loans: int
    borrowers: int
    instalments: int
    setup_s: float
    pgbench: PathResult
    runs: list[EodRun]
    balanced: bool
    books_match: bool
    load_average: tuple[float, float, float]

    @property
    def sound(self) -> bool:
        return self.balanced and self.books_match

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "sound": self.sound, "goal_s": GOAL_SECONDS}


def run(
    *,
    loans: int = 100_000,
    borrowers: int = 2_000,
    delinquent: float = 0.1,
    seconds: float = 10.0,
    clients: int = 8,
    data_dir: Path | None = None,
    database_url: str | None = None,
) -> LendingEodReport:
    if loans < 1 or borrowers < 1 or not 0 <= delinquent < 1:
        raise ValueError("loans and borrowers >= 1, 0 <= delinquent < 1")
    with bench_server(data_dir=data_dir, database_url=database_url) as db:
        return _run_on(
            db,
            loans=loans,
            borrowers=borrowers,
            delinquent=delinquent,
            seconds=seconds,
            clients=clients,
        )


def _run_on(
    db: BenchServer,
    *,
    loans: int,
    borrowers: int,
    delinquent: float,
    seconds: float,
    clients: int,
) -> LendingEodReport:
    # The keys of this run only, as the other benchmarks make them.
    values: dict[str, Any] = {
        "database_url": db.url,
        "data_dir": str(db.work_dir),
        **throwaway_secrets(),
    }
    settings = Settings(**values)
    platform = Platform.connect(db.url, settings, group_commit=False)
    try:
        started = time.monotonic()
        today = platform.loans.business_day()
        instalments = set_up(
            platform, loans=loans, borrowers=borrowers, delinquent=delinquent, today=today
        )
        setup_s = time.monotonic() - started
        reference = db.reference(scale=max(1, clients), clients=clients, seconds=seconds)
        runs = [_eod(platform, day) for day in (today, today + timedelta(days=1))]
        runs.append(_eod(platform, today + timedelta(days=1)))  # already run: nothing
        with platform.transaction() as session:
            balanced = all(
                row.debits_posted == row.credits_posted
                for row in platform.ledger.trial_balance(session)
            )
            books_match = _books_match(platform, session)
        return LendingEodReport(
            machine=db.machine,
            loans=loans,
            borrowers=borrowers,
            instalments=instalments,
            setup_s=round(setup_s, 2),
            pgbench=reference,
            runs=runs,
            balanced=balanced,
            books_match=books_match,
            load_average=psutil.getloadavg(),
        )
    finally:
        platform.close()


def _eod(platform: Platform, day: date) -> EodRun:
    with platform.transaction() as session:
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
    backend = psutil.Process(pid)
    cpu_before, backend_before = time.process_time(), _cpu(backend)
    started = time.monotonic()
    with platform.transaction() as session:
        if int(session.execute(text("SELECT pg_backend_pid()")).scalar_one()) != pid:
            raise RuntimeError("the pool gave another connection: the backend's CPU is not it")
        figures: EodFigures = platform.loans.end_of_day.run(session, day)
    wall = time.monotonic() - started
    return EodRun(
        business_date=day.isoformat(),
        wall_s=round(wall, 3),
        client_cpu_s=round(time.process_time() - cpu_before, 3),
        backend_cpu_s=round(_cpu(backend) - backend_before, 3),
        figures=asdict(figures),
    )


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def set_up(
    platform: Platform, *, loans: int, borrowers: int, delinquent: float, today: date
) -> int:
    """Borrowers and loans written in bulk; returns how many instalments."""
    schedule = build_schedule(
        PRINCIPAL, RATE_BPS, TERM, RepaymentMethod.EQUAL_INSTALMENT, start=today
    )
    with platform.transaction() as session:
        people = _borrowers(platform, session, borrowers)
    bad = set(range(int(borrowers * delinquent)))
    with platform.transaction() as session:
        book = platform.loans.book.ids(session)
        elsewhere, _ = platform.ledger.create_account(
            session, code="bench:elsewhere", currency=CURRENCY, type=AccountType.LIABILITY
        )
        session.execute(
            text(
                "CREATE TEMP TABLE bench_people (n int PRIMARY KEY, customer_id bigint, "
                "e_account_id bigint, bad boolean) ON COMMIT DROP"
            )
        )
        session.execute(
            text(
                "INSERT INTO bench_people SELECT * FROM unnest(CAST(:n AS int[]), "
                "CAST(:c AS bigint[]), CAST(:a AS bigint[]), CAST(:b AS boolean[]))"
            ),
            {
                "n": list(range(borrowers)),
                "c": [p[0] for p in people],
                "a": [p[1] for p in people],
                "b": [n in bad for n in range(borrowers)],
            },
        )
        # The loan of number i: borrower i % borrowers, started 1 to 90 days ago.
        entry = platform.ledger.transfer(
            session,
            MultiLegEntry(
                client_id=Namespace.LENDING_EOD.client_id("bench", "set-up"),
                postings=[
                    PostingSpec(account=book[Book.PRINCIPAL], amount=1, currency=CURRENCY),
                    PostingSpec(account=elsewhere.id, amount=-1, currency=CURRENCY),
                ],
                description="bench set-up",
            ),
        ).entry_id_or_raise()
        session.execute(
            text(
                "INSERT INTO loans (customer_id, e_account_id, product_code, internet_consumer, "
                "idempotency_key, principal, term_months, method, annual_rate_bps, apr_bps, "
                "penalty_rate_bps, grade, start_date, principal_outstanding, "
                "disbursement_entry_id, disbursed_at) "
                "SELECT p.customer_id, p.e_account_id, 'personal_credit', true, 'bench-' || i, "
                ":x, :t, 'equal_instalment', :r, :r, :pen, 'B', "
                "CAST(:today AS date) - (1 + i % 90), :x, :e, :at "
                "FROM generate_series(0, :n - 1) i JOIN bench_people p ON p.n = i % :b"
            ),
            {
                "x": PRINCIPAL,
                "t": TERM,
                "r": RATE_BPS,
                "pen": RATE_BPS * 3 // 2,
                "today": today,
                "e": entry,
                "at": platform.clock.now(),
                "n": loans,
                "b": borrowers,
            },
        )
        session.execute(
            text(
                "INSERT INTO loan_instalments (loan_id, number, period_start, due_date, "
                "principal, interest, fee) SELECT l.id, s.k, "
                "CAST(l.start_date + make_interval(months => s.k - 1) AS date), "
                "CAST(l.start_date + make_interval(months => s.k) AS date), s.p, s.i, 0 "
                "FROM loans l CROSS JOIN unnest(CAST(:k AS int[]), CAST(:p AS bigint[]), "
                "CAST(:i AS bigint[])) AS s(k, p, i)"
            ),
            {
                "k": [i.number for i in schedule],
                "p": [i.principal for i in schedule],
                "i": [i.interest for i in schedule],
            },
        )
        # Instalments due before today: paid, but for the delinquent borrowers.
        session.execute(
            text(
                "UPDATE loan_instalments i SET interest_accrued = i.interest, "
                "fee_accrued = i.fee, principal_paid = i.principal, interest_paid = i.interest, "
                "fee_paid = i.fee, paid_at = :at FROM loans l JOIN bench_people p "
                "ON p.customer_id = l.customer_id WHERE l.id = i.loan_id "
                "AND i.due_date < :today AND NOT p.bad"
            ),
            {"at": platform.clock.now(), "today": today},
        )
        session.execute(
            text(
                "UPDATE loans l SET principal_outstanding = s.left_ FROM (SELECT loan_id, "
                "sum(principal - principal_paid) AS left_ FROM loan_instalments "
                "GROUP BY loan_id) s WHERE s.loan_id = l.id"
            )
        )
        # The principal still owed, lent: into the good borrowers' accounts (their
        # money for the auto-debit), elsewhere for the delinquent ones.
        owed = session.execute(
            text(
                "SELECT a.ledger_account_id, p.bad, sum(l.principal_outstanding) "
                "FROM loans l JOIN bench_people p ON p.customer_id = l.customer_id "
                "JOIN e_account a ON a.id = p.e_account_id GROUP BY 1, 2"
            )
        ).all()
        total = sum(int(row[2]) for row in owed)
        to_elsewhere = sum(int(row[2]) for row in owed if row[1])
        platform.ledger.transfer(
            session,
            MultiLegEntry(
                client_id=Namespace.LENDING_EOD.client_id("bench", "lent"),
                postings=[
                    PostingSpec(account=book[Book.PRINCIPAL], amount=total - 1, currency=CURRENCY),
                    PostingSpec(
                        account=elsewhere.id, amount=-(to_elsewhere - 1), currency=CURRENCY
                    ),
                    *(
                        PostingSpec(account=int(row[0]), amount=-int(row[2]), currency=CURRENCY)
                        for row in owed
                        if not row[1]
                    ),
                ],
                description="bench: the principal owed, lent",
            ),
        )
        count = int(session.execute(text("SELECT count(*) FROM loan_instalments")).scalar_one())
    with platform.transaction() as session:
        session.execute(text("ANALYZE loans"))
        session.execute(text("ANALYZE loan_instalments"))
    return count


def _borrowers(platform: Platform, session: Session, count: int) -> list[tuple[int, int]]:
    """``count`` persons registered with an e-account each (customer id, e-account id),
    from a random first number, so that a second run on one database meets no
    identity number or mobile taken."""
    first = secrets.randbelow(14_000 - count // 1000 - 1) * 1000
    people = []
    for n in range(first, first + count):
        customer_id, account = person(platform, session, "借款", n)
        people.append((customer_id, account.id))
    return people


def _books_match(platform: Platform, session: Session) -> bool:
    principal, interest, penalty, provision = session.execute(
        text(
            "SELECT (SELECT coalesce(sum(principal_outstanding), 0) FROM loans "
            "WHERE status = 'active'), coalesce(sum(i.interest_accrued - i.interest_paid), 0), "
            "coalesce(sum(i.penalty_accrued - i.penalty_paid), 0), "
            "(SELECT coalesce(sum(provision), 0) FROM loans WHERE status = 'active') "
            "FROM loan_instalments i JOIN loans l ON l.id = i.loan_id WHERE l.status = 'active'"
        )
    ).one()
    accounts = {
        book: platform.ledger.account(session, book.value)
        for book in (Book.PRINCIPAL, Book.INTEREST, Book.PENALTY, Book.ALLOWANCE)
    }

    def net(book: Book) -> int:
        return accounts[book].debits_posted - accounts[book].credits_posted

    return (net(Book.PRINCIPAL), net(Book.INTEREST), net(Book.PENALTY), -net(Book.ALLOWANCE)) == (
        principal,
        interest,
        penalty,
        provision,
    )


def render(report: LendingEodReport) -> str:
    m = report.machine
    lines = [
        f"Lending end of day: {report.loans:,} loans of {report.borrowers:,} borrowers "
        f"({report.instalments:,} instalments); set-up {report.setup_s:.1f} s",
        f"machine: {m.cpu_count} CPUs ({m.cpus_usable} usable), PostgreSQL {m.postgres_version}"
        f" ({m.server}), synchronous_commit={m.synchronous_commit}; load average "
        + " ".join(f"{x:.2f}" for x in report.load_average),
        f"pgbench TPC-B reference: {report.pgbench.rate:,.0f} tps, "
        f"p99 {report.pgbench.p99_ms:.1f} ms ({report.pgbench.workers} clients)",
        "",
        f"{'date':<12}{'wall s':>9}{'py CPU s':>10}{'pg CPU s':>10}  what it did",
    ]
    for r in report.runs:
        f = r.figures
        did = (
            "already run: nothing"
            if f["already_run"]
            else f"accrued {f['interest_accrued'] / 100:,.2f} interest, collected "
            f"{f['collected_loans']:,} loans ({f['collected_short']:,} short), "
            f"{f['overdue_loans']:,} overdue, provisions {f['provision_change'] / 100:+,.2f}, "
            f"{f['notices']:,} notices"
        )
        lines.append(
            f"{r.business_date:<12}{r.wall_s:>9.2f}{r.client_cpu_s:>10.2f}"
            f"{r.backend_cpu_s:>10.2f}  {did}"
        )
    worst = max(r.wall_s for r in report.runs)
    lines += [
        "",
        f"goal: <= {GOAL_SECONDS:.0f} s for the end of day; worst {worst:.2f} s "
        f"({'met' if worst <= GOAL_SECONDS else 'NOT met'})",
        f"ledger balanced: {report.balanced}; lending accounts match the loans: "
        f"{report.books_match}",
    ]
    return "\n".join(lines)
