"""The risk desk's figures for its charts: alerts per hour, the distribution of
scores, decisions by outcome day by day, and how often each source and reason code
turned out to be fraud (its precision, as analysts and customers decided).

Hours and days are Beijing's, as the analysts read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.risk.cases.service import OUTCOMES

BEIJING = ZoneInfo("Asia/Shanghai")
SCORE_BINS = 10


@dataclass(frozen=True, slots=True)
class Precision:
    """Of the alerts from one source (or with one reason code) that were decided,
    how many were fraud."""

    name: str
    decided: int
    fraud: int

    @property
    def share(self) -> float | None:
        return self.fraud / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class Figures:
    hours: list[str]
    """The last 24 hours, oldest first, as ``HH:00``."""
    alerts_per_hour: list[int]
    score_bins: list[str]
    """``0.0–0.1`` ... ``0.9–1.0``."""
    scores: list[int]
    days: list[str]
    decisions: dict[str, list[int]]
    """Per outcome, cases closed each day (``days``)."""
    by_source: list[Precision]
    by_reason: list[Precision]


def figures(session: Session, now: datetime, *, days: int = 30) -> Figures:
    """The desk's figures as of ``now``: the last 24 hours, the last ``days`` days."""
    hour = now.astimezone(BEIJING).replace(minute=0, second=0, microsecond=0)
    first_hour = hour - timedelta(hours=23)
    per_hour: dict[datetime, int] = dict(
        session.execute(
            text(
                "SELECT date_trunc('hour', raised_at AT TIME ZONE 'Asia/Shanghai'), count(*) "
                "FROM risk_alert WHERE raised_at >= :since AND raised_at <= :now GROUP BY 1"
            ),
            {"since": first_hour, "now": now},
        ).all()
    )
    hours = [(first_hour + timedelta(hours=i)).replace(tzinfo=None) for i in range(24)]

    since = now - timedelta(days=days)
    binned: dict[int, int] = dict(
        session.execute(
            text(
                "SELECT least(floor(score * :n)::int, :n - 1), count(*) FROM risk_alert "
                "WHERE score IS NOT NULL AND raised_at >= :since GROUP BY 1"
            ),
            {"n": SCORE_BINS, "since": since},
        ).all()
    )

    today = now.astimezone(BEIJING).date()
    day_list = [today - timedelta(days=days - 1 - i) for i in range(days)]
    decided: dict[tuple[date, str], int] = {
        (d, o): int(n)
        for d, o, n in session.execute(
            text(
                "SELECT (closed_at AT TIME ZONE 'Asia/Shanghai')::date, outcome, count(*) "
                "FROM risk_case WHERE status = 'closed' AND closed_at >= :since GROUP BY 1, 2"
            ),
            {"since": since},
        ).all()
    }

    def precision(group: str) -> list[Precision]:
        rows = session.execute(
            text(
                f"SELECT {group} AS name, count(*), count(*) FILTER (WHERE outcome = 'fraud') "  # noqa: S608
                "FROM risk_alert WHERE outcome IS NOT NULL AND raised_at >= :since "
                "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20"
            ),
            {"since": since},
        ).all()
        return [Precision(str(n), int(d), int(f)) for n, d, f in rows]

    return Figures(
        hours=[h.strftime("%H:00") for h in hours],
        alerts_per_hour=[int(per_hour.get(h, 0)) for h in hours],
        score_bins=[f"{i / SCORE_BINS:.1f}–{(i + 1) / SCORE_BINS:.1f}" for i in range(SCORE_BINS)],
        scores=[int(binned.get(i, 0)) for i in range(SCORE_BINS)],
        days=[d.isoformat() for d in day_list],
        decisions={o: [decided.get((d, o), 0) for d in day_list] for o in OUTCOMES},
        by_source=precision("source"),
        by_reason=precision("unnest(reasons)"),
    )
