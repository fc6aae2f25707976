"""The staff console's operations page (``roles.RUNNING``): the periodic jobs with
their last runs and lag (``job_runs``, whichever process ran them), the database's
role, its replicas or upstream and its WAL archiving (``rongbank.ops.status``), and
the latest server errors of the process that answers (``rongbank.api.observe``; the
counts of every error code, over every process, are in ``/metrics``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from rongbank import roles
from rongbank.api.observe import RECENT_ERRORS
from rongbank.api.one_hop import OneHopRoute
from rongbank.jobs import job_runs
from rongbank.ops.status import database_state
from rongbank.web.i18n import error_text
from rongbank.web.pages import PlatformDep, lang_of, local_time, render, staff_page
from rongbank.web.staff_pages import StaffMember

router = APIRouter(include_in_schema=False, prefix="/staff", route_class=OneHopRoute)

Operator = Annotated[StaffMember, Depends(staff_page(*roles.RUNNING))]
LATE_AFTER_S = 60.0
"""A job this far past its interval is shown as late."""


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


@router.get("/ops")
def ops(request: Request, platform: PlatformDep, staff: Operator) -> Response:
    """The jobs, the database and the recent errors, as they are now."""
    now = platform.clock.now()
    with platform.transaction() as session:
        runs = job_runs(session)
        database = database_state(session)
    jobs = []
    for run in runs:
        lag = run.lag(now)
        jobs.append(
            {
                "name": run.name,
                "interval": _seconds(run.interval_seconds),
                "last": local_time(run.finished_at),
                "ok": run.ok,
                "error": run.error,
                "where": f"{run.host} / {run.pid}",
                "lag": _seconds(lag),
                "late": lag is None or lag > LATE_AFTER_S,
            }
        )
    archiving = database.archiving
    lang = lang_of(request)
    errors = [
        {
            "at": local_time(e.at),
            "request_id": e.request_id,
            "route": f"{e.method} {e.route}",
            "status": e.status,
            "code": e.code,
            # What the code means, in the reader's language; the code itself, a catalogue key,
            # stays in the markup (data-code) and shows only where there are no words.
            "words": error_text(lang, e.code, ""),
        }
        for e in reversed(RECENT_ERRORS)
    ]
    return render(
        request,
        "staff_ops.html",
        jobs=jobs,
        database=database,
        replicas=[{**asdict(r), "lag": _seconds(r.replay_lag_seconds)} for r in database.replicas],
        archiving={
            "mode": archiving.mode,
            "archived": archiving.archived,
            "last_wal": archiving.last_archived_wal or "—",
            "last_at": local_time(archiving.last_archived_at)
            if archiving.last_archived_at
            else "—",
            "failed": archiving.failed,
            "last_failed_at": (
                local_time(archiving.last_failed_at) if archiving.last_failed_at else "—"
            ),
        },
        errors=errors,
    )
