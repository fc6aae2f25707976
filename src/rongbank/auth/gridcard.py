"""The 口令卡 (grid card, matrix card): the pure logic, without a database.

A grid card is a printed table of random codes, columns A-H by rows 1-10, one
three-digit code per position. To confirm an operation the bank names a few
positions ("A1,C7,H10") and the customer types the codes found there. The bank
keeps only a keyed hash of each code, and never asks a position twice on one card:
an overheard or phished answer tells nothing about any later challenge. So a card
answers :data:`CHALLENGES_PER_CARD` challenges (26 of three positions use 78 of the
80); the service layer records each position asked and ends the card with the
challenge that leaves too few, and the customer gets a new one.

Why a grid card guards only the lowest limits: its answer depends on the card and
the positions, never on the operation. Nothing in it names the payee or the amount,
so a phishing page or malware that relays the bank's challenge to the customer can
spend the answer on a payment of its own choosing. A token or U-key whose response
covers the payment's details has no such gap.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from random import SystemRandom
from types import MappingProxyType
from typing import Any

from rongbank.branding import BANK_NAME, find_cjk_font

COLUMNS = "ABCDEFGH"
ROWS = 10
"""Rows are numbered 1 to ROWS."""
CODE_DIGITS = 3
POSITIONS_PER_CHALLENGE = 3

MIN_KEY_BYTES = 16
_HASH_LABEL = b"rongbank-grid-card-code-v1"
_POSITION = re.compile(r"([A-Z])([1-9][0-9]*)")
_JSON_KIND = "grid_card"


class CardExhausted(Exception):
    """Too few positions were never asked: the card can answer no more challenges."""


def all_positions(columns: str = COLUMNS, rows: int = ROWS) -> tuple[str, ...]:
    """Every position of a grid in reading order: A1, B1, ..., H1, A2, ..., H10."""
    return tuple(f"{column}{row}" for row in range(1, rows + 1) for column in columns)


CHALLENGES_PER_CARD = len(all_positions()) // POSITIONS_PER_CHALLENGE
"""How many challenges one card answers, each at positions never asked before."""


def card_uses(max_uses: int | None) -> int:
    """How many challenges a card answers: all it can, or the bank's use limit if
    that is lower."""
    return min(max_uses or CHALLENGES_PER_CARD, CHALLENGES_PER_CARD)


def _split(position: str) -> tuple[int, str]:
    """``"C7"`` -> ``(7, "C")``: the key that sorts positions in reading order."""
    match = _POSITION.fullmatch(position)
    if match is None:
        raise ValueError(f"not a grid position: {position!r}")
    return int(match.group(2)), match.group(1)


# --- The card ------------------------------------------------------------------------


@dataclass(frozen=True)
class GridCard:
    serial: str
    codes: Mapping[str, str] = field(repr=False)
    """Position -> code. Left out of repr so a card in a log or traceback is no leak."""

    def __post_init__(self) -> None:
        if not self.serial:
            raise ValueError("a grid card needs a serial")
        if set(self.codes) != set(all_positions()):
            raise ValueError(
                f"a grid card has a code at each of its {len(all_positions())} positions"
            )
        if not all(_is_code(code) for code in self.codes.values()):
            raise ValueError(f"a grid card's codes have {CODE_DIGITS} digits")
        # A read-only copy in reading order: the caller's dict cannot change the card.
        frozen = MappingProxyType({p: self.codes[p] for p in all_positions()})
        object.__setattr__(self, "codes", frozen)


def _is_code(code: str) -> bool:
    # isascii: str.isdigit alone would also take Arabic-Indic or full-width digits.
    return len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


def new_card(serial: str) -> GridCard:
    """A card of fresh codes, every one drawn from the operating system's CSPRNG."""
    return GridCard(
        serial=serial,
        codes={
            position: f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            for position in all_positions()
        },
    )


def new_serial() -> str:
    """Twelve random digits grouped by four for printing, ``"4821-0937-5512"``: the
    hyphens keep it one word to type on a command line or read over the phone."""
    digits = f"{secrets.randbelow(10**12):012d}"
    return "-".join(digits[i : i + 4] for i in range(0, 12, 4))


# --- Hashing and checking ------------------------------------------------------------


def hash_code(key: bytes, serial: str, position: str, code: str) -> bytes:
    """HMAC-SHA256 of one code under the bank's secret ``key``.

    A code has only 10**CODE_DIGITS values: a salted plain hash of it falls to an
    offline search in microseconds, salt or not. What protects the stored values is
    the key, kept apart from the database, so a copy of the table alone reveals
    nothing. Serial and position are in the message so a hash cannot be moved to
    another position or card; each part is length-prefixed so no two different
    (serial, position, code) give the same message.
    """
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the grid card key needs at least {MIN_KEY_BYTES} bytes")
    message = bytearray(_HASH_LABEL)
    for part in (serial, position, code):
        data = part.encode("utf-8")
        message += len(data).to_bytes(4, "big") + data
    return hmac.new(key, bytes(message), hashlib.sha256).digest()


def hash_card(key: bytes, card: GridCard) -> dict[str, bytes]:
    """What the bank stores for a card: position -> keyed hash of its code."""
    return {
        position: hash_code(key, card.serial, position, code)
        for position, code in card.codes.items()
    }


def _normalise_answer(answer: str) -> str:
    # NFKC turns full-width digits (an IME's ０-９) into ASCII ones; spaces anywhere
    # (including the full-width U+3000) are dropped.
    return "".join(unicodedata.normalize("NFKC", answer).split())


def check_answers(
    key: bytes,
    serial: str,
    stored: Mapping[str, bytes],
    positions: Sequence[str],
    answers: Sequence[str],
) -> bool:
    """Whether ``answers`` are the codes at ``positions`` (in that order).

    Every position is hashed and compared, right or wrong, and only the combined
    result is returned: neither the answer nor its timing tells which code was
    wrong, which would let a guesser solve the positions one at a time.
    """
    if not positions or len(positions) != len(answers) or len(set(positions)) != len(positions):
        return False
    ok = True
    for position, answer in zip(positions, answers, strict=True):
        code = _normalise_answer(answer)
        expected = stored.get(position)
        digest = hash_code(key, serial, position, code)
        # An unknown position is still hashed and compared, against a stand-in of a
        # digest's length, so it costs the same time as a known one.
        matched = hmac.compare_digest(digest, bytes(32) if expected is None else expected)
        ok &= matched and expected is not None and _is_code(code)
    return ok


# --- Choosing a challenge ------------------------------------------------------------


def choose_positions(
    fresh: Collection[str],
    *,
    rng: SystemRandom | None = None,
    per_challenge: int = POSITIONS_PER_CHALLENGE,
) -> tuple[str, ...]:
    """Distinct positions for the next challenge, drawn from ``fresh`` (the card's
    positions never asked before), in reading order. Raises CardExhausted when fewer
    than ``per_challenge`` are left."""
    if per_challenge < 1:
        raise ValueError("a challenge names at least one position")
    off_card = set(fresh) - set(all_positions())
    if off_card:
        raise ValueError(f"not positions on the card: {sorted(off_card)}")
    cells = sorted(set(fresh), key=_split)
    if len(cells) < per_challenge:
        raise CardExhausted(f"{len(cells)} positions never asked are left on this card")
    # A CSPRNG: a predictable choice would let an attacker know which positions to
    # collect before the bank asks them.
    return tuple(sorted((rng or SystemRandom()).sample(cells, per_challenge), key=_split))


def parse_positions(text: str) -> tuple[str, ...]:
    """``"A1,C7,H10"`` -> ``("A1", "C7", "H10")``, in the order given (the answers
    follow it). Spaces, lower case and full-width characters are accepted; a position
    off the card, a repeated one, or an empty list is refused with ValueError."""
    normalised = unicodedata.normalize("NFKC", text).upper()
    positions = tuple("".join(part.split()) for part in normalised.split(","))
    on_card = set(all_positions())
    for position in positions:
        if position not in on_card:
            raise ValueError(
                f"{position!r} is not a position on the card "
                f"(columns {COLUMNS[0]}-{COLUMNS[-1]}, rows 1-{ROWS}, e.g. A1,C7,H10)"
            )
    if len(set(positions)) != len(positions):
        raise ValueError("each position may be named once")
    return positions


# --- The customer's copy -------------------------------------------------------------


def card_to_json(card: GridCard) -> str:
    """The software stand-in's card file: the customer's copy, codes in clear."""
    return json.dumps(
        {"kind": _JSON_KIND, "serial": card.serial, "codes": dict(card.codes)}, indent=2
    )


def card_from_json(text: str) -> GridCard:
    """Read a card file written by card_to_json; ValueError when it is not one."""
    data: Any = json.loads(text)
    if not isinstance(data, dict) or data.get("kind") != _JSON_KIND:
        raise ValueError("not a grid card file")
    serial, codes = data.get("serial"), data.get("codes")
    if not isinstance(serial, str) or not isinstance(codes, dict):
        raise ValueError("a grid card file has a serial and codes")
    if not all(isinstance(code, str) for code in codes.values()):
        raise ValueError("a grid card's codes are strings")
    return GridCard(serial=serial, codes=codes)


def _mask_holder(name: str) -> str:
    """``张小明`` -> ``*小明``: enough for the holder to recognise the card as theirs,
    while a lost card does not tell the finder whose it is."""
    name = name.strip()
    return "*" + name[1:] if len(name) > 1 else "*"


def render_pdf(card: GridCard, *, holder: str, issued: date, expires_after_uses: int) -> bytes:
    """A printable card on an A5 landscape page: title, serial, the holder's masked
    name, the issue date, the table of codes, and a warning in Chinese and English."""
    if expires_after_uses < 1:
        raise ValueError("a card expires after at least one use")
    # Imported on use, as in statements: fpdf2 costs 0.2 s to import.
    from fpdf import FPDF
    from fpdf.enums import Align, WrapMode
    from fpdf.fonts import FontFace

    font = find_cjk_font()
    # A5 by its size in mm: fpdf2 warns on every use of the name "A5" (its size changed).
    pdf = FPDF(orientation="landscape", unit="mm", format=(148, 210))
    # The title names the serial only: document metadata is shown and indexed freely.
    pdf.set_title(f"口令卡 Grid card {card.serial}")
    pdf.set_creator(BANK_NAME)
    pdf.add_font("cjk", fname=str(font.path), collection_font_number=font.index)
    pdf.set_margins(12, 10, 12)
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()

    pdf.set_font("cjk", size=15)
    pdf.cell(text=f"{BANK_NAME} 口令卡 Grid card", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font("cjk", size=9)
    for label, value in (
        ("卡号 Serial", card.serial),
        ("持卡人 Holder", _mask_holder(holder)),
        ("发卡日期 Issued", issued.isoformat()),
    ):
        pdf.cell(w=32, h=5, text=label)
        pdf.cell(h=5, text=value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    pdf.set_font("cjk", size=10)
    header = FontFace(emphasis=None, fill_color=(225, 225, 225))  # the CJK font has no bold
    with pdf.table(
        width=150,
        align=Align.C,
        text_align="CENTER",
        line_height=6,
        first_row_as_headings=True,
        headings_style=header,
    ) as table:
        table.row(["", *COLUMNS])
        for row in range(1, ROWS + 1):
            cells = table.row()
            cells.cell(str(row), style=header)
            for column in COLUMNS:
                cells.cell(card.codes[f"{column}{row}"])

    pdf.ln(3)
    pdf.set_font("cjk", size=8)
    pdf.multi_cell(
        w=0,
        h=4,
        text=(
            "本行绝不会以任何方式（电话、短信、邮件、网页）索要整张口令卡或多组密码。"
            "请妥善保管本卡，切勿拍照、复印或告知他人。"
            f"本卡使用 {expires_after_uses} 次后失效，届时请到本行更换新卡。"
        ),
        align=Align.L,
        wrapmode=WrapMode.CHAR,  # Chinese has no spaces to break lines at
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.multi_cell(
        w=0,
        h=4,
        text=(
            "The bank never asks for the whole card or for many codes at once, by phone, "
            "text, e-mail or web page. Keep this card safe; do not photograph, copy or "
            f"share it. It expires after {expires_after_uses} uses; the bank then issues "
            "a new one."
        ),
        align=Align.L,
    )
    return bytes(pdf.output())
