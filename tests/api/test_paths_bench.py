"""``rongbank bench paths``, run small: every customer money path is paid over HTTP
through ``up --workers 2``, beside pgbench, and every payment answered is found in
the ledger once, to the fen; a mismatch fails the command."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from rongbank.api import bench, bench_drain
from rongbank.cli.main import app as cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report() -> bench.PathsReport:
    return bench.run(
        seconds=1,
        clients=2,
        workers=2,
        merchants=2,
        customers=6,
        batch_size=50,
        floors=["transfer"],  # one path's SQL floor: a few seconds more
    )


def test_every_path_pays_over_http_and_is_in_the_ledger_once(report: bench.PathsReport) -> None:
    assert [p.name for p in report.paths] == list(bench.PATH_NAMES)
    assert [(p.name, p.workers) for p in report.half_load] == [
        (name, 1) for name in bench.PATH_NAMES
    ]
    assert report.pgbench.rate > 0
    for path, half in zip(report.paths, report.half_load, strict=True):
        check = report.checks[path.name]
        for measured in (path, half):
            assert measured.rate > 0, measured
            assert measured.failed == 0, (measured, check.refusals)
            assert 0 < measured.p50_ms <= measured.p99_ms, measured
        assert check.refusals == {}, path.name
        assert check.answered == path.transfers + half.transfers
        assert path.transfers == path.operations > 0
        assert check.entries == check.answered, path.name
        assert check.debited_fen == check.answered_fen > 0, path.name
        assert report.ratios[path.name] == path.rate / report.pgbench.rate
    assert set(report.cpu) == set(bench.PATH_NAMES)
    for use in report.cpu.values():
        assert use.api_s > 0
        assert use.database_s is not None
        assert use.database_s >= 0  # the kernel counts in 10 ms ticks: a 1 s window may show none
        assert use.after is not None  # the readers' work the window left
        assert use.after.api_s >= 0
    assert sum(use.database_s or 0 for use in report.cpu.values()) > 0
    assert report.batched is not None
    assert report.batched.transfers > 0
    assert report.batched.failed == 0
    assert report.ratios["batched"] == report.batched.rate / report.pgbench.rate
    assert report.ledger.entries_expected == (
        sum(c.answered for c in report.checks.values())
        + bench.BATCH_ACCOUNTS
        + report.batched.transfers
    )
    assert report.ledger.trial_balance == {"CNY": 0}
    assert report.ledger.entries_found == report.ledger.entries_expected
    assert report.ledger.problems == {}
    assert report.sound


def test_each_window_waits_for_the_outbox_readers(report: bench.PathsReport) -> None:
    """Each window starts once the readers have caught up with what came before (the
    setup's registrations, the path before), and they catch up with the full load."""
    assert report.drained == {
        **{name: report.drained[name] for name in bench.PATH_NAMES},
        "floors": report.drained["floors"],
    }
    for name in bench.PATH_NAMES:
        assert list(report.drained[name]) == ["before", "after", "before half"], name
    for waits in report.drained.values():
        for wait in waits.values():
            assert wait.done, wait
            assert 0 <= wait.waited_s < bench_drain.BOUND_S
    text = bench.render(report)
    assert "Waited for the outbox's readers to catch up:" in text
    assert "api after" in text
    data = json.loads(json.dumps(report.to_json()))
    assert data["drained"]["order"]["after"]["done"] is True
    assert data["drained"]["floors"]["before"]["left"] == {}
    assert data["cpu_ms_per_payment"]["order"]["api after"] >= 0


def test_the_report_as_table_and_json(report: bench.PathsReport) -> None:
    text = bench.render(report)
    assert "pgbench TPC-B" in text
    assert "chat transfer card acted on" in text
    assert "At half the load (1 clients)" in text
    assert "batched, 50/tx" in text
    assert "CPU per payment at full load" in text
    assert "Goal: the ledger's batched path at 5x" in text
    assert "Paths check: OK" in text

    data = json.loads(json.dumps(report.to_json()))
    assert set(data["paths"]) == {"pgbench", *bench.PATH_NAMES}
    assert data["workers"] == 2
    assert set(data["half_load"]) == set(bench.PATH_NAMES)
    assert report.batched is not None
    assert data["batched"]["transfers"] == report.batched.transfers
    assert data["checks"]["order"]["sound"] is True
    assert data["cpu_ms_per_payment"]["wealth"]["api"] > 0
    assert data["sound"] is True


def test_the_floors_beside_the_paths(report: bench.PathsReport) -> None:
    """The transfer's own statements replayed by pgbench on the same server write what
    a transfer writes; the web stack alone answers a login check and /healthz."""
    assert set(report.floors.sql) == {"transfer"}
    floor = report.floors.sql["transfer"]
    assert floor.error is None
    assert floor.result is not None
    assert floor.result.rate > 0
    assert floor.result.failed == 0
    assert floor.transactions == 1
    assert floor.statements >= 10
    assert floor.database_ms is not None
    assert floor.database_ms > 0
    # Rows per replayed transaction as per request: the ledger entry and its postings,
    # the audit row, the outbox event, the idempotency record.
    for table in ("ledger_entry", "ledger_posting", "audit_log", "outbox_event"):
        assert floor.rows_per_request[table] > 0, table
        assert floor.rows_per_replay[table] == pytest.approx(
            floor.rows_per_request[table], abs=0.05
        ), table
    # The same statements, a transaction one call of a function on the server.
    assert floor.trip_error is None
    assert floor.trip is not None
    assert floor.trip.rate > 0
    assert floor.trip.failed == 0
    assert floor.rows_per_trip == pytest.approx(floor.rows_per_request, abs=0.05)
    assert [h.name for h in report.floors.http] == ["login", "healthz"]
    for http in report.floors.http:
        assert http.result.rate > 0
        assert http.result.failed == 0
        assert http.api_ms is not None
        assert http.api_ms > 0
    text = bench.render(report)
    assert "Floors (same server, same clients)" in text
    assert "GET /healthz (no login)" in text
    assert "one call a transaction" in text
    data = json.loads(json.dumps(report.to_json()))["floors"]
    assert data["sql"]["transfer"]["ratio"] == floor.result.rate / report.pgbench.rate
    assert set(data["http"]) == {"login", "healthz"}


def test_an_answer_missing_from_the_ledger_fails_the_check(report: bench.PathsReport) -> None:
    check = report.checks["code"]
    lost = replace(check, entries=check.entries - 1)
    short = replace(check, debited_fen=check.debited_fen - 1)
    assert not lost.sound
    assert not short.sound
    assert not replace(report, checks={**report.checks, "code": lost}).sound


def test_the_command_prints_the_figures_and_fails_on_a_mismatch(
    report: bench.PathsReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[dict[str, object]] = []
    answers = [report]

    def measured(**options: object) -> bench.PathsReport:
        asked.append(options)
        return answers[-1]

    monkeypatch.setattr(bench, "run", measured)
    runner = CliRunner()
    shown = runner.invoke(cli, ["bench", "paths", "--workers", "3", "--path", "card"])
    assert shown.exit_code == 0, shown.output
    assert "Paths check: OK" in shown.output
    assert asked[-1]["workers"] == 3
    assert asked[-1]["paths"] == ["card"]
    assert asked[-1]["half_load"] is True
    assert asked[-1]["batch_size"] == 1000
    assert asked[-1]["floors"] is True

    lost = replace(report.checks["card"], entries=0)
    answers.append(replace(report, checks={**report.checks, "card": lost}))
    failed = runner.invoke(cli, ["bench", "paths", "--json", "--batch-size", "0", "--no-floors"])
    assert failed.exit_code == 1
    assert json.loads(failed.output)["sound"] is False
    assert asked[-1]["batch_size"] is None
    assert asked[-1]["floors"] is False


def test_unknown_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="paths"):
        bench.run(paths=["teleport"])
