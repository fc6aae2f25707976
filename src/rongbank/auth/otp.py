"""One-time passwords: HOTP (RFC 4226), TOTP (RFC 6238) and OCRA (RFC 6287), pure.

No database, no clock, no I/O: every moving factor (counter, unix time) is an argument,
so the service decides where counters live and which time steps were already used.

Why OCRA: the bank's 电子密码器 (challenge-response token) is an OCRA token. In
signature mode the customer keys the transaction into the token and types back the
code it shows. Because the payee and the amount are part of the HMAC input, the code
is *dynamically linked* to them: it is valid only for that payee and that amount, so
malware that swaps the payee or the amount in the browser gets a code the bank
refuses. :data:`SIGNATURE_SUITE` and :func:`payment_question` fix the layout.

HOTP and TOTP come from ``cryptography`` (a well-kept library); OCRA is written out
here because the RFC defines it exactly and no such library covers it, and it is
checked against every test vector of RFC 6287 Appendix C.

Nothing here logs, and no error message carries a key, a PIN or a code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor.hotp import HOTP
from cryptography.hazmat.primitives.twofactor.totp import TOTP

HashName = Literal["SHA1", "SHA256", "SHA512"]
QuestionFormat = Literal["A", "N", "H"]

_HASH_NAMES: dict[str, HashName] = {"SHA1": "SHA1", "SHA256": "SHA256", "SHA512": "SHA512"}
_QUESTION_FORMATS: dict[str, QuestionFormat] = {"A": "A", "N": "N", "H": "H"}
_HASHLIB = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}

_MAX_COUNTER = 2**64  # C and T are 8-byte unsigned big-endian values in the DataInput
_QUESTION_BYTES = 128  # Q is always 128 bytes in the DataInput (RFC 6287 section 5.1)

# RFC 6287 section 6.3, table 3: time-step size per unit. 0H would be no step at all.
_TIME_UNITS = {"S": (1, 59, 1), "M": (1, 59, 60), "H": (1, 48, 3600)}

_QUESTION_CHARS = {
    "A": re.compile(r"[0-9A-Za-z]+"),
    "N": re.compile(r"[0-9]+"),
    "H": re.compile(r"[0-9A-Fa-f]+"),
}


def _cryptography_hash(algorithm: str) -> hashes.SHA1 | hashes.SHA256 | hashes.SHA512:
    if algorithm == "SHA1":
        return hashes.SHA1()  # noqa: S303  # HOTP/TOTP's RFC default; HMAC-SHA1 is not broken
    if algorithm == "SHA256":
        return hashes.SHA256()
    if algorithm == "SHA512":
        return hashes.SHA512()
    raise ValueError(f"unsupported algorithm {algorithm!r}: expected SHA1, SHA256 or SHA512")


def hotp(key: bytes, counter: int, *, digits: int = 6, algorithm: str = "SHA1") -> str:
    """The RFC 4226 HOTP value for ``counter`` (6 to 8 digits)."""
    if not 0 <= counter < _MAX_COUNTER:
        raise ValueError("HOTP counter must be between 0 and 2**64 - 1")
    generator = HOTP(key, digits, _cryptography_hash(algorithm), enforce_key_length=False)
    return generator.generate(counter).decode("ascii")


def totp(
    key: bytes, unix_time: int, *, step: int = 30, digits: int = 8, algorithm: str = "SHA1"
) -> str:
    """The RFC 6238 TOTP value at ``unix_time`` (seconds since the epoch, UTC).

    Keys shorter than 128 bits are accepted (``enforce_key_length=False``) because the
    RFC's own SHA256/SHA512 test keys and older tokens need it; new keys should be
    generated at the hash's output length.
    """
    if unix_time < 0:
        raise ValueError("TOTP time must not be before the epoch")
    if step <= 0:
        raise ValueError("TOTP step must be positive")
    generator = TOTP(key, digits, _cryptography_hash(algorithm), step, enforce_key_length=False)
    return generator.generate(unix_time).decode("ascii")


_SUITE_CRYPTO = re.compile(r"HOTP-(SHA1|SHA256|SHA512)-(0|[4-9]|10)")
_SUITE_INPUT = re.compile(
    r"(?P<c>C-)?"
    r"Q(?P<qf>[ANH])(?P<ql>[0-9]{2})"
    r"(?:-P(?P<p>SHA1|SHA256|SHA512))?"
    r"(?:-S(?P<s>[0-9]{3}))?"
    r"(?:-T(?P<tn>[0-9]{1,2})(?P<tu>[SMH]))?"
)


@dataclass(frozen=True, slots=True)
class OcraSuite:
    """A parsed OCRASuite (RFC 6287 section 6), e.g. ``OCRA-1:HOTP-SHA256-8:QN16-T1M``.

    Grammar accepted (upper case, inputs in this order, the challenge mandatory)::

        OCRA-1:HOTP-<SHA1|SHA256|SHA512>-<0|4-10>:[C-]Q<A|N|H><04-64>
               [-P<SHA1|SHA256|SHA512>][-S<nnn>][-T<1-59S|1-59M|1-48H>]

    ``text`` is kept verbatim: it is the first field of the HMAC input.
    """

    text: str
    algorithm: HashName
    digits: int
    """Response length; 0 means no truncation (the whole HMAC, as lower-case hex)."""
    counter: bool
    question_format: QuestionFormat
    question_length: int
    """The longest challenge, in characters (digits, letters or hex digits)."""
    password_hash: HashName | None
    session_length: int | None
    """Session information length in bytes."""
    time_step_seconds: int | None

    @classmethod
    def parse(cls, suite: str) -> OcraSuite:
        """Parse and validate ``suite``; raise ``ValueError`` saying which part is wrong."""
        parts = suite.split(":")
        if len(parts) != 3:
            raise ValueError(
                f"OCRA suite {suite!r} must have three ':'-separated parts "
                "(OCRA-1:HOTP-<hash>-<digits>:<data input>)"
            )
        version, crypto, data_input = parts
        if version != "OCRA-1":
            raise ValueError(f"OCRA suite {suite!r}: unsupported version {version!r}")
        crypto_match = _SUITE_CRYPTO.fullmatch(crypto)
        if crypto_match is None:
            raise ValueError(
                f"OCRA suite {suite!r}: crypto function {crypto!r} must be "
                "HOTP-<SHA1|SHA256|SHA512>-<0|4-10>"
            )
        input_match = _SUITE_INPUT.fullmatch(data_input)
        if input_match is None:
            raise ValueError(
                f"OCRA suite {suite!r}: data input {data_input!r} must be "
                "[C-]Q<A|N|H><04-64>[-P<hash>][-S<nnn>][-T<n><S|M|H>], in that order"
            )
        question_length = int(input_match["ql"])
        if not 4 <= question_length <= 64:
            raise ValueError(f"OCRA suite {suite!r}: challenge length must be 04 to 64")
        session_length = None if input_match["s"] is None else int(input_match["s"])
        if session_length == 0:
            raise ValueError(f"OCRA suite {suite!r}: session length must be at least 001")
        time_step = None
        if input_match["tn"] is not None:
            low, high, unit_seconds = _TIME_UNITS[input_match["tu"]]
            count = int(input_match["tn"])
            if not low <= count <= high:
                raise ValueError(
                    f"OCRA suite {suite!r}: time step must be {low}-{high}{input_match['tu']}"
                )
            time_step = count * unit_seconds
        password_hash = None if input_match["p"] is None else _HASH_NAMES[input_match["p"]]
        return cls(
            text=suite,
            algorithm=_HASH_NAMES[crypto_match[1]],
            digits=int(crypto_match[2]),
            counter=input_match["c"] is not None,
            question_format=_QUESTION_FORMATS[input_match["qf"]],
            question_length=question_length,
            password_hash=password_hash,
            session_length=session_length,
            time_step_seconds=time_step,
        )


def _as_suite(suite: str | OcraSuite) -> OcraSuite:
    return suite if isinstance(suite, OcraSuite) else OcraSuite.parse(suite)


def time_steps(unix_time: int, suite: str | OcraSuite) -> int:
    """The OCRA ``T`` value at ``unix_time``: whole time steps since the epoch."""
    parsed = _as_suite(suite)
    if parsed.time_step_seconds is None:
        raise ValueError(f"OCRA suite {parsed.text!r} has no time step (T)")
    if unix_time < 0:
        raise ValueError("OCRA time must not be before the epoch")
    return unix_time // parsed.time_step_seconds


def _question_bytes(suite: OcraSuite, question: str | tuple[str, ...]) -> bytes:
    # A tuple is the mutual mode of RFC 6287 section 7.3: each party's challenge is
    # checked against the suite on its own, then they are concatenated (QC|QS or QS|QC).
    parts = (question,) if isinstance(question, str) else question
    if not parts:
        raise ValueError("OCRA challenge is missing")
    fmt = suite.question_format
    for part in parts:
        if not part or len(part) > suite.question_length:
            raise ValueError(
                f"OCRA challenge must be 1 to {suite.question_length} characters long "
                f"(suite {suite.text!r})"
            )
        if not _QUESTION_CHARS[fmt].fullmatch(part):
            kind = {"A": "letters and digits", "N": "decimal digits", "H": "hex digits"}[fmt]
            raise ValueError(f"OCRA challenge must be {kind} only (suite {suite.text!r})")
    joined = "".join(parts)
    if fmt == "A":
        return joined.encode("ascii").ljust(_QUESTION_BYTES, b"\0")
    # N and H, as the RFC's reference code: the hex digits are left-aligned and padded
    # with '0' on the right *as hex text*, so an odd count fills half of the last byte.
    hex_text = format(int(joined, 10), "X") if fmt == "N" else joined
    if len(hex_text) > 2 * _QUESTION_BYTES:
        raise ValueError("OCRA challenge does not fit the 128-byte question field")
    return bytes.fromhex(hex_text.ljust(2 * _QUESTION_BYTES, "0"))


def _password_bytes(suite: OcraSuite, hash_name: HashName, password: str | bytes | None) -> bytes:
    if password is None:
        raise ValueError(f"OCRA suite {suite.text!r} needs a PIN/password (P)")
    digest = _HASHLIB[hash_name]
    if isinstance(password, str):
        return digest(password.encode("utf-8")).digest()
    # Bytes are taken as the PIN hash itself, so a server can store only that.
    if len(password) != digest().digest_size:
        raise ValueError(
            f"a pre-hashed OCRA password must be the {digest().digest_size}-byte {hash_name} digest"
        )
    return password


def _data_input(
    suite: OcraSuite,
    question: str | tuple[str, ...],
    counter: int | None,
    password: str | bytes | None,
    session: bytes | None,
    timestamp: int | None,
) -> bytes:
    # DataInput = OCRASuite | 00 | C | Q | P | S | T  (RFC 6287 section 5.1)
    data = bytearray(suite.text.encode("ascii"))
    data.append(0)
    if suite.counter:
        if counter is None:
            raise ValueError(f"OCRA suite {suite.text!r} needs a counter (C)")
        if not 0 <= counter < _MAX_COUNTER:
            raise ValueError("OCRA counter must be between 0 and 2**64 - 1")
        data += counter.to_bytes(8, "big")
    data += _question_bytes(suite, question)
    if suite.password_hash is not None:
        data += _password_bytes(suite, suite.password_hash, password)
    if suite.session_length is not None:
        if session is None:
            raise ValueError(f"OCRA suite {suite.text!r} needs session information (S)")
        # Exactly nnn bytes: padding here would make different sessions collide.
        if len(session) != suite.session_length:
            raise ValueError(f"OCRA session information must be {suite.session_length} bytes")
        data += session
    if suite.time_step_seconds is not None:
        if timestamp is None:
            raise ValueError(f"OCRA suite {suite.text!r} needs a timestamp (T), in time steps")
        if not 0 <= timestamp < _MAX_COUNTER:
            raise ValueError("OCRA timestamp must be between 0 and 2**64 - 1 time steps")
        data += timestamp.to_bytes(8, "big")
    return bytes(data)


def ocra(
    suite: str | OcraSuite,
    key: bytes,
    question: str | tuple[str, ...],
    *,
    counter: int | None = None,
    password: str | bytes | None = None,
    session: bytes | None = None,
    timestamp: int | None = None,
) -> str:
    """The RFC 6287 OCRA response.

    - ``question``: the challenge as typed, in the suite's format (N: decimal digits,
      A: letters and digits, H: hex digits), at most the suite's length. For mutual
      challenge-response pass a tuple ``(QC, QS)`` (server response) or ``(QS, QC)``
      (client response): each part is checked against the suite, then concatenated.
    - ``counter``: the C value, required when the suite has ``C``.
    - ``password``: required when the suite has ``P``. A ``str`` is the PIN itself and
      is hashed (UTF-8) with the suite's P hash; ``bytes`` are the PIN's hash already.
    - ``session``: exactly the suite's ``S`` length in bytes.
    - ``timestamp``: the T value, in time steps (see :func:`time_steps`), not seconds.

    Inputs the suite does not use are ignored, as the RFC's reference code does. With
    digits 0 (truncation off) the whole HMAC is returned as lower-case hex.
    """
    parsed = _as_suite(suite)
    data = _data_input(parsed, question, counter, password, session, timestamp)
    mac = hmac.new(key, data, _HASHLIB[parsed.algorithm]).digest()
    if parsed.digits == 0:
        return mac.hex()
    # Dynamic truncation as in HOTP (RFC 4226 section 5.3).
    offset = mac[-1] & 0x0F
    code = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFF_FFFF
    return str(code % 10**parsed.digits).zfill(parsed.digits)


def verify_ocra(
    suite: str | OcraSuite,
    key: bytes,
    question: str | tuple[str, ...],
    response: str,
    *,
    unix_time: int | None = None,
    counter: int | None = None,
    window: int = 2,
    password: str | bytes | None = None,
    session: bytes | None = None,
) -> int | None:
    """Check an OCRA response; return the moving factor it matched, or ``None``.

    - Time-based suites (``T``), ``unix_time`` required: try the time steps from
      ``now - window`` to ``now + window`` (clock drift both ways) and return the
      matching time step, so that the caller can refuse a second use of that step.
    - Counter-based suites (``C``), ``counter`` required (the next expected value):
      try ``counter`` to ``counter + window`` (the token may have been pressed
      without the code being used) and return the matching counter; the caller
      stores ``matched + 1`` as the next expected value.

    Suites with both C and T, or neither, raise ``ValueError``: they have no single
    moving factor to return (compare :func:`ocra` with ``hmac.compare_digest``).
    Every candidate is computed and compared in constant time; when more than one
    matches (a truncation collision) the one nearest ``now``/``counter`` wins.
    """
    parsed = _as_suite(suite)
    if window < 0:
        raise ValueError("verification window must not be negative")
    timed = parsed.time_step_seconds is not None
    if timed == parsed.counter:
        raise ValueError(
            f"verify_ocra needs a suite with exactly one of C and T, not {parsed.text!r}"
        )
    if timed:
        if unix_time is None:
            raise ValueError(f"OCRA suite {parsed.text!r} is time-based: pass unix_time")
        now = time_steps(unix_time, parsed)
        # Nearest first: now, now-1, now+1, now-2, ...
        candidates = [now] + [now + s * d for d in range(1, window + 1) for s in (-1, 1)]
    else:
        if counter is None:
            raise ValueError(f"OCRA suite {parsed.text!r} is counter-based: pass counter")
        candidates = list(range(counter, counter + window + 1))
    candidates = [c for c in candidates if 0 <= c < _MAX_COUNTER]
    given = response.encode("utf-8")
    matched: int | None = None
    for candidate in candidates:
        expected = ocra(
            parsed,
            key,
            question,
            counter=None if timed else candidate,
            password=password,
            session=session,
            timestamp=candidate if timed else None,
        )
        # No early exit: the work done does not depend on where (or whether) it matched.
        if hmac.compare_digest(expected.encode("ascii"), given) and matched is None:
            matched = candidate
    return matched


SIGNATURE_SUITE = "OCRA-1:HOTP-SHA256-8:QN16-T1M"
"""The 电子密码器 transaction-signing suite: HMAC-SHA256, 8 digits, a 16-digit numeric
challenge from :func:`payment_question`, one-minute time steps."""

PAYEE_DIGITS = 6
AMOUNT_DIGITS = 10


def payment_question(payee_account: str, amount_minor: int) -> str:
    """The 16-digit challenge the customer keys into the token for a transfer.

    Layout (what the token screen asks for, in this order)::

        PPPPPP AAAAAAAAAA
        |      '- amount in fen (minor units), zero-padded to 10 digits
        '- last 6 digits of the payee account, zero-padded on the left

    Non-digits in the account number (spaces, dashes) are ignored. The fixed widths
    keep the mapping one-to-one even though QN drops leading zeros. Only the last 6
    payee digits are bound: two payee accounts ending alike give the same question.
    """
    if isinstance(amount_minor, bool):
        raise TypeError("amount_minor must be an int number of fen")
    digits = "".join(ch for ch in payee_account if ch in "0123456789")
    if not digits:
        raise ValueError("payee account number has no digits")
    if not 0 <= amount_minor < 10**AMOUNT_DIGITS:
        raise ValueError(
            f"amount must be 0 to {10**AMOUNT_DIGITS - 1} fen to fit the token challenge"
        )
    return digits[-PAYEE_DIGITS:].rjust(PAYEE_DIGITS, "0") + str(amount_minor).zfill(AMOUNT_DIGITS)
