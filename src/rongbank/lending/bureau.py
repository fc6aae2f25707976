"""The credit reference centre (中国人民银行征信中心): what other lenders report about
a borrower. The bank asks it by identity number; here the interface and a fake,
clearly named, that answers the same for the same identity every time."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class BureauReport:
    overdue_now: int
    """Loans overdue today at other lenders."""
    overdue_records: int
    """Overdue episodes in the report's history (five years), settled or not."""
    debt_elsewhere: int
    """Outstanding debt at other lenders, fen."""

    def as_inputs(self) -> dict[str, Any]:
        return asdict(self)


class CreditBureau(Protocol):
    def report(self, resident_id: str) -> BureauReport: ...


class FakeCreditBureau:
    """Not the credit reference centre: a stand-in for development, tests and
    benchmarks. Each identity gets a report derived from its SHA-256, the same every
    time: about one in twenty is overdue now, one in five has an overdue record, and
    debt elsewhere runs from nothing to 150,000 yuan. ``reports`` fixes the answer
    for given identities (tests)."""

    def __init__(self, reports: Mapping[str, BureauReport] | None = None) -> None:
        self.reports: Mapping[str, BureauReport] = reports if reports is not None else {}

    def report(self, resident_id: str) -> BureauReport:
        if resident_id in self.reports:
            return self.reports[resident_id]
        digest = hashlib.sha256(f"pboc-fake:{resident_id}".encode()).digest()
        overdue_now = 1 if digest[0] % 20 == 0 else 0
        records = digest[1] % 3 if digest[2] % 5 == 0 else 0
        debt = 0 if digest[3] % 2 else int.from_bytes(digest[4:6]) % 150 * 1000_00
        return BureauReport(overdue_now, max(records, overdue_now), debt)
