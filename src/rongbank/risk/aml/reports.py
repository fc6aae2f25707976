"""What the AML batch stored, read back: the day's large-value reports (and their CSV
export) and findings, for the staff page and the command line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.money import format_amount
from rongbank.risk.aml.config import load_config


@dataclass(frozen=True, kw_only=True)
class StoredReport:
    id: int
    day: date
    customer_id: int
    customer_name: str
    customer_kind: str
    rule: str
    direction: str
    currency_class: str
    total: int
    threshold: int
    movements: int
    entry_ids: list[int]
    explanation_zh: str
    explanation_en: str


@dataclass(frozen=True, kw_only=True)
class StoredFinding:
    id: int
    pattern: str
    day: date
    customer_id: int
    customer_name: str
    amount: int
    entry_ids: list[int]
    details: dict[str, Any]
    explanation_zh: str
    explanation_en: str


def reports_of(session: Session, day: date, *, limit: int = 1000) -> list[StoredReport]:
    rows = session.execute(
        text(
            "SELECT r.id, r.day, r.customer_id, c.name AS customer_name, "
            "c.kind AS customer_kind, r.rule, r.direction, r.currency_class, r.total, "
            "r.threshold, r.movements, r.entry_ids, r.explanation_zh, r.explanation_en "
            "FROM risk_aml_report r JOIN customer c ON c.id = r.customer_id "
            "WHERE r.day = :day ORDER BY r.id LIMIT :limit"
        ),
        {"day": day, "limit": limit},
    )
    return [StoredReport(**r._mapping) for r in rows]


def findings_of(session: Session, day: date, *, limit: int = 1000) -> list[StoredFinding]:
    rows = session.execute(
        text(
            "SELECT f.id, f.pattern, f.day, f.customer_id, c.name AS customer_name, f.amount, "
            "f.entry_ids, f.details, f.explanation_zh, f.explanation_en "
            "FROM risk_aml_finding f JOIN customer c ON c.id = f.customer_id "
            "WHERE f.day = :day ORDER BY f.id LIMIT :limit"
        ),
        {"day": day, "limit": limit},
    )
    return [StoredFinding(**r._mapping) for r in rows]


CSV_HEADER = (
    "report_id",
    "day",
    "customer_id",
    "customer_name",
    "customer_kind",
    "rule",
    "article",
    "direction",
    "currency",
    "total",
    "threshold",
    "movements",
    "ledger_entries",
    "explanation",
)


def large_value_csv(session: Session, day: date) -> str:
    """The day's large-value reports as CSV, one row each; amounts in yuan (CNY) or
    US dollars (FX, at the configured rates), entries space-separated."""
    articles = {x.rule.value: x.article for x in load_config().large_value}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for r in reports_of(session, day, limit=1_000_000):
        writer.writerow(
            (
                r.id,
                r.day.isoformat(),
                r.customer_id,
                r.customer_name,
                r.customer_kind,
                r.rule,
                articles.get(r.rule, ""),
                r.direction,
                "CNY" if r.currency_class == "CNY" else "USD",
                format_amount(r.total, scale=2),
                format_amount(r.threshold, scale=2),
                r.movements,
                " ".join(str(e) for e in r.entry_ids),
                r.explanation_zh,
            )
        )
    return out.getvalue()
