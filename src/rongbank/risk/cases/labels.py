"""The bank's own labels: every alert of a closed case, with the features it was filed
with, its score and reason codes, the time it was raised, and whether the case was
decided fraud, as a CSV file the fraud model trains on
(``rongbank risk model train --data F.csv --label label --time raised_at``).

The label is the case's outcome, the analysts' last word (a customer's "not me" that
an analyst found mistaken is not fraud; ``suspicious`` is an AML finding, not fraud).
Ids are left out: they grow with time and would teach the model nothing true."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

LABEL = "label"
TIME = "raised_at"


@dataclass(frozen=True, slots=True)
class Exported:
    rows: int
    frauds: int
    columns: list[str]


def labelled_rows(session: Session) -> list[dict[str, Any]]:
    """One row per alert of a closed case, oldest first."""
    found = session.execute(
        text(
            "SELECT a.raised_at, a.source, a.action, a.score, a.amount, a.reasons, a.features, "
            "c.outcome FROM risk_alert a JOIN risk_case c ON c.id = a.case_id "
            "WHERE c.status = 'closed' ORDER BY a.raised_at, a.id"
        )
    ).all()
    codes = sorted({code for row in found for code in row[5]})
    rows = []
    for at, source, action, score, amount, reasons, features, outcome in found:
        row: dict[str, Any] = {
            TIME: at.isoformat(),
            "source": source,
            "action": action,
            "score": score,
            "amount": amount,
        }
        # Flags as 0/1, as the engine's model reads them (``engine._numbers``).
        row |= {
            f"feature_{k}": int(v) if isinstance(v, bool) else v
            for k, v in sorted(dict(features).items())
        }
        row |= {f"reason_{code}": int(code in reasons) for code in codes}
        row[LABEL] = int(outcome == "fraud")
        rows.append(row)
    return rows


def export(session: Session, out: Path) -> Exported:
    """Write the labelled rows to ``out`` (CSV, UTF-8, a header line)."""
    rows = labelled_rows(session)
    columns: list[str] = []
    for row in rows:  # features added later appear in later rows: every column, once
        columns += [c for c in row if c not in columns]
    if columns:
        columns = [c for c in columns if c != LABEL] + [LABEL]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns or [TIME, LABEL], restval="")
        writer.writeheader()
        writer.writerows(rows)
    return Exported(len(rows), sum(r[LABEL] for r in rows), columns)
