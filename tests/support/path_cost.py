"""What one request of each customer money path costs the server: the SQL statements,
transactions and network round trips it makes, and (run as a script) the CPU it takes
in the API process and in PostgreSQL, with a profile of where the API's goes.

The paths (issue 17): a transfer to another customer (``POST /me/transfers``), e-Pay's
static-QR payment, online-order payment and payment-code payment by a cashier, a chat
transfer card acted on, and a wealth purchase; each within the password-free
allowance, so that a request is the whole path (login check, limits, step-up, ledger
entry, audit row, outbox event, idempotency record, commit, JSON answer) and nothing
else.

Counted in the client, by wrapping psycopg (so that what bypasses SQLAlchemy, the
ledger's and the login check's driver-level statements, is counted too):

- statements: what the application sent, ``BEGIN``/``COMMIT``/``ROLLBACK`` apart;
- transactions: the ``BEGIN``\\ s psycopg sent;
- round trips: the times the client waited for the server's answer (a statement
  outside a pipeline, a pipeline's sync, a fetch that flushes one).

Run as a script (``python -m tests.support.path_cost --requests 300``), it starts an
embedded PostgreSQL of its own, serves the app in this process through Starlette's
test client, one request at a time, and prints per request the API's CPU (this
process's CPU less the client thread's: the event loop, the endpoint's worker thread
and the group committers), PostgreSQL's (its processes' CPU from ``/proc``), and the
counts; ``--profile DIR`` samples the measured requests of each path with py-spy
(``pip install py-spy``) and prints where the server threads' busy samples went.
``--statements`` has PostgreSQL log every statement's duration while the measured
requests run and prints, per request, the server's time in each statement (its
parse, bind and execute), the heaviest first: with one request at a time, that is
the statement's own work (CPU and the reads it waits for), and the commit's wait for
its WAL flush. CPU per request, not a rate: it means something on a loaded machine,
where a rate does not.

``tests/test_path_costs.py`` holds the paths to their transaction and statement
budgets with the same counter.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import secrets
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from pydantic import SecretStr

from rongbank.accounts.identity import resident_id_check_character
from rongbank.api.app import create_app
from rongbank.api.bench_sql import Tally, counting
from rongbank.auth.service import PrincipalKind
from rongbank.chat.service import CUSTOMER, Member
from rongbank.db import migrate
from rongbank.embedded import EmbeddedPostgres
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.money import format_amount
from rongbank.payments.orders import OrderRequest
from rongbank.platform import Platform
from rongbank.settings import Settings
from rongbank.wealth import rules as wealth_rules

V1 = "/api/v1"
FUNDING = 10_000_000  # fen per customer: far more than the allowance lets it spend
PER_CUSTOMER = 8
"""Requests per paying customer: under the password-free allowance's daily count."""

# -- counting: rongbank.api.bench_sql (the bench replays what it keeps) ------------------

# -- the scene: customers, merchants, a product, chats --------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    customer_id: int
    account: str
    mobile: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    ok: tuple[int, ...] = (200, 201)


@dataclass
class Scene:
    """What the paths need, made through the services (a login per customer over HTTP
    would cost an argon2 hash each)."""

    platform: Platform
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    vault_id: int = 0
    merchant_id: int = 0
    qr: str = ""
    cashier: dict[str, str] = field(default_factory=dict)
    product: str = ""
    tag: str = field(default_factory=lambda: secrets.token_hex(3))

    def set_up(self) -> None:
        platform = self.platform
        with platform.transaction() as session:
            vault, _ = platform.ledger.create_account(
                session, code=f"bank:cost-vault-{self.tag}", currency="CNY", type=AccountType.ASSET
            )
            self.vault_id = vault.id
            staff = [
                platform.accounts.create_staff(
                    session, username=f"cost-{role}-{self.tag}", name="测量", role="operations"
                )
                for role in ("onboard", "approve")
            ]
        owner = self.person()
        with platform.transaction() as session:
            merchant = platform.payments.onboard(
                session,
                staff_id=staff[0],
                customer_id=owner.customer_id,
                name=f"测量商户{self.tag}",
                mcc="5812",
                settlement_account=owner.account,
                fee_bps=60,
            )
            platform.payments.approve(session, merchant_id=merchant.id, staff_id=staff[1])
            self.merchant_id = merchant.id
            self.qr = platform.payments.static_qr(session, merchant_id=merchant.id)
            user = platform.payments.add_user(
                session, merchant_id=merchant.id, role="cashier", name="收银员"
            )
            login = platform.auth.open_session(
                session, kind=PrincipalKind.MERCHANT, principal_id=user, client="path-cost"
            )
            self.cashier = {"Authorization": f"Bearer {login.token}"}
            now = platform.clock.now()
            self.product = f"C{self.tag}".upper()
            platform.wealth.create_product(
                session,
                staff_id=staff[0],
                code=self.product,
                name="测量理财",
                terms=wealth_rules.Terms(
                    risk_level=1,
                    yield_bps=300,
                    min_amount=100,
                    step_amount=1,
                    sale_start=now - timedelta(days=1),
                    sale_end=now + timedelta(days=365),
                ),
            )

    def person(self) -> Person:
        """A funded customer with a class II e-account, a login, and a risk assessment."""
        platform = self.platform
        n = next(self.numbers)
        # A random first birthday per scene, so that scenes on one database do not meet.
        born = date(1950, 1, 1) + timedelta(days=int(self.tag, 16) % 10_000 + n // 1000)
        body = f"110105{born:%Y%m%d}{n % 1000:03d}"
        mobile = f"13{int(self.tag, 16) % 100:02d}{n:07d}"
        with platform.transaction() as session:
            customer, account = platform.accounts.register_person(
                session,
                name=f"测量客户{n}",
                mobile=mobile,
                resident_id=body + resident_id_check_character(body),
            )
            login = platform.auth.open_session(
                session, kind=PrincipalKind.CUSTOMER, principal_id=customer.id, client="path-cost"
            )
            platform.ledger.transfer(
                session,
                Transfer(
                    client_id=f"cost-fund-{self.tag}-{n}",
                    debit_account=self.vault_id,
                    credit_account=account.ledger_account_id,
                    amount=FUNDING,
                    currency="CNY",
                ),
            )
            platform.wealth.assess(
                session,
                customer_id=customer.id,
                answers={q.id: "a" for q in wealth_rules.QUESTIONNAIRE},
            )
        return Person(customer.id, account.number, mobile, login.token)

    def contacts(self, one: Person, other: Person) -> int:
        """A direct chat ``one`` asked for and ``other`` accepted."""
        contacts = self.platform.chat.contacts
        with self.platform.transaction() as session:
            asked = contacts.request(session, customer_id=one.customer_id, mobile=other.mobile)
            conversation_id = asked.conversation.id
            contacts.accept(session, customer_id=other.customer_id, conversation_id=conversation_id)
        return conversation_id


Prepare = Callable[[int], Request]
"""Makes what request ``i`` of a path needs (not counted), and returns the request."""


def _amount(i: int) -> str:
    return format_amount(1 + i % 100, scale=2)


def paths(scene: Scene, requests: int) -> dict[str, Prepare]:
    """Each path's requests; a paying customer makes at most ``PER_CUSTOMER``."""
    platform = scene.platform
    payers = requests // PER_CUSTOMER + 1

    def people() -> list[Person]:
        return [scene.person() for _ in range(payers)]

    def transfers() -> Prepare:
        them = [*people(), scene.person()]

        def prepare(i: int) -> Request:
            payer, payee = them[i // PER_CUSTOMER], them[i // PER_CUSTOMER + 1]
            body = {
                "source": payer.account,
                "destination": payee.account,
                "amount": _amount(i),
                "client_id": f"t{scene.tag}-{i}",
            }
            return Request("POST", f"{V1}/me/transfers", payer.headers, body, (201,))

        return prepare

    def static_qr() -> Prepare:
        them = people()

        def prepare(i: int) -> Request:
            payer = them[i // PER_CUSTOMER]
            body = {
                "qr": scene.qr,
                "account": payer.account,
                "amount": _amount(i),
                "client_id": f"s{scene.tag}-{i}",
            }
            return Request("POST", f"{V1}/me/payments/static-qr", payer.headers, body, (201,))

        return prepare

    def online_order() -> Prepare:
        them = people()

        def prepare(i: int) -> Request:
            payer = them[i // PER_CUSTOMER]
            with platform.transaction() as session:
                order, _ = platform.payments.create_order(
                    session,
                    merchant_id=scene.merchant_id,
                    order=OrderRequest(
                        order_no=f"o{scene.tag}-{i}", amount=1 + i % 100, channel="online"
                    ),
                )
            body = {"account": payer.account, "client_id": f"o{scene.tag}-{i}"}
            return Request("POST", f"{V1}/me/orders/{order.token}/pay", payer.headers, body, (200,))

        return prepare

    def payment_code() -> Prepare:
        them = people()

        def prepare(i: int) -> Request:
            payer = them[i // PER_CUSTOMER]
            with platform.transaction() as session:
                code, _ = platform.payments.issue_code(
                    session, customer_id=payer.customer_id, account_number=payer.account
                )
            body = {"code": code, "order_no": f"p{scene.tag}-{i}", "amount": _amount(i)}
            return Request("POST", f"{V1}/merchant/payment-codes", scene.cashier, body, (201,))

        return prepare

    def chat_card() -> Prepare:
        them = people()
        friend = scene.person()
        chats = [scene.contacts(payer, friend) for payer in them]

        def prepare(i: int) -> Request:
            k = i // PER_CUSTOMER
            payer, conversation = them[k], chats[k]
            with platform.transaction() as session:
                card, _ = platform.cards.send_transfer(
                    session,
                    Member(CUSTOMER, payer.customer_id),
                    conversation_id=conversation,
                    client_id=f"c{scene.tag}-{i}",
                    account=payer.account,
                    amount=1 + i % 100,
                )
            url = f"{V1}/me/chat/conversations/{conversation}/cards/{card.id}/act"
            return Request("POST", url, payer.headers, {"client_id": f"c{scene.tag}-{i}"}, (200,))

        return prepare

    def wealth() -> Prepare:
        them = people()

        def prepare(i: int) -> Request:
            payer = them[i // PER_CUSTOMER]
            body = {
                "client_id": f"w{scene.tag}-{i}",
                "product_code": scene.product,
                "account": payer.account,
                "amount": format_amount(100 + i % 100, scale=2),
            }
            return Request("POST", f"{V1}/me/wealth/purchases", payer.headers, body, (201,))

        return prepare

    from tests.support.mall_path_cost import mall_paths  # it builds on this module

    return {
        "transfer": transfers(),
        "static_qr": static_qr(),
        "online_order": online_order(),
        "payment_code": payment_code(),
        "chat_card": chat_card(),
        "wealth": wealth(),
        **mall_paths(scene, people),
    }


def send(client: TestClient, request: Request) -> None:
    response = client.request(
        request.method, request.url, headers=request.headers, json=request.body
    )
    if response.status_code not in request.ok:
        raise AssertionError(f"{request.url}: {response.status_code} {response.text}")


def count_path(client: TestClient, prepare: Prepare, requests: int) -> Tally:
    """The total of ``requests`` requests of a path (divide for one)."""
    total = Tally()
    for i in range(requests):
        request = prepare(i)
        with counting() as tally:
            send(client, request)
        total.statements += tally.statements
        total.transactions += tally.transactions
        total.round_trips += tally.round_trips
    return total


def statements_of(client: TestClient, request: Request) -> list[str]:
    """The statements one request sends, in order (for reading, when a budget fails)."""
    with counting(keep_texts=True) as tally:
        send(client, request)
    return tally.texts


# -- CPU -------------------------------------------------------------------------------------


def _postgres_cpu(postmaster: int) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster and its children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == postmaster or int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


@dataclass(frozen=True, slots=True)
class Cost:
    path: str
    requests: int
    api_ms: float
    postgres_ms: float
    statements: float
    transactions: float
    round_trips: float


def measure(client: TestClient, prepare: Prepare, requests: int, *, postmaster: int) -> Cost:
    """Per request of one path: the API's CPU, PostgreSQL's, and the counts."""
    api = pg = 0.0
    tally = Tally()
    for i in range(requests):
        request = prepare(i)
        with counting() as counted:
            p0, t0, g0 = time.process_time(), time.thread_time(), _postgres_cpu(postmaster)
            send(client, request)
            p1, t1, g1 = time.process_time(), time.thread_time(), _postgres_cpu(postmaster)
        api += (p1 - p0) - (t1 - t0)
        pg += g1 - g0
        tally.statements += counted.statements
        tally.transactions += counted.transactions
        tally.round_trips += counted.round_trips
    return Cost(
        "",
        requests,
        api * 1000 / requests,
        pg * 1000 / requests,
        tally.statements / requests,
        tally.transactions / requests,
        tally.round_trips / requests,
    )


# -- statements ------------------------------------------------------------------------------

_DURATION = re.compile(
    r"^(\d+) LOG:  duration: ([\d.]+) ms  (?:(parse|bind|execute) [^:]*|statement): (.*)$"
)


@contextmanager
def logged_statements(url: str, log: Path, durations: dict[str, float]) -> Iterator[None]:
    """While the block runs, PostgreSQL logs each statement's duration (to ``log``,
    the server's own log file); after it, ``durations`` holds each statement's total
    milliseconds (its text, folded to one line), this session's own apart."""
    settings = {"log_min_duration_statement": "0", "log_line_prefix": "'%p '"}
    with psycopg.connect(url, autocommit=True) as conn:
        mine = str(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        for name, value in settings.items():
            conn.execute(f"ALTER SYSTEM SET {name} = {value}")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.2)  # the backends read the reloaded settings between statements
        start = log.stat().st_size
        try:
            yield
        finally:
            for name in settings:
                conn.execute(f"ALTER SYSTEM RESET {name}")
            conn.execute("SELECT pg_reload_conf()")
    with log.open(errors="replace") as lines:
        lines.seek(start)
        for line in lines:
            found = _DURATION.match(line)
            if found and found.group(1) != mine:
                text = " ".join(found.group(4).split())
                durations[text] = durations.get(text, 0.0) + float(found.group(2))


def statement_table(durations: dict[str, float], requests: int, *, top: int) -> str:
    total = sum(durations.values()) / requests
    lines = [f"server ms per request {total:.3f}; by statement, heaviest first:"]
    for text, ms in sorted(durations.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{ms / requests:8.3f}  {text[:100]}")
    return "\n".join(lines)


# -- profile ---------------------------------------------------------------------------------

SERVER_THREADS = ("AnyIO worker", "asyncio-portal", "group-commit", "chat-send")
"""The threads that serve (the endpoint's worker, the event loop, the committers)."""
WAITING = (
    "Connection.wait (psycopg/connection.py)",
    "EpollSelector.select (selectors.py)",
    "Condition.wait (threading.py)",
)
"""Frames in which a sampled thread waits (py-spy counts them as busy: the GIL is
released in C), left out of the profile."""


@contextmanager
def sampled(out: Path) -> Iterator[None]:
    """Sample this process's stacks with py-spy (``pip install py-spy``) while the
    block runs, into ``out`` (py-spy's raw format, a thread per stack)."""
    command = [
        "py-spy", "record", "--pid", str(os.getpid()), "--threads", "--nonblocking",
        "--rate", "1000", "--format", "raw", "--output", str(out),
    ]  # fmt: skip
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # attached
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


def summary(raw: Path, *, top: int = 40) -> str:
    """Where the server threads' samples went, waits left out: inclusive shares of
    the busiest frames, then self shares."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        if not any(t in frames[0] for t in SERVER_THREADS) or frames[-1] in WAITING:
            continue
        n = int(count)
        total += n
        for name in set(frames[1:]):
            inclusive[name] += n
        own[frames[-1]] += n
    lines = [f"{total} busy samples of the server threads; inclusive:"]
    lines += [f"{100 * n / total:6.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines += ["self:"]
    lines += [f"{100 * n / total:6.1f}%  {name}" for name, n in own.most_common(top // 2)]
    return "\n".join(lines)


def _postmaster(server: EmbeddedPostgres) -> int:
    return int((server.pgdata / "postmaster.pid").read_text().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="per path")
    parser.add_argument("--warmup", type=int, default=20, help="per path, not measured")
    parser.add_argument("--paths", nargs="*", help="only these paths")
    parser.add_argument("--profile", type=Path, help="sample with py-spy into <path>.txt here")
    parser.add_argument("--top", type=int, default=40, help="frames of each profile shown")
    parser.add_argument("--statements", action="store_true", help="the server's time per statement")
    args = parser.parse_args()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="path-cost-")))
        server = EmbeddedPostgres(work)
        url = server.start()
        stack.callback(server.stop)
        migrate(url)
        keys = ("payments_key", "tool_key", "card_hash_key", "operator_token")
        settings = Settings(
            database_url=url,
            data_dir=work,
            **{k: SecretStr(secrets.token_urlsafe(32)) for k in keys},  # type: ignore[arg-type]
        )
        platform = Platform.connect(url, settings)
        client = stack.enter_context(TestClient(create_app(platform, background=False)))
        scene = Scene(platform)
        scene.set_up()
        total = args.requests + args.warmup
        chosen = {k: v for k, v in paths(scene, total).items() if not args.paths or k in args.paths}
        postmaster = _postmaster(server)
        print(
            f"{'path':<14}{'API CPU ms':>11}{'PG CPU ms':>10}{'statements':>11}"
            f"{'transactions':>13}{'round trips':>12}"
        )
        for name, prepare in chosen.items():
            for i in range(args.warmup):
                send(client, prepare(i))

            def measured(i: int, prepare: Prepare = prepare) -> Request:
                return prepare(i + args.warmup)

            durations: dict[str, float] = {}
            with ExitStack() as profiling:
                if args.profile:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    profiling.enter_context(sampled(args.profile / f"{name}.txt"))
                if args.statements:
                    log = server.pgdata / "log"
                    profiling.enter_context(logged_statements(url, log, durations))
                cost = measure(client, measured, args.requests, postmaster=postmaster)
            print(
                f"{name:<14}{cost.api_ms:>11.2f}{cost.postgres_ms:>10.2f}{cost.statements:>11.1f}"
                f"{cost.transactions:>13.1f}{cost.round_trips:>12.1f}",
                flush=True,
            )
            if durations:
                print(statement_table(durations, args.requests, top=args.top), flush=True)
        if args.profile:
            for name in chosen:
                print(f"\n== {name}\n" + summary(args.profile / f"{name}.txt", top=args.top))


if __name__ == "__main__":
    main()
