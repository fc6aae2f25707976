"""Backup and point-in-time restore round trip (issue 22): a base backup while the
bank serves, more transfers, a restore to a moment between them, and the restored
bank checked by ``rongbank ledger verify`` and ``rongbank audit verify``: what was
committed before that moment is there, what came after is not. A moment past the
newest archived WAL is refused."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from rongbank.cli.main import app
from rongbank.cli.platform import open_platform
from rongbank.ledger.rules import AccountType
from rongbank.ledger.service import Transfer
from rongbank.platform import Platform

pytestmark = pytest.mark.slow

runner = CliRunner()


def move(platform: Platform, client_id: str, amount: int) -> None:
    """A transfer from the vault to a customer account, audited as staff work is."""
    with platform.audited(
        actor_kind="operator", actor_id=None, action="ledger.transfer", target=client_id
    ) as session:
        vault, _ = platform.ledger.create_account(
            session, code="bank:vault", currency="CNY", type=AccountType.ASSET
        )
        account, _ = platform.ledger.create_account(
            session, code="customer:1", currency="CNY", type=AccountType.LIABILITY
        )
        platform.ledger.transfer(
            session,
            Transfer(
                client_id=client_id,
                debit_account=vault.id,
                credit_account=account.id,
                amount=amount,
                currency="CNY",
            ),
        )


def archived_now(platform: Platform) -> None:
    """Close the WAL segment being written and wait until the archiver has it (what
    archive_timeout does within a minute)."""
    with platform.transaction() as session:
        segment = session.execute(text("SELECT pg_walfile_name(pg_current_wal_lsn())")).scalar()
    with platform.transaction() as session:
        session.execute(text("SELECT pg_switch_wal()"))
    for _ in range(600):
        with platform.transaction() as session:
            last = session.execute(text("SELECT last_archived_wal FROM pg_stat_archiver")).scalar()
        if last is not None and last >= segment:
            return
        time.sleep(0.1)
    raise AssertionError(f"segment {segment} was not archived")


def server_time(platform: Platform) -> datetime:
    with platform.transaction() as session:
        now: datetime = session.execute(text("SELECT clock_timestamp()")).scalar_one()
    return now


def test_restore_to_a_moment_between_transfers(tmp_path: Path) -> None:
    bank, backup, restored = tmp_path / "bank", tmp_path / "backup", tmp_path / "restored"
    with open_platform(bank) as platform:
        move(platform, "before-backup", 100)
        taken = runner.invoke(app, ["backup", "--to", str(backup), "--data-dir", str(bank)])
        assert taken.exit_code == 0, taken.output
        move(platform, "after-backup", 200)
        time.sleep(0.2)
        between = server_time(platform)
        time.sleep(0.2)
        move(platform, "after-the-moment", 400)
        archived_now(platform)

    done = runner.invoke(
        app,
        [
            "restore",
            "--from",
            str(backup),
            "--data-dir",
            str(restored),
            "--until",
            between.isoformat(),
        ],
    )
    assert done.exit_code == 0, done.output
    for check in (["ledger", "verify"], ["audit", "verify"]):
        verified = runner.invoke(app, [*check, "--data-dir", str(restored)])
        assert verified.exit_code == 0, verified.output

    with open_platform(restored) as platform, platform.transaction() as session:
        moved = session.execute(
            text(
                "SELECT e.client_id, sum(p.amount) FILTER (WHERE p.amount > 0) "
                "FROM ledger_entry e JOIN ledger_posting p ON p.entry_id = e.id "
                "GROUP BY e.id ORDER BY e.id"
            )
        ).all()
        audited = session.execute(
            text("SELECT target FROM audit_log WHERE action = 'ledger.transfer' ORDER BY id")
        ).scalars()
        assert [tuple(r) for r in moved] == [("before-backup", 100), ("after-backup", 200)]
        assert list(audited) == ["before-backup", "after-backup"]
    for data_dir in (bank, restored):  # each stopped with its last user
        assert not (data_dir / "pgdata" / "postmaster.pid").exists(), data_dir
    refused = runner.invoke(app, ["restore", "--from", str(backup), "--data-dir", str(restored)])
    assert refused.exit_code == 1
    assert "already holds a database" in " ".join(refused.output.split())

    # A moment past the newest archived WAL: PostgreSQL ends the recovery and stops
    # (it used to leave the restore waiting for it forever); nothing is left behind.
    too_late = tmp_path / "too-late"
    after_the_archive = (between + timedelta(days=1)).isoformat()
    refused = runner.invoke(
        app,
        [
            "restore",
            "--from",
            str(backup),
            "--data-dir",
            str(too_late),
            "--until",
            after_the_archive,
        ],
    )
    assert refused.exit_code == 1, refused.output
    said = " ".join(refused.output.split())
    assert f"the WAL archive ends before {after_the_archive}" in said, said
    assert not (too_late / "pgdata").exists()


def archived_segments(archive: Path) -> list[str]:
    return sorted(p.name for p in archive.iterdir() if re.fullmatch(r"[0-9A-F]{24}", p.name))


def started_in(backup: Path) -> str:
    """The WAL segment a base backup started in, as its backup_label says."""
    label = (backup / "base" / "backup_label").read_text()
    found = re.search(r"START WAL LOCATION: .*\(file ([0-9A-F]{24})\)", label)
    assert found is not None, label
    return found[1]


def test_prune_keeps_the_wal_of_the_newest_backups_only(tmp_path: Path) -> None:
    bank, archive = tmp_path / "bank", tmp_path / "bank" / "wal-archive"
    backups = [tmp_path / f"backup-{n}" for n in range(3)]
    with open_platform(bank) as platform:
        for n, backup in enumerate(backups):
            move(platform, f"t{n}", 100)
            taken = runner.invoke(app, ["backup", "--to", str(backup), "--data-dir", str(bank)])
            assert taken.exit_code == 0, taken.output
        move(platform, "t3", 100)  # a segment with nothing in it is not switched
        archived_now(platform)
        before = archived_segments(archive)
        assert before[0] <= started_in(backups[0])

        newest = tmp_path / "backup-3"
        pruned = runner.invoke(
            app,
            ["backup", "--to", str(newest), "--data-dir", str(bank), "--prune", "--keep", "2"],
        )
        assert pruned.exit_code == 0, pruned.output

    # What the newest two backups (backup-2 and backup-3) replay from is kept, and
    # everything archived after it; what only the older ones needed is gone.
    kept_from = started_in(backups[2])
    after = archived_segments(archive)
    assert after[0] == kept_from
    assert [s for s in before if s >= kept_from] == [s for s in after if s in before]
    assert started_in(backups[1]) not in after
    assert len(list(archive.glob("*.backup"))) == 2
    said = " ".join(pruned.output.split())
    assert f"kept from {kept_from}, what the newest 2 backups need" in said, said

    # A backup whose WAL is gone is refused, rather than restored to its own end.
    refused = runner.invoke(
        app, ["restore", "--from", str(backups[1]), "--data-dir", str(tmp_path / "r")]
    )
    assert refused.exit_code == 1, refused.output
    assert "no longer holds this backup's WAL" in " ".join(refused.output.split())
    assert not (tmp_path / "r" / "pgdata").exists()
