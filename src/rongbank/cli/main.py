"""The ``rongbank`` command."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rongbank.auth.sms import FakeSmsGateway
from rongbank.cli.device import device_app
from rongbank.cli.lending import decision_app, preapprove
from rongbank.cli.pii import convert as convert_pii
from rongbank.cli.pii import pii_app
from rongbank.cli.pii import report as report_pii
from rongbank.cli.platform import (
    DataDir,
    audit_head_line,
    database,
    open_platform,
    settings_for,
    with_secrets,
)
from rongbank.cluster.cli import cluster_app
from rongbank.invest.cli import bench_invest
from rongbank.lending.cli import lending_app
from rongbank.ops import cli as ops_cli
from rongbank.payments.cli import payments_app
from rongbank.risk.cli import risk_app
from rongbank.settings import Settings
from rongbank.wealth.cli import wealth_app

app = typer.Typer(help="Rongbank: open internet banking on PostgreSQL.", no_args_is_help=True)
ledger_app = typer.Typer(help="Ledger operations.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (slow; not part of the test suite).", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(bench_app, name="bench")
staff_app = typer.Typer(help="Bank staff logins.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(staff_app, name="staff")
app.add_typer(device_app, name="device")
app.add_typer(payments_app, name="payments")
app.add_typer(wealth_app, name="wealth")
app.add_typer(risk_app, name="risk")
app.add_typer(lending_app, name="lending")
app.add_typer(cluster_app, name="cluster")
app.add_typer(pii_app, name="pii")
# The decision commands live at the boundary (they start a platform), not in the domain.
lending_app.add_typer(decision_app, name="decision")
lending_app.command("preapprove")(preapprove)
app.command("backup")(ops_cli.backup)
app.command("restore")(ops_cli.restore_command)
bench_app.command("invest")(bench_invest)
console = Console()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serving_settings(settings: Settings, *, host: str | None, port: int | None) -> Settings:
    """The settings of a server started with ``--host``/``--port`` (each overriding
    its setting): its links and QR codes point where it listens, unless
    ``RONGBANK_PUBLIC_URL`` names the address customers reach it by."""
    return settings.model_copy(
        update={"host": host or settings.host, "port": port or settings.port}
    )


@app.command()
def up(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port for the web and API.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="API processes behind the port (default: one per CPU)."),
    ] = None,
) -> None:
    """Start the platform: the database (embedded unless RONGBANK_DATABASE_URL is set),
    migrations, and the web/API server. Ctrl-C stops everything cleanly."""
    from rongbank.api.serve import LOG_FORMAT, default_workers, serve

    settings = serving_settings(settings_for(data_dir), host=host, port=port)
    host, port = settings.host, settings.port
    workers = workers or settings.workers or default_workers()
    settings, token_path = with_secrets(settings)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    with database(settings) as url:
        # Before serving: logins look customers up by keyed hash, which rows written
        # before encryption at rest do not have yet.
        report_pii(convert_pii(url, settings))
        where = (
            "external PostgreSQL"
            if settings.database_url
            else f"embedded PostgreSQL in {settings.data_dir}"
        )
        base = settings.public_address
        console.print(f"[bold green]Rongbank[/] is up, data in {where}")
        console.print(f"  Web bank:  {base}/   (staff console: {base}/staff)")
        console.print(f"  API:       {base}/api/v1")
        console.print(f"  API docs:  {base}/docs")
        console.print(f"  Serving:   {workers} API process{'es' if workers > 1 else ''}")
        if token_path is not None:
            console.print(
                f"  Ledger API token: in {token_path} (send as 'Authorization: Bearer ...'; "
                "only until the first 'rongbank staff create': then staff log in)"
            )
        console.print("Press Ctrl-C to stop.")
        # uvicorn shuts down gracefully, then re-raises the signal it caught; turning
        # SIGTERM into KeyboardInterrupt (as SIGINT already is) lets the embedded
        # PostgreSQL be stopped cleanly on the way out instead of killed with us.
        # (With several workers, uvicorn's supervisor stops them and returns.)
        signal.signal(signal.SIGTERM, _interrupt)
        with suppress(KeyboardInterrupt):
            serve(settings, url, host=host, port=port, workers=workers)
    console.print("Rongbank stopped.")


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Apply the database migrations (embedded or RONGBANK_DATABASE_URL)."""
    with database(settings_for(data_dir)):
        console.print("The database schema is up to date.")


@app.command()
def eod(
    business_date: Annotated[
        datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="Business date to close (default: the last one that has ended, Beijing time).",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """End of day: accrue a day's interest on every open e-account; on a settlement
    date (3/20, 6/20, 9/20, 12/20) pay the quarter's interest. Running a date again
    changes nothing."""
    from rongbank.accounts.interest import format_units, run_eod_command
    from rongbank.errors import DomainError
    from rongbank.money import format_amount

    with open_platform(data_dir) as p:
        try:
            report = run_eod_command(
                p.transaction,
                ledger=p.ledger,
                clock=p.clock,
                business_date=business_date.date() if business_date else None,
            )
        except DomainError as error:
            console.print(f"[red]{error.detail_message}[/] {error.details or ''}")
            raise typer.Exit(1) from None
        head = audit_head_line(p)
    if report.already_run:
        console.print(f"End of day {report.business_date} had already run; nothing changed.")
    console.print(
        f"{report.business_date}: {report.accounts} accounts accrued "
        f"{format_units(report.accrued)} yuan of interest"
    )
    if report.settled:
        console.print(
            f"Settlement: {format_amount(report.paid, scale=2)} yuan paid into "
            f"{report.accounts_paid} accounts."
        )
    print(head)


@app.command("seed-demo")
def seed_demo(data_dir: DataDir = None) -> None:
    """Add demo staff and customers (with money) to try the platform. Only on request;
    running it twice changes nothing."""
    from rongbank.demo import DEMO_PASSWORD, seed

    with open_platform(data_dir) as p, p.transaction() as session:
        logins = seed(p, session)
    table = Table("who", "login name", "role")
    for login in logins:
        table.add_row(login.who, login.login_name, login.role)
    console.print(table)
    console.print(f"Every demo login's password: {DEMO_PASSWORD}")


@staff_app.command("create")
def staff_create(
    username: Annotated[str, typer.Option(help="Login name.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    role: Annotated[
        str,
        typer.Option(
            help="account_manager, supervisor (publishes the canned chat replies shared by "
            "every account manager), operations, credit_officer, credit_manager (the lending "
            "portfolio, settlement shares), risk_analyst or administrator."
        ),
    ],
    data_dir: DataDir = None,
) -> None:
    """Create a staff login; asks for the password (never on the command line)."""
    from rongbank.auth.service import PrincipalKind

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_platform(data_dir) as p, p.transaction() as session:
        staff_id = p.accounts.create_staff(session, username=username, name=name, role=role)
        p.auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=staff_id,
            username=username,
            password=password,
        )
    console.print(f"Staff member {username} ({role}) created.")


Username = Annotated[str, typer.Option(help="The member of staff's login name.")]
Reason = Annotated[str, typer.Option(help="Why, for the audit trail.")]


def _change_staff(data_dir: Path | None, username: str, reason: str, *, active: bool) -> None:
    """Deactivate or reactivate a member of staff as the operator, audited."""
    from rongbank.errors import DomainError

    action = "staff.reactivate" if active else "staff.deactivate"
    with open_platform(data_dir) as p:
        try:
            with p.transaction() as session:
                staff_id = p.accounts.staff_member_named(session, username).id
            with p.audited(
                actor_kind="operator",
                actor_id=None,
                action=action,
                target=str(staff_id),
                details={"reason": reason, "channel": "cli"},
            ) as session:
                if active:
                    p.accounts.reactivate_staff(session, staff_id=staff_id)
                else:
                    p.accounts.deactivate_staff(session, staff_id=staff_id)
        except DomainError as error:
            console.print(f"[red]{error.detail_message}[/]")
            raise typer.Exit(1) from None
    console.print(f"Staff member {username} {'reactivated' if active else 'deactivated'}.")


@staff_app.command("deactivate")
def staff_deactivate(username: Username, reason: Reason = "", data_dir: DataDir = None) -> None:
    """Deactivate a member of staff: they cannot log in and every session of theirs
    ends now. Not the last active administrator."""
    _change_staff(data_dir, username, reason, active=False)


@staff_app.command("reactivate")
def staff_reactivate(username: Username, reason: Reason = "", data_dir: DataDir = None) -> None:
    """Let a deactivated member of staff log in again, with their role and password."""
    _change_staff(data_dir, username, reason, active=True)


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDir = None,
    head: Annotated[
        list[str] | None,
        typer.Option(
            help="A chain head an end-of-day report printed (SEQ:HASH; repeatable): the "
            "chain must still hold it, so that removing the newest rows is found."
        ),
    ] = None,
) -> None:
    """Seal what is not sealed yet, then walk the audit trail's hash chain: any edited,
    inserted or removed row is reported. Exit code 1 on any problem."""
    from rongbank.audit.service import AuditHead

    try:
        heads = [AuditHead.parse(h) for h in head or ()]
    except ValueError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
    with open_platform(data_dir) as p:
        with p.transaction() as session:
            sealed = p.audit.seal(session)
        with p.transaction() as session:
            problems = p.audit.verify(session)
            for known_head in heads:
                problems += p.audit.check_head(session, known_head)
    if sealed:
        console.print(f"Sealed {sealed} new rows.")
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    if problems:
        raise typer.Exit(1)
    console.print("[green]The audit trail is intact.[/]")


@device_app.command("sms")
def device_sms(
    mobile: Annotated[str, typer.Option(help="The customer's mobile number.")],
    data_dir: DataDir = None,
) -> None:
    """Show the newest text messages the fake SMS gateway "sent" to a mobile (only
    while no real SMS operator is configured)."""
    with open_platform(data_dir) as p, p.transaction() as session:
        messages = FakeSmsGateway.outbox(session, mobile.strip())
    if not messages:
        console.print("No messages.")
    for sent_at, body in messages:
        console.print(f"{sent_at:%Y-%m-%d %H:%M:%S} {body}", markup=False, highlight=False)


@ledger_app.command("verify")
def ledger_verify(data_dir: DataDir = None) -> None:
    """Recompute the ledger from its journal: balanced entries, account totals equal
    to their postings, running balances, trial balance. Exit code 1 on any problem."""
    with open_platform(data_dir) as p, p.transaction() as session:
        rows = p.ledger.trial_balance(session)
        problems = p.ledger.verify(session)
    table = Table(
        "currency", "accounts", "debits posted", "credits posted", "pending Dr", "pending Cr"
    )
    for r in rows:
        table.add_row(
            r.currency,
            str(r.accounts),
            str(r.debits_posted),
            str(r.credits_posted),
            str(r.debits_pending),
            str(r.credits_pending),
        )
    console.print(table)
    if problems:
        for check, found in problems.items():
            console.print(f"[red]{check}[/]")
            for line in found:
                console.print(f"  {line}")
        raise typer.Exit(1)
    console.print("[green]The ledger is sound.[/]")


@ledger_app.command("expire-holds")
def ledger_expire_holds(data_dir: DataDir = None) -> None:
    """Release pending transfers whose timeout has passed (the server also does this
    every few seconds while it runs)."""
    with open_platform(data_dir) as p:
        total = 0
        while True:
            with p.transaction() as session:
                expired = p.ledger.expire_due_holds(session)
            total += expired
            if expired == 0:
                break
    console.print(f"Expired {total} pending transfers.")


def _print_report(report: Any, render: Callable[[Any], str], *, as_json: bool) -> None:
    """A benchmark's figures, as text or (``--json``) as JSON."""
    print(json.dumps(report.to_json(), indent=2) if as_json else render(report))


@bench_app.command("ledger")
def bench_ledger(
    seconds: Annotated[float, typer.Option(help="Seconds per measured path.")] = 10.0,
    clients: Annotated[
        int, typer.Option(help="Concurrent clients (pgbench and single path).")
    ] = 32,
    batch_size: Annotated[int, typer.Option(help="Transfers per batch (batched path).")] = 1000,
    batch_clients: Annotated[int, typer.Option(help="Concurrent batch senders.")] = 2,
    accounts: Annotated[
        int, typer.Option(help="Customer accounts to move money between.")
    ] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """pgbench's TPC-B reference, our single-transfer path and our batched path, on
    one fresh embedded PostgreSQL, in one run; prints transfers/s, p50/p99 latency
    and the ratios to pgbench."""
    from rongbank.ledger import bench

    report = bench.run(
        seconds=seconds,
        clients=clients,
        batch_size=batch_size,
        batch_clients=batch_clients,
        accounts=accounts,
    )
    _print_report(report, bench.render, as_json=as_json)


@bench_app.command("pay")
def bench_pay(
    seconds: Annotated[float, typer.Option(help="Seconds of pgbench and of payments.")] = 10.0,
    clients: Annotated[
        int, typer.Option(help="Concurrent HTTP clients (and pgbench clients).")
    ] = 32,
    servers: Annotated[int, typer.Option(help="API processes the clients share.")] = 1,
    merchants: Annotated[int, typer.Option(help="Merchants paid at random.")] = 50,
    customers: Annotated[
        int, typer.Option(help="Paying customers (each pays at most its password-free count).")
    ] = 5_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """The e-Pay payment path over HTTP (session, step-up, limits, ledger entry,
    commit) beside pgbench's TPC-B reference, on one fresh embedded PostgreSQL, in
    one run; prints payments/s, p50/p99 latency and the ratio to pgbench."""
    from rongbank.payments import bench

    report = bench.run(
        seconds=seconds, clients=clients, servers=servers, merchants=merchants, customers=customers
    )
    _print_report(report, bench.render, as_json=as_json)
    if not report.sound:
        raise typer.Exit(1)


@bench_app.command("mall")
def bench_mall(
    products: Annotated[int, typer.Option(min=100, help="Products in the catalogue.")] = 100_000,
    shops: Annotated[int, typer.Option(min=1, help="Shops they are sold by.")] = 20,
    rounds: Annotated[int, typer.Option(min=1, help="Times each client runs the query mix.")] = 30,
    clients: Annotated[int, typer.Option(min=1, help="Searching threads (and pgbench's).")] = 1,
    seconds: Annotated[float, typer.Option(help="Seconds of pgbench and of checkouts.")] = 10.0,
    search: Annotated[bool, typer.Option(help="Measure catalogue search.")] = True,
    checkout: Annotated[bool, typer.Option(help="Measure checkout over HTTP.")] = True,
    checkout_clients: Annotated[int, typer.Option(min=1, help="Checkout clients.")] = 32,
    workers: Annotated[
        int | None, typer.Option(min=1, help="API processes (default: one per CPU).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """融e购: catalogue search over ``products`` products (a mix of Chinese words,
    filters, sorts and second pages), p50/p99 per kind of search (goal: p99 <= 50 ms);
    then checkout over HTTP, a cart of three sellers to durable payment, p50/p99 at
    ``--checkout-clients``; each beside pgbench's TPC-B on a fresh embedded PostgreSQL."""
    from rongbank.api.serve import default_workers
    from rongbank.mall.catalogue import bench as search_bench
    from rongbank.mall.orders import bench as checkout_bench

    figures: dict[str, Any] = {}
    sound = True
    if search:
        found = search_bench.run(
            products=products, shops=shops, rounds=rounds, clients=clients, seconds=seconds
        )
        figures["search"] = found.to_json()
        sound = sound and found.sound
        if not as_json:
            print(search_bench.render(found))
    if checkout:
        bought = checkout_bench.run(
            seconds=seconds, clients=checkout_clients, workers=workers or default_workers()
        )
        figures["checkout"] = bought.to_json()
        sound = sound and bought.check.sound
        if not as_json:
            print(checkout_bench.render(bought))
    if as_json:
        print(json.dumps(figures, indent=2))
    if not sound:
        raise typer.Exit(1)


@bench_app.command("lending-eod")
def bench_lending_eod(
    loans: Annotated[int, typer.Option(min=1, help="Loans on the book.")] = 100_000,
    borrowers: Annotated[int, typer.Option(min=1, help="Customers the loans are lent to.")] = 2_000,
    delinquent: Annotated[
        float, typer.Option(help="Share of borrowers with no money (their loans go overdue).")
    ] = 0.1,
    seconds: Annotated[float, typer.Option(help="Seconds of the pgbench reference.")] = 10.0,
    clients: Annotated[int, typer.Option(help="pgbench clients.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """The lending end of day (accrual, auto-debit, penalty, classification,
    provisions, write-off) over a book of ``loans`` loans, two days and a rerun, timed
    by the wall clock and by CPU (this process and the PostgreSQL backend), beside
    pgbench's TPC-B reference on one fresh embedded PostgreSQL. Goal: <= 60 s."""
    from rongbank.lending import bench

    report = bench.run(
        loans=loans, borrowers=borrowers, delinquent=delinquent, seconds=seconds, clients=clients
    )
    _print_report(report, bench.render, as_json=as_json)
    if not report.sound:
        raise typer.Exit(1)


@bench_app.command("lending")
def bench_lending(
    seconds: Annotated[float, typer.Option(help="Seconds of pgbench and of the decisions.")] = 10.0,
    clients: Annotated[int, typer.Option(help="Concurrent HTTP clients (and pgbench's).")] = 32,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="API processes behind the port (default: one per CPU)."),
    ] = None,
    customers: Annotated[int, typer.Option(help="Applicants, taken in turn.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Credit decisions over HTTP end to end (login, rules, the bureau fake, the
    scorecard, the offer stored), served as ``up --workers N`` serves them, beside
    pgbench's TPC-B on one fresh embedded PostgreSQL: decisions/s, p50/p99 and the CPU
    each decision cost."""
    from rongbank.api import lending_bench
    from rongbank.api.serve import default_workers

    report = lending_bench.run(
        seconds=seconds, clients=clients, workers=workers or default_workers(), customers=customers
    )
    _print_report(report, lending_bench.render, as_json=as_json)


@bench_app.command("paths")
def bench_paths(
    seconds: Annotated[float, typer.Option(help="Seconds of pgbench and of each path.")] = 10.0,
    clients: Annotated[
        int, typer.Option(help="Concurrent HTTP clients (and pgbench clients).")
    ] = 32,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="API processes behind the port (default: one per CPU)."),
    ] = None,
    merchants: Annotated[int, typer.Option(help="Merchants paid at random.")] = 50,
    customers: Annotated[
        int,
        typer.Option(help="Paying customers per path (each pays at most its password-free count)."),
    ] = 1_000,
    path: Annotated[
        list[str] | None, typer.Option(help="Only this path (repeatable); default: all.")
    ] = None,
    half_load: Annotated[
        bool, typer.Option(help="Measure each path again at half the clients (its p99).")
    ] = True,
    batch_size: Annotated[
        int, typer.Option(min=0, help="Transfers per batch of the ledger's batched path (0: skip).")
    ] = 1000,
    floors: Annotated[
        bool,
        typer.Option(help="Measure what bounds each path: its SQL by pgbench, the web stack."),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Every customer money path over HTTP (transfer, static-QR, online order, payment
    code, chat transfer card, wealth purchase), served as ``up --workers N`` serves
    them, beside pgbench's TPC-B on one fresh embedded PostgreSQL, in one run; prints
    payments/s, p50/p99 latency and the ratio to pgbench, then checks that every
    payment answered is in the ledger once and the ledger balances (exit 1 if not)."""
    from rongbank.api import bench
    from rongbank.api.serve import default_workers

    report = bench.run(
        seconds=seconds,
        clients=clients,
        workers=workers or default_workers(),
        merchants=merchants,
        customers=customers,
        paths=path or bench.PATH_NAMES,
        half_load=half_load,
        batch_size=batch_size or None,
        floors=floors,
    )
    _print_report(report, bench.render, as_json=as_json)
    if not report.sound:
        raise typer.Exit(1)


@bench_app.command("risk")
def bench_risk(
    seconds: Annotated[float, typer.Option(help="Seconds of pgbench and of each run.")] = 10.0,
    clients: Annotated[int, typer.Option(help="Concurrent HTTP clients.")] = 32,
    workers: Annotated[
        int | None, typer.Option(min=1, help="API processes (default: one per CPU).")
    ] = None,
    customers: Annotated[int, typer.Option(help="Paying customers per run.")] = 1_000,
    decisions: Annotated[int, typer.Option(help="Decisions timed in-process.")] = 2_000,
    aml_transfers: Annotated[
        int, typer.Option(min=0, help="Ledger transfers for the AML batch (0: leave it out).")
    ] = 1_000_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """The e-Pay static-QR payment with and without the fraud engine in one run, beside
    pgbench: the engine's throughput cost and its own p50/p99 per decision; then the AML
    batch over ``--aml-transfers`` ledger transfers on the same server."""
    if 0 < aml_transfers < 1000:
        raise typer.BadParameter(
            "0 (leave the AML batch out) or at least 1000", param_hint="--aml-transfers"
        )
    from rongbank.api import risk_bench
    from rongbank.api.serve import default_workers

    report = risk_bench.run(
        seconds=seconds,
        clients=clients,
        workers=workers or default_workers(),
        customers=customers,
        decisions=decisions,
        aml_transfers=aml_transfers,
    )
    _print_report(report, risk_bench.render, as_json=as_json)


@bench_app.command("chat")
def bench_chat(
    clients: Annotated[int, typer.Option(help="WebSocket clients connected (even).")] = 5_000,
    rate: Annotated[float, typer.Option(help="Messages a second offered, open-loop.")] = 1_000.0,
    seconds: Annotated[float, typer.Option(help="Seconds of sending.")] = 10.0,
    servers: Annotated[
        int, typer.Option(help="API processes; more than one share a NATS server.")
    ] = 1,
    nats_url: Annotated[
        str | None,
        typer.Option(help="NATS for several servers (default: a nats-server started here)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """e-Link delivery: N WebSocket clients in pairs, M messages a second between
    them, on one fresh embedded PostgreSQL; prints the clients connected, the rate
    achieved and the send-to-push latency p50/p99."""
    from rongbank.chat import bench

    report = bench.run(
        clients=clients, rate=rate, seconds=seconds, servers=servers, nats_url=nats_url
    )
    _print_report(report, bench.render, as_json=as_json)
    if not report.sound:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
