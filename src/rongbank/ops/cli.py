"""``rongbank backup`` and ``rongbank restore`` (``rongbank.ops.backup``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rongbank.cli.platform import DataDir, database, settings_for, wal_archive
from rongbank.ops.backup import Backup, BackupError, prune, restore, take

console = Console()


def backup(
    to: Annotated[Path, typer.Option(help="New or empty folder for the backup.")],
    data_dir: DataDir = None,
    prune_archive: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Then remove the archived WAL that none of the newest --keep backups needs.",
        ),
    ] = False,
    keep: Annotated[
        int, typer.Option(min=1, help="With --prune: the backups whose WAL is kept.")
    ] = 2,
) -> None:
    """A base backup of the bank's database (pg_basebackup, while it serves). With the
    WAL the embedded server archives (<data dir>/wal-archive), it restores the
    database as it was at any moment since: see rongbank restore."""
    settings = settings_for(data_dir)
    try:
        with database(settings) as url:
            taken = take(url, to.expanduser().resolve(), archive=wal_archive(settings))
        console.print(
            f"Backup in {taken.folder}, restorable to {taken.finished_at.isoformat()} or later."
        )
        if taken.archive is None:
            console.print("[yellow]This server archives no WAL here: restore needs --archive.[/]")
        elif prune_archive:
            pruned = prune(taken.archive, keep=keep, after=taken)
            console.print(
                f"WAL archive pruned: {pruned.removed} files removed; kept from "
                f"{pruned.oldest_kept}, what the newest {pruned.backups} backups need "
                "(older backups cannot be restored any more)."
            )
    except BackupError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None


def restore_command(
    source: Annotated[Path, typer.Option("--from", help="The backup's folder.")],
    data_dir: Annotated[
        Path, typer.Option(help="New data dir for the restored database (never overwritten).")
    ],
    until: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z"],
            help="Restore to this moment (ISO 8601 with its UTC offset); default: the newest "
            "archived WAL.",
        ),
    ] = None,
    archive: Annotated[
        Path | None, typer.Option(help="The WAL archive (default: where the backup says).")
    ] = None,
) -> None:
    """Point-in-time recovery: the backup, with the archived WAL replayed up to
    --until, into a new data dir; check it (rongbank ledger verify, rongbank audit
    verify --data-dir ...) before serving from it."""
    target = data_dir.expanduser().resolve()
    try:
        server = restore(
            Backup.read(source.expanduser().resolve()), target, until=until, archive=archive
        )
    except BackupError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    server.stop()
    console.print(
        f"Restored into {target}" + (f", as at {until.isoformat()}" if until else "") + "."
    )
