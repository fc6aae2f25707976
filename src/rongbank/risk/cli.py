"""``rongbank risk ...``: the risk centre's commands, one sub-command per area."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rongbank.cli.platform import DataDir, open_platform
from rongbank.errors import DomainError
from rongbank.risk.aml.cli import aml_app
from rongbank.risk.cases.cli import labels_app
from rongbank.risk.engine.cli import backtest_command, rules_app
from rongbank.risk.liquidity.cli import liquidity_app

risk_app = typer.Typer(help="The risk centre.", no_args_is_help=True)
model_app = typer.Typer(
    help="The fraud model: train and evaluate on labelled transactions.", no_args_is_help=True
)
watchlist_app = typer.Typer(help="Watch lists: import, screen names.", no_args_is_help=True)
risk_app.add_typer(model_app, name="model")
risk_app.add_typer(watchlist_app, name="watchlist")
risk_app.add_typer(liquidity_app, name="liquidity")
risk_app.add_typer(aml_app, name="aml")
risk_app.add_typer(rules_app, name="rules")
risk_app.command("backtest")(backtest_command)
risk_app.add_typer(labels_app, name="labels")
console = Console()

Data = Annotated[
    Path, typer.Option("--data", help="CSV file of labelled transactions.", exists=True)
]
Label = Annotated[str, typer.Option("--label", help="The label column (fraud: 1/true/yes...).")]
Time = Annotated[str, typer.Option("--time", help="The time column (seconds or dates).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _refused(error: DomainError) -> typer.Exit:
    console.print(f"[red]{error.detail_message}[/]")
    return typer.Exit(2)


@model_app.command("train")
def model_train(
    data: Data,
    label: Label,
    time: Time,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the model into.")],
    split: Annotated[
        float | None,
        typer.Option(
            "--split",
            help="Learn from this earlier share only, and record how both models fare "
            "on the later rest in the manifest (default: learn from every row).",
            min=0.05,
            max=0.95,
        ),
    ] = None,
) -> None:
    """Train the fraud model (LightGBM, tuned on the last 20% of the training rows by
    time) and write it as text files: model.txt and manifest.json."""
    from rongbank.risk.model.data import read_labelled
    from rongbank.risk.model.train import evaluate, fit

    try:
        rows = read_labelled(data, label=label, time=time)
        if split is None:
            model = fit(rows)
        else:
            evaluation = evaluate(rows, split)
            model = evaluation.model
            _print_evaluation(evaluation.to_json())
    except DomainError as error:
        raise _refused(error) from None
    model.save(out)
    trained = model.manifest["training"]
    console.print(
        f"Model {model.version} written to {out}: {trained['params']['num_trees']} trees of "
        f"{trained['params']['num_leaves']} leaves, learned from {trained['rows']} rows "
        f"({trained['frauds']} frauds)."
    )


@model_app.command("evaluate")
def model_evaluate(
    data: Data,
    label: Label,
    time: Time,
    split: Annotated[
        float,
        typer.Option(
            "--split", help="The earlier share of rows to learn from.", min=0.05, max=0.95
        ),
    ] = 0.7,
    as_json: Json = False,
) -> None:
    """LightGBM against logistic regression (scaled, same features) on one
    chronological split: AUPRC, ROC-AUC, precision at the top 100, recall at
    precision >= 0.9 on the later rows."""
    from rongbank.risk.model.data import read_labelled
    from rongbank.risk.model.train import evaluate

    try:
        report = evaluate(read_labelled(data, label=label, time=time), split).to_json()
    except DomainError as error:
        raise _refused(error) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_evaluation(report)


def _print_evaluation(report: dict[str, Any]) -> None:
    table = Table("model", "AUPRC", "ROC-AUC", "precision@100", "recall@precision>=0.9")
    for name, key in (("LightGBM", "lightgbm"), ("logistic regression", "logistic_regression")):
        s = report[key]
        table.add_row(
            name,
            *(
                f"{s[k]:.4f}"
                for k in ("auprc", "roc_auc", "precision_at_100", "recall_at_precision_90")
            ),
        )
    console.print(table)
    t, e = report["training"], report["evaluation"]
    console.print(
        f"Learned from {t['rows']} rows ({t['frauds']} frauds, time {t['time_from']:g} to "
        f"{t['time_to']:g}); judged on the {e['rows']} later rows ({e['frauds']} frauds, "
        f"time {e['time_from']:g} to {e['time_to']:g})."
    )


@watchlist_app.command("import")
def watchlist_import(
    list_name: Annotated[str, typer.Option("--list", help="The list's name, e.g. un-sanctions.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: name, aliases (; separated), identity_number, source, date.", exists=True
        ),
    ],
    data_dir: DataDir = None,
) -> None:
    """Import a watch list from CSV, replacing the list of that name."""
    from rongbank.risk.watchlist.lists import import_list, read_entries

    try:
        entries = read_entries(file.read_text(encoding="utf-8-sig"))
    except DomainError as error:
        raise _refused(error) from None
    with open_platform(data_dir) as p, p.transaction() as session:
        try:
            count = import_list(session, list_name, entries, at=p.clock.now())
        except DomainError as error:
            raise _refused(error) from None
        p.audit.record(
            session,
            actor_kind="operator",
            actor_id=None,
            action="risk.watchlist.import",
            target=list_name,
            details={"entries": count, "file": file.name},
        )
    console.print(f"Imported {count} entries into the watch list {list_name!r}.")


@watchlist_app.command("screen")
def watchlist_screen(
    name: Annotated[str, typer.Argument(help="The name to screen (hanzi or pinyin).")],
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Score from which a name is a hit (default: the setting).", min=0, max=100
        ),
    ] = None,
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """Screen a name against every watch list: the entries that score at or above the
    threshold, best first. Exit code 1 when there is a hit."""
    from rongbank.risk.watchlist.lists import screen_name

    with open_platform(data_dir) as p, p.transaction() as session:
        limit = p.settings.risk_screening_threshold if threshold is None else threshold
        matches = screen_name(session, name, threshold=limit)
    if as_json:
        typer.echo(json.dumps([asdict(m) for m in matches], ensure_ascii=False, indent=2))
    else:
        table = Table("score", "list", "listed name", "matched", "identity number")
        for m in matches:
            table.add_row(
                f"{m.score:.1f}", m.list_name, m.listed_name, m.matched, m.identity_number or ""
            )
        console.print(table)
        console.print(f"{len(matches)} hit(s) for {name!r} at threshold {limit:g}.")
    if matches:
        raise typer.Exit(1)
