"""The grid card's pure logic: codes, keyed hashes, challenges, card file and PDF."""

from __future__ import annotations

import io
import json
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from rongbank.auth import gridcard
from rongbank.auth.gridcard import (
    CHALLENGES_PER_CARD,
    CODE_DIGITS,
    COLUMNS,
    POSITIONS_PER_CHALLENGE,
    ROWS,
    CardExhausted,
    GridCard,
    all_positions,
    card_from_json,
    card_to_json,
    card_uses,
    check_answers,
    choose_positions,
    hash_card,
    new_card,
    new_serial,
    parse_positions,
    render_pdf,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SERIAL = "1234-5678-9012"


@pytest.fixture(scope="module")
def card() -> GridCard:
    return new_card(SERIAL)


@pytest.fixture(scope="module")
def stored(card: GridCard) -> dict[str, bytes]:
    return hash_card(KEY, card)


def _full_width(digits: str) -> str:
    return "".join(chr(ord(d) - ord("0") + ord("０")) for d in digits)


# --- The card ------------------------------------------------------------------------


def test_a_card_has_a_code_of_code_digits_at_each_of_80_positions(card: GridCard) -> None:
    assert len(card.codes) == len(COLUMNS) * ROWS == 80
    assert set(card.codes) == {f"{c}{r}" for c in COLUMNS for r in range(1, ROWS + 1)}
    assert "A1" in card.codes
    assert "H10" in card.codes
    for code in card.codes.values():
        assert len(code) == CODE_DIGITS
        assert code.isascii()
        assert code.isdigit()


def test_new_cards_differ() -> None:
    # Two cards of 80 independent codes agree everywhere with probability 10**-240;
    # a card whose codes are all equal, with probability 10**-237.
    first, second = new_card(new_serial()), new_card(new_serial())
    assert dict(first.codes) != dict(second.codes)
    assert len(set(first.codes.values())) > 1


def test_new_serial_is_twelve_grouped_digits() -> None:
    serials = {new_serial() for _ in range(20)}
    assert all(re.fullmatch(r"\d{4}-\d{4}-\d{4}", s) for s in serials)
    assert len(serials) > 1


def test_repr_and_str_hide_the_codes(card: GridCard) -> None:
    assert repr(card) == str(card) == f"GridCard(serial='{SERIAL}')"


def test_the_card_cannot_be_changed_through_its_codes() -> None:
    codes = dict(new_card(SERIAL).codes)
    card = GridCard(serial=SERIAL, codes=codes)
    codes["A1"] = "xyz"
    assert card.codes["A1"] != "xyz"
    with pytest.raises(TypeError):
        card.codes["A1"] = "000"  # type: ignore[index]


@pytest.mark.parametrize(
    "change",
    [
        lambda codes: codes.pop("H10"),
        lambda codes: codes.update(I1="123"),
        lambda codes: codes.update(A1="12"),
        lambda codes: codes.update(A1="１２３"),
        lambda codes: codes.update(A1="12a"),
    ],
)
def test_a_card_needs_every_position_and_proper_codes(change: object) -> None:
    codes = dict(new_card(SERIAL).codes)
    change(codes)  # type: ignore[operator]
    with pytest.raises(ValueError, match="grid card"):
        GridCard(serial=SERIAL, codes=codes)


# --- Hashing and checking ------------------------------------------------------------


def test_stored_values_are_keyed_hashes(card: GridCard, stored: dict[str, bytes]) -> None:
    assert set(stored) == set(card.codes)
    assert all(len(digest) == 32 for digest in stored.values())
    # Bound to key, serial and position: the same code elsewhere hashes differently.
    a1 = card.codes["A1"]
    digest = gridcard.hash_code(KEY, SERIAL, "A1", a1)
    assert stored["A1"] == digest
    assert gridcard.hash_code(OTHER_KEY, SERIAL, "A1", a1) != digest
    assert gridcard.hash_code(KEY, "0000-0000-0000", "A1", a1) != digest
    assert gridcard.hash_code(KEY, SERIAL, "B1", a1) != digest


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        gridcard.hash_code(b"short", SERIAL, "A1", "123")


def test_the_right_codes_pass(card: GridCard, stored: dict[str, bytes]) -> None:
    positions = ("A1", "C7", "H10")
    answers = [card.codes[p] for p in positions]
    assert check_answers(KEY, SERIAL, stored, positions, answers)


@pytest.mark.parametrize("wrong", [0, 1, 2])
def test_any_one_wrong_code_fails(card: GridCard, stored: dict[str, bytes], wrong: int) -> None:
    positions = ("A1", "C7", "H10")
    answers = [card.codes[p] for p in positions]
    answers[wrong] = f"{(int(answers[wrong]) + 1) % 10**CODE_DIGITS:0{CODE_DIGITS}d}"
    assert not check_answers(KEY, SERIAL, stored, positions, answers)


def test_wrong_key_or_serial_fails(card: GridCard, stored: dict[str, bytes]) -> None:
    positions = ("B2", "D5", "G9")
    answers = [card.codes[p] for p in positions]
    assert not check_answers(OTHER_KEY, SERIAL, stored, positions, answers)
    assert not check_answers(KEY, "9999-9999-9999", stored, positions, answers)


def test_full_width_digits_and_spaces_are_accepted(
    card: GridCard, stored: dict[str, bytes]
) -> None:
    positions = ("A1", "C7", "H10")
    codes = [card.codes[p] for p in positions]
    answers = [_full_width(codes[0]), f" {codes[1][0]} {codes[1][1:]}\u3000", codes[2]]
    assert check_answers(KEY, SERIAL, stored, positions, answers)


def test_malformed_challenges_fail(card: GridCard, stored: dict[str, bytes]) -> None:
    a1, c7 = card.codes["A1"], card.codes["C7"]
    assert not check_answers(KEY, SERIAL, stored, [], [])
    assert not check_answers(KEY, SERIAL, stored, ["A1", "C7"], [a1])  # an answer short
    assert not check_answers(KEY, SERIAL, stored, ["A1"], [a1, c7])  # one too many
    assert not check_answers(KEY, SERIAL, stored, ["A1", "A1"], [a1, a1])  # repeated
    assert not check_answers(KEY, SERIAL, stored, ["A1", "Z9"], [a1, "000"])  # off the card


def test_an_answer_is_only_its_ascii_code(card: GridCard, stored: dict[str, bytes]) -> None:
    code = card.codes["A1"]
    assert not check_answers(KEY, SERIAL, stored, ["A1"], [code + "0"])
    assert not check_answers(KEY, SERIAL, stored, ["A1"], [""])


# --- Choosing a challenge ------------------------------------------------------------


def test_a_challenge_is_distinct_sorted_and_fresh() -> None:
    fresh = set(all_positions()) - {"A1", "B1"}
    positions = choose_positions(fresh)
    assert len(positions) == POSITIONS_PER_CHALLENGE
    assert set(positions) <= fresh
    assert list(positions) == sorted(positions, key=all_positions().index)


def test_no_position_is_asked_twice_and_a_card_answers_26_challenges() -> None:
    fresh = set(all_positions())
    asked: list[str] = []
    for _ in range(CHALLENGES_PER_CARD):
        positions = choose_positions(fresh)
        assert not set(positions) & set(asked)
        asked += positions
        fresh -= set(positions)
    assert CHALLENGES_PER_CARD == 26
    assert len(fresh) == 80 - 78
    with pytest.raises(CardExhausted):
        choose_positions(fresh)


def test_the_last_fresh_positions_are_the_ones_asked() -> None:
    assert choose_positions({"H10", "A1", "C7"}) == ("A1", "C7", "H10")


@pytest.mark.parametrize("fresh", [["A1", "I1"], ["A1", "a2", "B3"], ["A0", "B1", "C1"]])
def test_choose_positions_refuses_what_is_not_a_position(fresh: list[str]) -> None:
    with pytest.raises(ValueError, match="position"):
        choose_positions(fresh)


def test_a_challenge_names_at_least_one_position() -> None:
    with pytest.raises(ValueError, match="challenge"):
        choose_positions(all_positions(), per_challenge=0)


@pytest.mark.parametrize(("max_uses", "uses"), [(None, 26), (10, 10), (26, 26), (200, 26)])
def test_a_card_answers_its_positions_worth_or_the_banks_limit(
    max_uses: int | None, uses: int
) -> None:
    assert card_uses(max_uses) == uses


@settings(max_examples=200, deadline=None)
@given(
    fresh=st.sets(st.sampled_from(all_positions())),
    per_challenge=st.integers(min_value=1, max_value=4),
)
def test_any_challenge_is_distinct_sorted_and_never_asked_before(
    fresh: set[str], per_challenge: int
) -> None:
    try:
        positions = choose_positions(fresh, per_challenge=per_challenge)
    except CardExhausted:
        assert len(fresh) < per_challenge
        return
    assert len(set(positions)) == per_challenge
    assert set(positions) <= fresh
    assert list(positions) == sorted(positions, key=all_positions().index)


# --- Positions on the command line ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A1,C7,H10", ("A1", "C7", "H10")),
        ("H10,A1", ("H10", "A1")),  # the order asked is kept: answers follow it
        (" a1 , c7 ,h10 ", ("A1", "C7", "H10")),
        ("Ａ１，Ｃ７", ("A1", "C7")),  # full-width, as a Chinese IME types them
        ("B5", ("B5",)),
    ],
)
def test_parse_positions_accepts(text: str, expected: tuple[str, ...]) -> None:
    assert parse_positions(text) == expected


@pytest.mark.parametrize(
    "text", ["", ",", "A1,,C7", "I1", "A0", "A11", "A01", "1A", "AA1", "A1,A1", "A1;C7", "A-1"]
)
def test_parse_positions_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="position"):
        parse_positions(text)


# --- The customer's copy -------------------------------------------------------------


def test_card_json_round_trip(card: GridCard) -> None:
    text = card_to_json(card)
    again = card_from_json(text)
    assert again == card
    assert again.serial == SERIAL
    assert dict(again.codes) == dict(card.codes)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        json.dumps({"serial": SERIAL, "codes": {}}),
        json.dumps({"kind": "token", "serial": SERIAL, "codes": {}}),
        json.dumps({"kind": "grid_card", "serial": 1, "codes": {}}),
        json.dumps({"kind": "grid_card", "serial": SERIAL, "codes": {"A1": "123"}}),
        json.dumps({"kind": "grid_card", "serial": SERIAL, "codes": dict.fromkeys(COLUMNS, 1)}),
    ],
)
def test_card_from_json_refuses_other_files(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (json's own errors are ValueErrors too)
        card_from_json(text)


# --- The printed card ----------------------------------------------------------------


def test_pdf_shows_serial_holder_and_every_code_at_its_position(card: GridCard) -> None:
    pdf = render_pdf(card, holder="张小明", issued=date(2024, 5, 1), expires_after_uses=30)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    # pypdf reads the embedded CJK font's two-byte codes with a NUL before each
    # character (see test_statements); compare without NULs and whitespace.
    lines = [
        "".join(line.replace("\x00", "").split())
        for line in (reader.pages[0].extract_text() or "").splitlines()
    ]
    content = "".join(lines)
    assert SERIAL in content
    assert "口令卡" in content
    assert "*小明" in content
    assert "张小明" not in content
    assert "2024-05-01" in content
    assert "30" in content
    assert "ABCDEFGH" in lines
    # Each table row reads as its number followed by the row's eight codes, so the
    # whole table can be rebuilt from the text and compared with the card.
    width = len(COLUMNS) * CODE_DIGITS
    read: dict[str, str] = {}
    for line in lines:
        match = re.fullmatch(rf"(\d{{1,2}})(\d{{{width}}})", line)
        if match is None:
            continue
        row, codes = match.groups()
        for i, column in enumerate(COLUMNS):
            read[f"{column}{row}"] = codes[i * CODE_DIGITS : (i + 1) * CODE_DIGITS]
    assert read["A1"] == card.codes["A1"]
    assert read["H10"] == card.codes["H10"]
    assert read == dict(card.codes)


def test_pdf_needs_a_positive_use_limit(card: GridCard) -> None:
    with pytest.raises(ValueError, match="use"):
        render_pdf(card, holder="张小明", issued=date(2024, 5, 1), expires_after_uses=0)
