"""Login throttling, pure: whether a source may try a password now, and what a wrong
one costs it. No I/O, no clock (``now`` is passed in).

A bank must stop password guessing without letting a stranger keep a customer out.
A lock on the login name (five wrong passwords, whoever typed them) does the first
and fails the second: anyone who knows a customer's mobile number could keep them
out of their bank for as long as they cared to. So failures are counted per login
name *and source*, the address the attempts come from (an IPv6 client's /64, which
one household or phone holds whole):

- A source has :data:`MAX_FAILURES` tries. The last wrong one locks that source out
  of that login for :data:`LOCKOUT`, doubled at each further lockout of the same
  source (up to :data:`MAX_LOCKOUT`), until the source logs in or has been quiet
  for :data:`FORGET_AFTER` since. A stranger locks out only the place they guess
  from.
- The wrong passwords of all sources since the login last succeeded are counted
  too. From :data:`WIDE_THRESHOLD` on, every source has a single try before its
  lockout: guessing from many addresses gets about one guess per address per
  lockout, slower each time. This is no lock on the login: a right password from a
  source that is not locked itself always gets in, whatever others did.
- The customer is told at their next login how many wrong passwords were tried
  since the one before (``AuthService.login``), and each refusal says how many
  tries this source has left or for how long it is locked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from ipaddress import IPv6Address, IPv6Network, ip_address, ip_network

MAX_FAILURES = 5
"""Tries a source has before its lockout, while the login is not under attack."""
WIDE_THRESHOLD = 20
"""Wrong passwords from all sources since the last login beyond which every source
has one try only."""
LOCKOUT = timedelta(minutes=15)
"""A source's first lockout; each further one in a row lasts twice the one before."""
MAX_LOCKOUT = timedelta(hours=24)
FORGET_AFTER = timedelta(hours=24)
"""A source quiet this long since its last wrong password starts afresh."""
UNKNOWN_SOURCE = "unknown"
"""Attempts whose address is not known (a test client) share one source."""


def source_of(ip: str | None) -> str:
    """The source an address counts as: itself for IPv4, its /64 for IPv6 (an
    IPv4 address mapped into IPv6 counts as the IPv4 address)."""
    try:
        address = ip_address(ip or "")
    except ValueError:
        return UNKNOWN_SOURCE
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(IPv6Network((address, 64), strict=False))
    return str(address)


def masked(source: str) -> str:
    """A source as its login's owner is shown it: half of an IPv4 address, the first
    32 bits of an IPv6 network (about a provider's block). Enough to tell one's own
    network from a stranger's; not enough to single out a household, which may not
    even be the guesser's (a shared or hijacked address). The bank keeps the whole
    address in its records (the audit trail, the lockout event)."""
    try:
        network = ip_network(source)
    except ValueError:
        return source  # UNKNOWN_SOURCE
    if network.version == 4:
        first, second = str(network.network_address).split(".")[:2]
        return f"{first}.{second}.*.*"
    first, second = network.network_address.exploded.split(":")[:2]
    return f"{int(first, 16):x}:{int(second, 16):x}:*"


@dataclass(frozen=True, slots=True)
class SourceCounter:
    """One source's standing with one login name."""

    failures: int = 0
    """Wrong passwords since its last lockout ended (or it last logged in)."""
    lockouts: int = 0
    """Lockouts in a row; the next one lasts ``LOCKOUT * 2 ** lockouts``."""
    locked_until: datetime | None = None
    last_failure_at: datetime | None = None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def allowance(wide_failures: int) -> int:
    """The tries a source has, given the wrong passwords of all sources since the
    login last succeeded."""
    return MAX_FAILURES if wide_failures < WIDE_THRESHOLD else 1


def current(counter: SourceCounter, now: datetime) -> SourceCounter:
    """The counter as it stands at ``now``: a source quiet for ``FORGET_AFTER`` since
    its last wrong password and the end of its last lockout starts afresh (from the
    end of the lockout: else a source locked for a day would start afresh the
    moment it was let in again)."""
    last = max((t for t in (counter.last_failure_at, counter.locked_until) if t), default=None)
    return SourceCounter() if last is None or now - last >= FORGET_AFTER else counter


def after_failure(counter: SourceCounter, *, now: datetime, wide_failures: int) -> SourceCounter:
    """One more wrong password from this source; ``wide_failures`` counts those of
    all sources before it. The last allowed one starts a lockout, and the count
    starts again from zero when it ends."""
    failures = counter.failures + 1
    if failures < allowance(wide_failures + 1):
        return replace(counter, failures=failures, locked_until=None, last_failure_at=now)
    return SourceCounter(
        failures=0,
        lockouts=counter.lockouts + 1,
        locked_until=now + next_lockout(counter),
        last_failure_at=now,
    )


def next_lockout(counter: SourceCounter) -> timedelta:
    """How long this source's next lockout lasts (what a refusal warns of)."""
    # Doubling stops at the cap: 15 minutes times 2**7 is past a day already.
    factor: int = 2 ** min(counter.lockouts, 7)
    return min(LOCKOUT * factor, MAX_LOCKOUT)


def remaining(counter: SourceCounter, *, wide_failures: int) -> int:
    """The tries this source has left before its lockout."""
    return max(allowance(wide_failures) - counter.failures, 0)
