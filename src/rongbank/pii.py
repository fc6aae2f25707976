"""Personal data at rest: identity and mobile numbers encrypted per field, found by keyed
hashes.

A dump of the database (a backup, a replica, a stolen disk) must not give away who
banks here. So each number is stored three ways, none of them readable without keys
kept apart from the database (``Settings.pii_key``, ``Settings.pii_hash_key``):

- sealed with AES-GCM (:meth:`PersonalData.seal`), the customer's row and the column
  bound in as associated data, so that a sealed number copied onto another customer's
  row (or into another column) does not open; each value names the key that sealed it,
  so that keys can be rotated (``rongbank pii encrypt-existing`` re-seals under the
  current key what an older one sealed);
- as an HMAC-SHA256 of the whole number (:meth:`PersonalData.hash`): what logins,
  uniqueness and "who has this number" look up, as bound cards are found by
  ``card_hash``;
- as truncated HMACs of each beginning and end of at least :data:`MIN_DIGITS`
  characters (:meth:`PersonalData.search_tokens`): the staff search's "尾号 5678". They
  tell which customers share the first or last digits, not the digits.

The HMAC key cannot change without reading every number again (the hashes are derived
from the numbers), so it is kept for good, as the card-hash key is.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from rongbank.settings import Settings

logger = logging.getLogger(__name__)

MIN_DIGITS = 4
"""The fewest characters a number is searched by (``rongbank.accounts.search``)."""

_VERSION = 1
_HEADER = struct.Struct(">B4s")  # version, key id
_NONCE = 12
_TOKEN_BYTES = 16
LOGIN_PREFIX = "h:"


class PersonalDataUnreadable(RuntimeError):
    """A sealed value did not open: sealed under a key this process does not have, or
    altered, or moved from another row or column. Never a customer's error: the
    bank's keys are wrong, and serving on would show customers wrong data."""


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True, slots=True)
class _Key:
    id: bytes
    aead: AESGCM


def _aead_key(secret: bytes) -> _Key:
    key = _derive(secret, b"rongbank pii aead v1")
    # The id names the key without giving it away: a hash of the derived key.
    return _Key(hashlib.sha256(b"rongbank pii key id" + key).digest()[:4], AESGCM(key))


@dataclass(frozen=True)
class PersonalData:
    """Seals, opens and hashes personal numbers. ``keys``: the current sealing key
    first, then older ones still to be read; ``hash_key``: the HMAC key."""

    keys: Sequence[bytes]
    hash_key: bytes
    _sealing: list[_Key] = field(init=False, repr=False)
    _hash: bytes = field(init=False, repr=False)
    _search: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.keys or not all(self.keys) or not self.hash_key:
            raise ValueError("personal data needs a sealing key and a hash key")
        object.__setattr__(self, "_sealing", [_aead_key(k) for k in self.keys])
        object.__setattr__(self, "_hash", _derive(self.hash_key, b"rongbank pii hash v1"))
        object.__setattr__(self, "_search", _derive(self.hash_key, b"rongbank pii search v1"))

    @property
    def key_id(self) -> bytes:
        """The id of the key that seals now."""
        return self._sealing[0].id

    @staticmethod
    def _context(table: str, column: str, row_id: int) -> bytes:
        return f"{table}.{column}:{row_id}".encode()

    def seal(self, value: str, *, table: str, column: str, row_id: int) -> bytes:
        key = self._sealing[0]
        nonce = os.urandom(_NONCE)
        sealed = key.aead.encrypt(nonce, value.encode(), self._context(table, column, row_id))
        return _HEADER.pack(_VERSION, key.id) + nonce + sealed

    def open(self, sealed: bytes, *, table: str, column: str, row_id: int) -> str:
        version, key_id = _HEADER.unpack_from(sealed)
        key = next((k for k in self._sealing if k.id == key_id), None)
        if version != _VERSION or key is None:
            raise PersonalDataUnreadable(
                f"{table}.{column} of row {row_id} was sealed under key {key_id.hex()}, "
                "which is not among the configured keys (RONGBANK_PII_KEY, "
                "RONGBANK_PII_OLD_KEYS)"
            )
        nonce = sealed[_HEADER.size : _HEADER.size + _NONCE]
        try:
            value = key.aead.decrypt(
                nonce, sealed[_HEADER.size + _NONCE :], self._context(table, column, row_id)
            )
        except InvalidTag:
            raise PersonalDataUnreadable(
                f"{table}.{column} of row {row_id} does not open under key {key_id.hex()}: "
                "altered, or moved from another row"
            ) from None
        return value.decode()

    def sealed_under_current(self, sealed: bytes) -> bool:
        return bytes(sealed[1:5]) == self.key_id

    def hash(self, kind: str, value: str) -> bytes:
        """The keyed hash of a whole number; ``kind`` ("mobile", "id") keeps a mobile
        and an identity number that happened to be equal apart."""
        return hmac.new(self._hash, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()

    def login_name(self, name: str) -> str:
        """How a login name (a customer's is their mobile) is stored and looked up."""
        return LOGIN_PREFIX + self.hash("login", name).hex()

    def _token(self, side: str, part: str) -> bytes:
        digest = hmac.new(self._search, f"{side}\x00{part}".encode(), hashlib.sha256)
        return digest.digest()[:_TOKEN_BYTES]

    def search_tokens(self, *numbers: str) -> list[bytes]:
        """The tokens of every beginning and end of the numbers (at least
        :data:`MIN_DIGITS` long), stored with the customer."""
        tokens: set[bytes] = set()
        for number in numbers:
            for n in range(MIN_DIGITS, len(number) + 1):
                tokens.add(self._token("first", number[:n]))
                tokens.add(self._token("last", number[-n:]))
        return sorted(tokens)

    def query_tokens(self, typed: str) -> list[bytes]:
        """The tokens a customer has when ``typed`` begins or ends one of their numbers."""
        return [self._token("first", typed), self._token("last", typed)]


_process_secrets: dict[str, bytes] = {}


def process_secret(name: str) -> bytes:
    """A key for this process only, the same for every platform it makes (tests that
    start a second platform on the same database must read what the first sealed)."""
    if name not in _process_secrets:
        logger.warning("no %s key configured; using one for this process only", name)
        _process_secrets[name] = secrets.token_bytes(32)
    return _process_secrets[name]


def for_this_process() -> PersonalData:
    """Sealing and hashing with keys for this process only (tests, throwaway platforms)."""
    return PersonalData([process_secret("personal data")], process_secret("personal data hash"))


def personal_data(settings: Settings) -> PersonalData:
    """The keys the settings name; for this process only where they name none (`rongbank
    up` always passes the persistent keys from the data dir)."""

    def secret(given: SecretStr | None, name: str) -> bytes:
        return process_secret(name) if given is None else given.get_secret_value().encode()

    return PersonalData(
        [
            secret(settings.pii_key, "personal data"),
            *(
                k.strip().encode()
                for k in (settings.pii_old_keys or SecretStr("")).get_secret_value().split(",")
                if k.strip()
            ),
        ],
        secret(settings.pii_hash_key, "personal data hash"),
    )


def opened(
    pii: PersonalData, customer_id: int, column: str, plain: str | None, sealed: bytes | None
) -> str | None:
    """A customer's personal number as read from their row: opened, or the plaintext of
    a row not converted yet (``rongbank pii encrypt-existing``)."""
    if sealed is None:
        return plain
    return pii.open(bytes(sealed), table="customer", column=column, row_id=customer_id)


CUSTOMER_NUMBERS = {"mobile": "mobile", "resident_id": "id", "legal_rep_id": "id"}
"""A customer's personal numbers (their columns), each with the kind its hash is taken
as (a person's own identity number and a legal representative's are found alike)."""


def customer_columns(
    pii: PersonalData, customer_id: int, numbers: Mapping[str, object]
) -> dict[str, object]:
    """What a customer's row stores of ``numbers`` (column: plaintext or None): each
    sealed and hashed, the plaintext column cleared, the staff search's tokens of the
    mobile and the person's own identity number."""
    columns: dict[str, object] = {}
    for column, kind in CUSTOMER_NUMBERS.items():
        value = numbers.get(column)
        number = None if value is None else str(value)
        columns[column] = None
        columns[f"{column}_enc"] = (
            None
            if number is None
            else pii.seal(number, table="customer", column=column, row_id=customer_id)
        )
        columns[f"{column}_hash"] = None if number is None else pii.hash(kind, number)
    columns["number_tokens"] = pii.search_tokens(
        *(str(v) for c in ("mobile", "resident_id") if (v := numbers.get(c)) is not None)
    )
    return columns
