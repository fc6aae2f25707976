"""HOTP, TOTP and OCRA against the RFCs' own test vectors, and the payment signature.

Every expected code below is copied from the RFC tables (RFC 4226 Appendix D,
RFC 6238 Appendix B, RFC 6287 Appendix C), never produced by the code under test.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rongbank.auth.otp import (
    SIGNATURE_SUITE,
    OcraSuite,
    hotp,
    ocra,
    payment_question,
    time_steps,
    totp,
    verify_ocra,
)

KEY20 = b"12345678901234567890"
KEY32 = b"12345678901234567890123456789012"
KEY64 = b"1234567890123456789012345678901234567890123456789012345678901234"
PIN = "1234"
PIN_SHA1 = bytes.fromhex("7110eda4d09e062aa5e4a390b0a572ac0d2c0220")  # RFC 6287 App. C
T_RFC = 0x132D0B6  # RFC 6287 Appendix C timestamp, in one-minute steps

# --- RFC 4226 Appendix D: HOTP-SHA1, 6 digits, counters 0-9 --------------------------

RFC4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226)))
def test_hotp_rfc4226(counter: int, expected: str) -> None:
    assert hotp(KEY20, counter) == expected


# --- RFC 6238 Appendix B: TOTP, 30-second steps, 8 digits -----------------------------

TOTP_KEYS = {"SHA1": KEY20, "SHA256": KEY32, "SHA512": KEY64}
RFC6238 = [
    (59, "SHA1", "94287082"),
    (59, "SHA256", "46119246"),
    (59, "SHA512", "90693936"),
    (1111111109, "SHA1", "07081804"),
    (1111111109, "SHA256", "68084774"),
    (1111111109, "SHA512", "25091201"),
    (1111111111, "SHA1", "14050471"),
    (1111111111, "SHA256", "67062674"),
    (1111111111, "SHA512", "99943326"),
    (1234567890, "SHA1", "89005924"),
    (1234567890, "SHA256", "91819424"),
    (1234567890, "SHA512", "93441116"),
    (2000000000, "SHA1", "69279037"),
    (2000000000, "SHA256", "90698825"),
    (2000000000, "SHA512", "38618901"),
    (20000000000, "SHA1", "65353130"),
    (20000000000, "SHA256", "77737706"),
    (20000000000, "SHA512", "47863826"),
]


@pytest.mark.parametrize(("unix_time", "algorithm", "expected"), RFC6238)
def test_totp_rfc6238(unix_time: int, algorithm: str, expected: str) -> None:
    assert totp(TOTP_KEYS[algorithm], unix_time, algorithm=algorithm) == expected


def test_hotp_totp_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="algorithm"):
        hotp(KEY20, 0, algorithm="MD5")
    with pytest.raises(ValueError, match="counter"):
        hotp(KEY20, -1)
    with pytest.raises(ValueError, match="epoch"):
        totp(KEY20, -1)
    with pytest.raises(ValueError, match="step"):
        totp(KEY20, 59, step=0)


# --- RFC 6287 Appendix C.1: one-way challenge-response --------------------------------

QN = [str(i) * 8 for i in range(10)]  # 00000000, 11111111, ... 99999999

C1_SHA1_QN08 = [
    "237653",
    "243178",
    "653583",
    "740991",
    "608993",
    "388898",
    "816933",
    "224598",
    "750600",
    "294470",
]
C1_SHA256_C_QN08_PSHA1 = [
    "65347737",
    "86775851",
    "78192410",
    "71565254",
    "10104329",
    "65983500",
    "70069104",
    "91771096",
    "75011558",
    "08522129",
]
C1_SHA256_QN08_PSHA1 = ["83238735", "01501458", "17957585", "86776967", "86807031"]
C1_SHA512_C_QN08 = [
    "07016083",
    "63947962",
    "70123924",
    "25341727",
    "33203315",
    "34205738",
    "44343969",
    "51946085",
    "20403879",
    "31409299",
]
C1_SHA512_QN08_T1M = ["95209754", "55907591", "22048402", "24218844", "36209546"]


@pytest.mark.parametrize(("question", "expected"), list(zip(QN, C1_SHA1_QN08, strict=True)))
def test_ocra_sha1_qn08(question: str, expected: str) -> None:
    assert ocra("OCRA-1:HOTP-SHA1-6:QN08", KEY20, question) == expected


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(C1_SHA256_C_QN08_PSHA1)))
def test_ocra_sha256_counter_pin(counter: int, expected: str) -> None:
    suite = "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1"
    assert ocra(suite, KEY32, "12345678", counter=counter, password=PIN) == expected
    # The server may keep only the PIN's hash: bytes are taken as that hash.
    assert ocra(suite, KEY32, "12345678", counter=counter, password=PIN_SHA1) == expected


@pytest.mark.parametrize(
    ("question", "expected"), list(zip(QN[:5], C1_SHA256_QN08_PSHA1, strict=True))
)
def test_ocra_sha256_pin(question: str, expected: str) -> None:
    assert ocra("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, question, password=PIN) == expected


@pytest.mark.parametrize(
    ("counter", "question", "expected"),
    [(i, QN[i], code) for i, code in enumerate(C1_SHA512_C_QN08)],
)
def test_ocra_sha512_counter(counter: int, question: str, expected: str) -> None:
    assert ocra("OCRA-1:HOTP-SHA512-8:C-QN08", KEY64, question, counter=counter) == expected


@pytest.mark.parametrize(
    ("question", "expected"), list(zip(QN[:5], C1_SHA512_QN08_T1M, strict=True))
)
def test_ocra_sha512_time(question: str, expected: str) -> None:
    suite = "OCRA-1:HOTP-SHA512-8:QN08-T1M"
    assert ocra(suite, KEY64, question, timestamp=T_RFC) == expected


def test_time_steps_of_the_rfc_timestamp() -> None:
    # Minute 0x132d0b6 since the epoch is 2008-03-25 12:06 UTC.
    unix_time = int(datetime(2008, 3, 25, 12, 6, 30, tzinfo=UTC).timestamp())
    suite = OcraSuite.parse("OCRA-1:HOTP-SHA512-8:QN08-T1M")
    assert time_steps(unix_time, suite) == T_RFC
    assert time_steps(unix_time, "OCRA-1:HOTP-SHA1-6:QN08-T30S") == unix_time // 30
    with pytest.raises(ValueError, match="no time step"):
        time_steps(unix_time, "OCRA-1:HOTP-SHA1-6:QN08")


# --- RFC 6287 Appendix C.2: mutual challenge-response ---------------------------------
# The server answers (QC, QS); the client answers (QS, QC).

QC = [f"CLI2222{i}" for i in range(5)]
QS = [f"SRV1111{i}" for i in range(5)]

C2_SERVER_SHA256_QA08 = ["28247970", "01984843", "65387857", "03351211", "83412541"]
C2_CLIENT_SHA256_QA08 = ["15510767", "90175646", "33777207", "95285278", "28934924"]
C2_SERVER_SHA512_QA08 = ["79496648", "76831980", "12250499", "90856481", "12761449"]
C2_CLIENT_SHA512_QA08_PSHA1 = ["18806276", "70020315", "01600026", "18951020", "32528969"]


@pytest.mark.parametrize("i", range(5))
def test_ocra_mutual_sha256(i: int) -> None:
    suite = "OCRA-1:HOTP-SHA256-8:QA08"
    assert ocra(suite, KEY32, (QC[i], QS[i])) == C2_SERVER_SHA256_QA08[i]
    assert ocra(suite, KEY32, (QS[i], QC[i])) == C2_CLIENT_SHA256_QA08[i]


@pytest.mark.parametrize("i", range(5))
def test_ocra_mutual_sha512(i: int) -> None:
    server = "OCRA-1:HOTP-SHA512-8:QA08"
    client = "OCRA-1:HOTP-SHA512-8:QA08-PSHA1"
    assert ocra(server, KEY64, (QC[i], QS[i])) == C2_SERVER_SHA512_QA08[i]
    assert ocra(client, KEY64, (QS[i], QC[i]), password=PIN) == C2_CLIENT_SHA512_QA08_PSHA1[i]


def test_mutual_challenges_are_checked_one_by_one() -> None:
    # QA08 bounds each party's challenge; one 16-character challenge is too long.
    with pytest.raises(ValueError, match="1 to 8 characters"):
        ocra("OCRA-1:HOTP-SHA256-8:QA08", KEY32, QC[0] + QS[0])
    with pytest.raises(ValueError, match="1 to 8 characters"):
        ocra("OCRA-1:HOTP-SHA256-8:QA08", KEY32, (QC[0] + "X", QS[0]))
    with pytest.raises(ValueError, match="missing"):
        ocra("OCRA-1:HOTP-SHA256-8:QA08", KEY32, ())


# --- RFC 6287 Appendix C.3: plain signature -------------------------------------------

C3_SHA256_QA08 = ["53095496", "04110475", "31331128", "76028668", "46554205"]
C3_SHA512_QA10_T1M = ["77537423", "31970405", "10235557", "95213541", "65360607"]


@pytest.mark.parametrize("i", range(5))
def test_ocra_signature_sha256(i: int) -> None:
    assert ocra("OCRA-1:HOTP-SHA256-8:QA08", KEY32, f"SIG1{i}000") == C3_SHA256_QA08[i]


@pytest.mark.parametrize("i", range(5))
def test_ocra_signature_sha512_time(i: int) -> None:
    suite = "OCRA-1:HOTP-SHA512-8:QA10-T1M"
    assert ocra(suite, KEY64, f"SIG1{i}00000", timestamp=T_RFC) == C3_SHA512_QA10_T1M[i]


# --- Suite parsing ------------------------------------------------------------------


def test_parse_rfc_suite() -> None:
    suite = OcraSuite.parse("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1")
    assert suite == OcraSuite(
        text="OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
        algorithm="SHA256",
        digits=8,
        counter=True,
        question_format="N",
        question_length=8,
        password_hash="SHA1",
        session_length=None,
        time_step_seconds=None,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        suite.digits = 6  # type: ignore[misc]


def test_parse_every_field() -> None:
    suite = OcraSuite.parse("OCRA-1:HOTP-SHA1-0:C-QH64-PSHA512-S128-T48H")
    assert (suite.algorithm, suite.digits, suite.counter) == ("SHA1", 0, True)
    assert (suite.question_format, suite.question_length) == ("H", 64)
    assert (suite.password_hash, suite.session_length) == ("SHA512", 128)
    assert suite.time_step_seconds == 48 * 3600


def test_parse_signature_suite() -> None:
    suite = OcraSuite.parse(SIGNATURE_SUITE)
    assert (suite.algorithm, suite.digits, suite.counter) == ("SHA256", 8, False)
    assert (suite.question_format, suite.question_length) == ("N", 16)
    assert (suite.password_hash, suite.session_length, suite.time_step_seconds) == (
        None,
        None,
        60,
    )


@pytest.mark.parametrize(
    ("text", "steps"),
    [("T1S", 1), ("T59S", 59), ("T30S", 30), ("T1M", 60), ("T59M", 3540), ("T1H", 3600)],
)
def test_parse_time_steps(text: str, steps: int) -> None:
    assert OcraSuite.parse(f"OCRA-1:HOTP-SHA1-6:QN08-{text}").time_step_seconds == steps


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        ("", "three"),
        ("OCRA-1:HOTP-SHA1-6:QN08:X", "three"),
        ("OCRA-2:HOTP-SHA1-6:QN08", "version"),
        ("ocra-1:HOTP-SHA1-6:QN08", "version"),
        ("OCRA-1:TOTP-SHA1-6:QN08", "crypto function"),
        ("OCRA-1:HOTP-MD5-6:QN08", "crypto function"),
        ("OCRA-1:HOTP-SHA384-6:QN08", "crypto function"),
        ("OCRA-1:HOTP-SHA1-3:QN08", "crypto function"),
        ("OCRA-1:HOTP-SHA1-11:QN08", "crypto function"),
        ("OCRA-1:HOTP-SHA1-06:QN08", "crypto function"),
        ("OCRA-1:HOTP-SHA1:QN08", "crypto function"),
        ("OCRA-1:HOTP-SHA1-6:C", "data input"),
        ("OCRA-1:HOTP-SHA1-6:", "data input"),
        ("OCRA-1:HOTP-SHA1-6:QX08", "data input"),
        ("OCRA-1:HOTP-SHA1-6:QN8", "data input"),
        ("OCRA-1:HOTP-SHA1-6:QN03", "04 to 64"),
        ("OCRA-1:HOTP-SHA1-6:QN65", "04 to 64"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1", "data input"),
        ("OCRA-1:HOTP-SHA1-6:QN08-C", "data input"),
        ("OCRA-1:HOTP-SHA1-6:QN08-PSHA384", "data input"),
        ("OCRA-1:HOTP-SHA1-6:QN08-S64", "data input"),
        ("OCRA-1:HOTP-SHA1-6:QN08-S000", "session length"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T0M", "time step"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T60S", "time step"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T49H", "time step"),
        ("OCRA-1:HOTP-SHA1-6:QN08-T1D", "data input"),
        ("OCRA-1:HOTP-SHA1-6:QN08\n", "data input"),
        ("OCRA-1:HOTP-SHA1-6:qn08", "data input"),
    ],
)
def test_parse_refuses_invalid_suites(suite: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OcraSuite.parse(suite)


# --- OCRA inputs ----------------------------------------------------------------------


def test_ocra_refuses_missing_or_malformed_inputs() -> None:
    with pytest.raises(ValueError, match="needs a counter"):
        ocra("OCRA-1:HOTP-SHA512-8:C-QN08", KEY64, "12345678")
    with pytest.raises(ValueError, match="counter must be"):
        ocra("OCRA-1:HOTP-SHA512-8:C-QN08", KEY64, "12345678", counter=2**64)
    with pytest.raises(ValueError, match="needs a PIN"):
        ocra("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, "12345678")
    with pytest.raises(ValueError, match="20-byte SHA1"):
        ocra("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, "12345678", password=b"1234")
    with pytest.raises(ValueError, match="needs a timestamp"):
        ocra("OCRA-1:HOTP-SHA512-8:QN08-T1M", KEY64, "12345678")
    with pytest.raises(ValueError, match="needs session"):
        ocra("OCRA-1:HOTP-SHA1-6:QN08-S064", KEY20, "12345678")
    with pytest.raises(ValueError, match="64 bytes"):
        ocra("OCRA-1:HOTP-SHA1-6:QN08-S064", KEY20, "12345678", session=b"\x01" * 63)
    with pytest.raises(ValueError, match="1 to 8 characters"):
        ocra("OCRA-1:HOTP-SHA1-6:QN08", KEY20, "123456789")
    with pytest.raises(ValueError, match="1 to 8 characters"):
        ocra("OCRA-1:HOTP-SHA1-6:QN08", KEY20, "")
    with pytest.raises(ValueError, match="decimal digits"):
        ocra("OCRA-1:HOTP-SHA1-6:QN08", KEY20, "1234567A")
    with pytest.raises(ValueError, match="decimal digits"):
        ocra("OCRA-1:HOTP-SHA1-6:QN08", KEY20, "１２３４")  # full-width digits
    with pytest.raises(ValueError, match="letters and digits"):
        ocra("OCRA-1:HOTP-SHA256-8:QA08", KEY32, "SIG 1000")
    with pytest.raises(ValueError, match="hex digits"):
        ocra("OCRA-1:HOTP-SHA1-6:QH08", KEY20, "0x1234")


def test_ocra_with_session_and_untruncated() -> None:
    suite = "OCRA-1:HOTP-SHA256-0:QH08-S004"
    full = ocra(suite, KEY32, "c0ffee", session=b"sess")
    assert len(full) == 64
    assert full == full.lower()
    int(full, 16)
    assert ocra(suite, KEY32, "c0ffee", session=b"sesS") != full
    # H challenges are case-insensitive hex.
    assert ocra(suite, KEY32, "C0FFEE", session=b"sess") == full


# --- Verification -------------------------------------------------------------------


def test_verify_time_window_on_rfc_vector() -> None:
    suite = "OCRA-1:HOTP-SHA512-8:QN08-T1M"
    minute = T_RFC * 60
    for drift in (-2, -1, 0, 1, 2):
        now = minute + drift * 60
        assert verify_ocra(suite, KEY64, "00000000", "95209754", unix_time=now) == T_RFC
    for drift in (-3, 3):
        now = minute + drift * 60
        assert verify_ocra(suite, KEY64, "00000000", "95209754", unix_time=now) is None
    assert (
        verify_ocra(suite, KEY64, "00000000", "95209754", unix_time=minute + 60, window=0) is None
    )
    assert verify_ocra(suite, KEY64, "11111111", "95209754", unix_time=minute) is None


def test_verify_counter_look_ahead_on_rfc_vector() -> None:
    suite = "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1"
    code = C1_SHA256_C_QN08_PSHA1[5]

    def check(counter: int) -> int | None:
        return verify_ocra(suite, KEY32, "12345678", code, counter=counter, password=PIN)

    assert check(5) == 5
    assert check(3) == 5
    assert check(2) is None  # beyond the look-ahead window
    assert check(6) is None  # a used counter never verifies again


def test_verify_refuses_unusable_arguments() -> None:
    with pytest.raises(ValueError, match="exactly one of C and T"):
        verify_ocra("OCRA-1:HOTP-SHA1-6:QN08", KEY20, "00000000", "237653", unix_time=0)
    with pytest.raises(ValueError, match="exactly one of C and T"):
        verify_ocra("OCRA-1:HOTP-SHA1-6:C-QN08-T1M", KEY20, "0", "0", unix_time=0, counter=0)
    with pytest.raises(ValueError, match="pass unix_time"):
        verify_ocra(SIGNATURE_SUITE, KEY32, "0" * 16, "12345678")
    with pytest.raises(ValueError, match="pass counter"):
        verify_ocra("OCRA-1:HOTP-SHA512-8:C-QN08", KEY64, "00000000", "07016083")
    with pytest.raises(ValueError, match="window"):
        verify_ocra(SIGNATURE_SUITE, KEY32, "0" * 16, "12345678", unix_time=0, window=-1)


def test_verify_garbage_response_is_refused_not_an_error() -> None:
    question = payment_question("6222020200112233445", 1_000_00)
    for response in ("", "1234567", "123456789", "一二三四五六七八", "95209754\n"):
        assert verify_ocra(SIGNATURE_SUITE, KEY32, question, response, unix_time=10**9) is None


# --- Payment signature (dynamic linking) ----------------------------------------------


def test_payment_question_layout() -> None:
    assert payment_question("6222 0202 0011 2233 445", 12_345_67) == "233445" + "0001234567"
    assert payment_question("6222020200112233445", 0) == "2334450000000000"
    assert payment_question("12-34", 9_999_999_999) == "0012349999999999"
    assert len(payment_question("1", 1)) == 16
    OcraSuite.parse(SIGNATURE_SUITE)  # the question fits QN16 exactly


@pytest.mark.parametrize("amount", [-1, 10**10, 10**12])
def test_payment_question_refuses_amounts_that_do_not_fit(amount: int) -> None:
    with pytest.raises(ValueError, match="amount"):
        payment_question("6222020200112233445", amount)


def test_payment_question_refuses_payee_without_digits() -> None:
    with pytest.raises(ValueError, match="no digits"):
        payment_question("ABC-", 100)


def test_signature_code_is_bound_to_payee_and_amount() -> None:
    now = 1_700_000_000
    step = time_steps(now, OcraSuite.parse(SIGNATURE_SUITE))
    question = payment_question("6222020200112233445", 500_000)
    code = ocra(SIGNATURE_SUITE, KEY32, question, timestamp=step)
    assert verify_ocra(SIGNATURE_SUITE, KEY32, question, code, unix_time=now + 90) == step
    assert verify_ocra(SIGNATURE_SUITE, KEY32, question, code, unix_time=now + 180) is None
    other_payee = payment_question("6222020200112233446", 500_000)
    other_amount = payment_question("6222020200112233445", 500_001)
    assert verify_ocra(SIGNATURE_SUITE, KEY32, other_payee, code, unix_time=now) is None
    assert verify_ocra(SIGNATURE_SUITE, KEY32, other_amount, code, unix_time=now) is None


accounts = st.text(alphabet="0123456789", min_size=6, max_size=19)
amounts = st.integers(min_value=0, max_value=10**10 - 1)


@given(
    payee=accounts,
    amount=amounts,
    other_payee=accounts,
    other_amount=amounts,
    now=st.integers(min_value=0, max_value=2**40),
)
def test_signature_verifies_only_for_its_pair(
    payee: str, amount: int, other_payee: str, other_amount: int, now: int
) -> None:
    question = payment_question(payee, amount)
    other = payment_question(other_payee, other_amount)
    # Only the last 6 payee digits are in the question; pairs that agree there are the same.
    assume(other != question)
    code = ocra(SIGNATURE_SUITE, KEY32, question, timestamp=now // 60)
    assert verify_ocra(SIGNATURE_SUITE, KEY32, question, code, unix_time=now) == now // 60
    # An 8-digit code collides by chance with probability 5e-8 over the window; the
    # examples are few enough that this cannot make the test flaky in practice.
    assert verify_ocra(SIGNATURE_SUITE, KEY32, other, code, unix_time=now) is None
