"""Password hashing at a test's cost.

The bank hashes passwords with argon2id at RFC 9106's parameters (64 MiB, three
passes: about 0.15 s of a core each), as it must. A test that registers a customer
or logs one in pays that too, and the suite does it thousands of times: before this,
argon2 took about three quarters of the CPU of ``tests/auth`` and the page tests. So
the suite hashes with the same function and the same algorithm, salt and tag length
at the least cost argon2id allows; a test that checks the parameters themselves
(``tests/auth/test_auth.py``) is marked ``rfc_9106_hashing`` and gets the bank's.
Processes a test starts (``rongbank up``, the CLI) hash as the bank does."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, profiles

from rongbank.auth import passwords

BANKS = passwords._HASHER
"""The bank's own hasher (RFC 9106, low memory)."""
CHEAP = PasswordHasher.from_parameters(
    dataclasses.replace(profiles.RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=8, parallelism=1)
)
"""argon2id with RFC 9106's salt and tag, at the least time and memory it takes."""


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    passwords._HASHER = CHEAP
    yield
    passwords._HASHER = BANKS


@pytest.fixture(autouse=True)
def banks_hashing_when_marked(
    request: pytest.FixtureRequest, cheap_password_hashing: None
) -> Iterator[None]:
    """The bank's parameters for a test marked ``rfc_9106_hashing``."""
    if request.node.get_closest_marker("rfc_9106_hashing") is None:
        yield
        return
    passwords._HASHER = BANKS
    yield
    passwords._HASHER = CHEAP
