"""``rongbank pii``: personal data at rest (``rongbank.pii``)."""

from __future__ import annotations

import typer
from rich.console import Console

from rongbank.cli.platform import DataDir, database, settings_for, with_secrets
from rongbank.db import make_engine, make_session_factory
from rongbank.pii import personal_data
from rongbank.pii_rows import Converted, encrypt_existing
from rongbank.settings import Settings

pii_app = typer.Typer(help="Personal data encrypted at rest.", no_args_is_help=True)
console = Console()


def convert(url: str, settings: Settings) -> Converted:
    """Seal what is still plaintext, re-seal what an old key sealed (``rongbank.pii_rows``)."""
    engine = make_engine(url, pool_size=1)
    try:
        return encrypt_existing(make_session_factory(engine), personal_data(settings))
    finally:
        engine.dispose()


def report(converted: Converted) -> None:
    console.print(
        f"Personal data: {converted.customers} customers sealed, {converted.logins} login "
        f"names and {converted.blacklisted} blacklisted identity numbers hashed."
    )


@pii_app.command("encrypt-existing")
def encrypt_existing_command(data_dir: DataDir = None) -> None:
    """Seal the identity and mobile numbers stored before encryption at rest and clear
    their plaintext, re-seal under RONGBANK_PII_KEY what the keys in
    RONGBANK_PII_OLD_KEYS sealed, hash the login names still in plaintext. Safe to run
    again, or stopped half-way: it carries on where it was. `rongbank up` runs it."""
    settings, _ = with_secrets(settings_for(data_dir))
    with database(settings) as url:
        report(convert(url, settings))
