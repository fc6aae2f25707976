"""``rongbank lending decision replay ID`` and ``rongbank lending preapprove``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from rongbank.cli.platform import DataDir, open_platform
from rongbank.lending.preapproval import PreapprovalRun

decision_app = typer.Typer(help="Credit decisions: run a stored one again.", no_args_is_help=True)
console = Console()


@decision_app.command("replay")
def replay(
    application_id: Annotated[int, typer.Argument(help="The application's id.")],
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Run a stored decision again, every stage on the inputs it recorded, under the
    rules and scorecard versions it was made with; exits 1 if any stage's outcome,
    reasons or outputs come out differently (refused, exit 2, under other versions)."""
    with open_platform(data_dir) as p, p.transaction() as session:
        replayed = p.credit.applications.replay(session, application_id)
    a = replayed.application
    if as_json:
        print(
            json.dumps(
                {
                    "application_id": a.id,
                    "rules_version": a.rules_version,
                    "model_version": a.model_version,
                    "outcome": replayed.stored.outcome,
                    "replayed_outcome": replayed.again.outcome,
                    "same": not replayed.differences,
                    "differences": replayed.differences,
                }
            )
        )
    else:
        for before, after in zip(replayed.stored.stages, replayed.again.stages, strict=True):
            mark = "same" if before == after else "DIFFERENT"
            console.print(f"{before.name:12} {before.outcome:8} -> {after.outcome:8} {mark}")
        console.print(
            f"application {a.id} (rules {a.rules_version}, model {a.model_version}): "
            + ("the same decision" if not replayed.differences else "a different decision")
        )
    if replayed.differences:
        raise typer.Exit(1)


def preapprove(data_dir: DataDir = None) -> None:
    """Score every existing customer not yet scored today from what the bank knows of
    them into standing offers (one click for them: accept, money in). Running it
    again the same day changes nothing."""
    with open_platform(data_dir) as p:
        run: PreapprovalRun = p.credit.preapproval.run(p.transaction)
        with p.transaction() as session:
            p.audit.record(
                session,
                actor_kind="operator",
                actor_id=None,
                action="lending.preapprove",
                details={
                    "scored": run.scored,
                    "offered": run.offered,
                    "declined": run.declined,
                    "skipped": run.skipped,
                },
            )
    console.print(
        f"{run.scored} customers scored: {run.offered} standing offers, {run.declined} "
        f"declined; {run.skipped} with too little history."
    )
