"""Password hashing and the password policy, pure: no I/O, no clock.

Hashes are argon2id in the PHC string format argon2-cffi writes, e.g.
``$argon2id$v=19$m=65536,t=3,p=4$<salt>$<tag>``. The parameters travel inside each
hash, so raising them later needs no migration: :func:`needs_rehash` tells the login,
which holds the plain password for a moment, to store a new hash.

Nothing here logs, and no error carries the password.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from rongbank.auth.errors import WeakPassword

# RFC 9106 section 4, second recommended option: argon2id, t=3 passes, m=64 MiB,
# p=4 lanes, 128-bit salt, 256-bit tag. It is above every argon2id setting of the
# OWASP Password Storage Cheat Sheet (the least of which is m=19 MiB, t=2, p=1). The
# RFC's first option (2 GiB per hash) does not fit an API server that verifies many
# logins at once. About 0.1 s of one core per hash on current hardware.
_HASHER = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)

MIN_LENGTH = 8
MAX_LENGTH = 128

PERSONAL_FRAGMENT = 6
"""A password may not contain this many consecutive characters of a personal value
(mobile number, ID number, login name): the last six digits of an ID number, a birth
date or a run of the mobile number are the first guesses of anyone who knows them."""

_PERSONAL_MIN = 4
"""Personal values shorter than this are not checked: they would refuse too much."""


def hash_password(password: str) -> str:
    """A new argon2id hash with a fresh random salt."""
    return _HASHER.hash(password)


def verify_password(password: str, *, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash``. Never raises for a mismatch or
    a malformed hash; libargon2 compares the tags in constant time."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (or cannot be
    read at all), so that the next successful login should replace it."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def verify_nothing(password: str) -> None:
    """Spend the time of a real verification, for a login name that has no
    credential: answering faster would tell an attacker the name is unknown."""
    verify_password(password, password_hash=_dummy_hash())


def _comparable(text: str) -> str:
    """Full-width forms folded to ASCII (NFKC), case folded, separators dropped: so
    that ``１３８-1234-5678`` and ``13812345678`` are the same run of characters."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def check_password_policy(password: str, *, personal: Sequence[str]) -> None:
    """Refuse a password that is too short or long, uses only one kind of character
    (letters, digits, symbols), or contains a run of ``PERSONAL_FRAGMENT`` characters
    of one of the ``personal`` values (the customer's mobile number, ID number...).

    Raises :class:`WeakPassword` naming the rule broken."""
    if isinstance(personal, str):
        # A bare string is a sequence of one-character values, which would check nothing.
        raise TypeError("personal is a list of values, not one string")
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(
            f"A password has {MIN_LENGTH} to {MAX_LENGTH} characters.", rule="length"
        )
    letters = any(ch.isalpha() for ch in password)
    digits = any(ch.isdecimal() for ch in password)
    symbols = any(not ch.isalnum() and not ch.isspace() for ch in password)
    if letters + digits + symbols < 2:
        raise WeakPassword(
            "A password mixes at least two of: letters, digits, symbols.", rule="variety"
        )
    candidate = _comparable(password)
    for value in map(_comparable, personal):
        if len(value) < _PERSONAL_MIN:
            continue
        run = min(PERSONAL_FRAGMENT, len(value))
        if any(value[i : i + run] in candidate for i in range(len(value) - run + 1)):
            raise WeakPassword(
                "A password must not contain your mobile number, ID number or login name, "
                "nor a part of them.",
                rule="personal",
            )
