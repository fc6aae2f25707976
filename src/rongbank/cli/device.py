"""``rongbank device``: software stand-ins for the customer's authentication tools.

They let a person (or a test, or a demo) act as the customer without hardware: read
a grid card's codes, compute a token's response, make and use a U盾 key. They hold
the customer's secrets in files and never talk to the bank; the bank's side is the
same as for the real tools.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Literal

import typer

from rongbank.auth import gridcard, otp, ukey

device_app = typer.Typer(
    help="Software stand-ins for the customer's grid card, token and U盾.",
    no_args_is_help=True,
)

KeyFile = Annotated[Path, typer.Option("--key-file", help="The stand-in's key file.")]


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(2)


@device_app.command("grid")
def grid(
    card_file: Annotated[Path, typer.Option(help="The card file from the web bank.")],
    positions: Annotated[str, typer.Option(help="The positions asked, e.g. A1,C7,H10.")],
) -> None:
    """Print the grid card's codes at the positions asked, in that order."""
    try:
        card = gridcard.card_from_json(card_file.read_text())
        asked = gridcard.parse_positions(positions)
    except (OSError, ValueError) as error:
        _fail(f"cannot read the card or the positions: {error}")
        return
    typer.echo(" ".join(card.codes[p] for p in asked))


@device_app.command("token")
def token(
    key_file: KeyFile,
    question: Annotated[
        str | None, typer.Option(help="The number the bank shows (payee tail and amount).")
    ] = None,
    payee: Annotated[str | None, typer.Option(help="Or: the payee's account number...")] = None,
    amount_fen: Annotated[int | None, typer.Option(help="...and the amount in fen.")] = None,
    at: Annotated[int | None, typer.Option(help="Unix time (default: now).")] = None,
) -> None:
    """Print the token's 8-digit response: valid for this payee and amount, now."""
    try:
        data = json.loads(key_file.read_text())
        key, suite = bytes.fromhex(data["key"]), str(data["suite"])
        if question is None:
            if payee is None or amount_fen is None:
                _fail("give --question, or --payee and --amount-fen")
                return
            question = otp.payment_question(payee, amount_fen)
        steps = otp.time_steps(int(time.time()) if at is None else at, suite)
        typer.echo(otp.ocra(suite, key, question, timestamp=steps))
    except (OSError, ValueError, KeyError) as error:
        _fail(f"cannot compute a response: {error}")


@device_app.command("ukey-new")
def ukey_new(
    key_file: KeyFile,
    kind: Annotated[str, typer.Option(help="p256 or ed25519.")] = "p256",
) -> None:
    """Make a new U盾 key into KEY_FILE (readable by you only) and print its
    certificate request, to register in the web bank under Security."""
    if kind not in ("p256", "ed25519"):
        _fail("--kind is p256 or ed25519")
    key_kind: Literal["p256", "ed25519"] = "p256" if kind == "p256" else "ed25519"
    key = ukey.generate_key(key_kind)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _fail(f"{key_file} exists; not overwriting a key")
        return
    with os.fdopen(fd, "wb") as f:
        f.write(ukey.private_key_pem(key))
    typer.echo(ukey.make_csr(key, "Rongbank U盾").decode(), nl=False)


@device_app.command("sign")
def sign(
    key_file: KeyFile,
    text_file: Annotated[
        str, typer.Option(help="File with the exact text the bank showed; - for stdin.")
    ],
) -> None:
    """Sign exactly the text the bank showed; prints the base64 signature."""
    try:
        key = ukey.load_private_key(key_file.read_bytes())
        message = sys.stdin.buffer.read() if text_file == "-" else Path(text_file).read_bytes()
    except (OSError, ukey.UKeyError) as error:
        _fail(f"cannot sign: {error}")
        return
    typer.echo(base64.b64encode(ukey.sign(key, message)).decode())
