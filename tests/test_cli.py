"""The two things a new operator does first: start the platform on an empty data
directory, stop it, start it again and find the data as it was."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import psycopg
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from rongbank.auth.errors import SessionInvalid
from rongbank.auth.service import PrincipalKind
from rongbank.cli.main import app as cli
from rongbank.embedded import EmbeddedPostgres
from rongbank.platform import Platform
from rongbank.settings import Settings, get_settings
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(data_dir: Path, port: int, *, workers: int | None = None) -> subprocess.Popen[str]:
    """``rongbank up``, by default with its default of one API process per core;
    ``workers=1`` where a start only checks what the bank kept (a process less)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RONGBANK_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rongbank.cli.main",
            "up",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            *(("--workers", str(workers)) if workers else ()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


UP_WAIT_S = 240.0
"""A guard against a hang, not a measurement: starting (a new database, migrations,
one API process per core) and stopping take many times longer on a loaded machine."""


def wait_until_up(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + UP_WAIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"rongbank up did not answer within {UP_WAIT_S} s")


def stop(process: subprocess.Popen[str], how: signal.Signals = signal.SIGTERM) -> str:
    process.send_signal(how)
    output, _ = process.communicate(timeout=UP_WAIT_S)
    return output


def postgres_running(data_dir: Path) -> bool:
    return (data_dir / "pgdata" / "postmaster.pid").exists()


def postmaster_pid(data_dir: Path) -> int:
    """The embedded server's main process (first line of its postmaster.pid)."""
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


def postgres_processes(data_dir: Path, postmaster: int) -> list[int]:
    """Live processes left of that server: the postmaster itself, any process whose
    command line names the data directory, and the postmaster's children (backends
    rename themselves "postgres: ...", so they are known by their parent). Zombies
    are not counted: they have exited, and a container's init may never reap them."""
    pgdata = str(data_dir / "pgdata")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue  # ended while we looked
        pid = int(entry.name)
        named = pid == postmaster or int(parent) == postmaster or pgdata in cmdline
        if named and state not in ("Z", "X"):
            found.append(pid)
    return found


def postgres_ended(data_dir: Path, postmaster: int) -> list[int]:
    """What is left of the server once it has had ample time to end: ``pg_ctl stop``
    returns when postmaster.pid is gone, a moment before the process itself exits."""
    deadline = time.monotonic() + 30
    while (left := postgres_processes(data_dir, postmaster)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def create_vault(base: str, data_dir: Path) -> tuple[dict[str, str], int]:
    token = (data_dir / "operator-token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"code": "bank:vault", "currency": "CNY", "type": "asset"}
    created = httpx.post(f"{base}/api/v1/ledger/accounts", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return headers, int(created.json()["id"])


@pytest.mark.timeout(900)  # two or three starts and stops of UP_WAIT_S at most each
def test_up_serves_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(data_dir, port)
    try:
        wait_until_up(base, process)
        assert oct((data_dir / "operator-token").stat().st_mode & 0o777) == "0o600"
        headers, vault = create_vault(base, data_dir)
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert f"{base}/docs" in output
    token = (data_dir / "operator-token").read_text().strip()
    assert token not in output  # the secret is in its file, never printed
    assert not postgres_running(data_dir), "stopping rongbank must stop its PostgreSQL"

    process = start(data_dir, port, workers=1)
    try:
        wait_until_up(base, process)
        again = httpx.get(f"{base}/api/v1/ledger/accounts/bank:vault", headers=headers)
        assert (again.status_code, again.json()["id"]) == (200, vault)
    finally:
        stop(process)


def test_database_url_points_everything_at_that_server(
    tmp_path: Path, pg: EmbeddedPostgres
) -> None:
    name = "external_" + os.urandom(4).hex()
    pg.create_database(name)
    try:
        # In this process (the settings read afresh): what is tested is where the
        # settings point, not a process of its own.
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("RONGBANK_")}
        env["RONGBANK_DATABASE_URL"] = pg.url(name)
        env["RONGBANK_DATA_DIR"] = str(tmp_path / "unused")
        get_settings.cache_clear()
        done = CliRunner().invoke(cli, ["migrate"], env=env)
        get_settings.cache_clear()
        assert done.exit_code == 0, done.output
        assert "up to date" in done.output
        with psycopg.connect(pg.url(name)) as conn:
            (currencies,) = conn.execute("SELECT count(*) FROM ledger_currency").fetchone() or (0,)
        assert currencies > 0
        assert not (tmp_path / "unused" / "pgdata").exists(), "no embedded server was started"
    finally:
        pg.drop_database(name)


@pytest.mark.timeout(900)  # two or three starts and stops of UP_WAIT_S at most each
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_a_clean_stop_after_a_killed_server_stops_postgres(
    tmp_path: Path, how: signal.Signals
) -> None:
    """``kill -9`` leaves the embedded PostgreSQL running (nothing can stop it at
    that moment); the next ``rongbank up`` takes it over, and stopping that one
    cleanly must stop PostgreSQL, with the data intact."""
    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(data_dir, port)
    try:
        wait_until_up(base, process)
        headers, vault = create_vault(base, data_dir)
        postmaster = postmaster_pid(data_dir)
    finally:
        process.kill()
        process.communicate(timeout=60)
    assert postgres_processes(data_dir, postmaster), "kill -9 leaves PostgreSQL running"

    process = start(data_dir, port)
    try:
        wait_until_up(base, process)
        assert postmaster_pid(data_dir) == postmaster  # taken over, not started twice
    finally:
        output = stop(process, how)
    assert process.returncode == 0, output
    assert not postgres_running(data_dir), output
    assert postgres_ended(data_dir, postmaster) == [], output

    process = start(data_dir, port, workers=1)
    try:
        wait_until_up(base, process)
        again = httpx.get(f"{base}/api/v1/ledger/accounts/bank:vault", headers=headers)
        assert (again.status_code, again.json()["id"]) == (200, vault)
    finally:
        stop(process)
    assert not postgres_running(data_dir)


def test_staff_deactivate_and_reactivate_by_login_name(
    fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rongbank staff deactivate`` ends a member of staff's sessions and logins at
    once, audited as the operator; the last administrator stays; reactivate undoes it."""
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    platform = Platform.connect(fresh_db, Settings(), group_commit=False)
    try:
        ids = {}
        with platform.transaction() as session:
            for username, role in (("boss", "administrator"), ("manager", "account_manager")):
                ids[username] = platform.accounts.create_staff(
                    session, username=username, name=username, role=role
                )
                platform.auth.set_password(
                    session,
                    kind=PrincipalKind.STAFF,
                    principal_id=ids[username],
                    username=username,
                    password=STAFF_PASSWORD,
                )
            token = platform.auth.open_session(
                session, kind=PrincipalKind.STAFF, principal_id=ids["manager"]
            ).token

        def staff(*args: str) -> tuple[int, str]:
            result = CliRunner().invoke(cli, ["staff", *args], env={"COLUMNS": "200"})
            return result.exit_code, result.output

        def logs_in(username: str) -> bool:
            with platform.transaction() as session:
                result = platform.auth.login(session, username=username, password=STAFF_PASSWORD)
            return result.new_session is not None

        assert staff("deactivate", "--username", "Manager", "--reason", "left") == (
            0,
            "Staff member Manager deactivated.\n",
        )
        with platform.transaction() as session, pytest.raises(SessionInvalid):
            platform.auth.authenticate(session, token)
        assert not logs_in("manager")
        code, output = staff("deactivate", "--username", "boss")
        assert (code, "last active administrator" in output) == (1, True)
        assert logs_in("boss")
        code, output = staff("deactivate", "--username", "nobody")
        assert (code, "No such member of staff" in output) == (1, True)
        assert staff("reactivate", "--username", "manager")[0] == 0
        assert logs_in("manager")
        with platform.transaction() as session:
            audited = session.execute(
                text(
                    "SELECT actor_kind, action, target, result, details->>'reason' FROM audit_log "
                    "WHERE action LIKE 'staff.%' ORDER BY id"
                )
            ).all()
        assert [tuple(row) for row in audited] == [
            ("operator", "staff.deactivate", str(ids["manager"]), "ok", "left"),
            ("operator", "staff.deactivate", str(ids["boss"]), "refused", ""),
            ("operator", "staff.reactivate", str(ids["manager"]), "ok", ""),
        ]
    finally:
        platform.close()
        get_settings.cache_clear()
