"""``rongbank lending ...``: the online financing centre's commands.

``lending model``: train a scorecard from a CSV, cross-validate it against a plain
logistic regression, report on it (IV, score distribution, calibration, PSI).

``lending portfolio report``: the portfolio dashboard's figures as PNG, PDF and JSON.

``lending eod``: the lending end of day (accrual, auto-debit, penalty, classification,
provisions, write-off) for the business dates not yet run; the server runs it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rongbank.cli.platform import DataDir, audit_head_line, open_platform
from rongbank.errors import DomainError
from rongbank.money import format_amount

lending_app = typer.Typer(help="Online financing centre (网络融资中心).", no_args_is_help=True)
model_app = typer.Typer(help="Credit scorecards: train, evaluate, report.", no_args_is_help=True)
lending_app.add_typer(model_app, name="model")
portfolio_app = typer.Typer(help="The lending portfolio's figures.", no_args_is_help=True)
lending_app.add_typer(portfolio_app, name="portfolio")
console = Console(stderr=True)
stdout = Console()

Data = Annotated[Path, typer.Option("--data", help="CSV file, one row per application.")]
Target = Annotated[str, typer.Option("--target", help="The outcome column.")]
Bad = Annotated[str, typer.Option("--bad", help="The target's value for a bad outcome.")]
Exclude = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="A column never to use (repeatable); IDs, leaks."),
]


@contextmanager
def _refusals() -> Iterator[None]:
    """A refusal is a message and exit status 2, not a traceback."""
    try:
        yield
    except DomainError as error:
        console.print(f"[red]{error.detail_message}[/]", error.details or "")
        raise typer.Exit(2) from None


@model_app.command("train")
def train_command(
    data: Data,
    target: Target,
    bad: Bad,
    out: Annotated[Path, typer.Option(help="Folder for scorecard.json (or a .json path).")],
    exclude: Exclude = None,
    feature: Annotated[
        list[str] | None,
        typer.Option("--feature", help="Use only these columns (repeatable); default: all."),
    ] = None,
    pdo: Annotated[float, typer.Option(help="Points to double the odds.")] = 20.0,
    base_points: Annotated[float, typer.Option(help="Score at the base odds.")] = 600.0,
    base_odds: Annotated[float, typer.Option(help="Good:bad odds at the base score.")] = 50.0,
    min_iv: Annotated[float, typer.Option(help="Least IV a feature needs to enter.")] = 0.02,
    name: Annotated[str, typer.Option(help="The scorecard's name.")] = "scorecard",
    labels: Annotated[
        Path | None,
        typer.Option(
            help='JSON {"COL": {"zh": ..., "en": ..., "unit": ...}}: words for reasons, units.'
        ),
    ] = None,
) -> None:
    """Train a scorecard: optimal monotonic WOE binning, selection by IV, logistic
    regression, points-to-double-odds scaling, grades A-E. Writes a versioned JSON
    lookup table. Protected attributes (sex, gender, ethnicity, race, religion,
    marital status...) never enter, whatever the options."""
    from rongbank.lending.model.data import read_csv
    from rongbank.lending.model.train import Scaling, TrainOptions, train, write_artefact

    with _refusals():
        options = TrainOptions(
            exclude=tuple(exclude or ()),
            features=tuple(feature) if feature else None,
            scaling=Scaling(pdo=pdo, base_points=base_points, base_odds=base_odds),
            min_iv=min_iv,
            name=name,
            source=data.name,
            labels=_labels(labels),
        )
        artefact = train(read_csv(data), target, bad, options)
        path = write_artefact(artefact, out)
    features = ", ".join(f["name"] for f in artefact["features"])
    print(f"{path}: {artefact['model_version']}, {len(artefact['features'])} features ({features})")
    excluded = artefact["excluded"]
    if excluded["protected"]:
        print(f"protected, left out: {', '.join(excluded['protected'])}")


def _labels(path: Path | None) -> dict[str, dict[str, str]]:
    from rongbank.lending.model.errors import TrainingDataInvalid

    if path is None:
        return {}
    try:
        given = json.loads(path.read_text(encoding="utf-8"))
        return {
            str(k): {w: str(v[w]) for w in ("zh", "en", "unit") if w in v} for k, v in given.items()
        }
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise TrainingDataInvalid(f"{path}: not a JSON object of labels ({exc}).") from exc


@model_app.command("evaluate")
def evaluate_command(
    data: Data,
    target: Target,
    bad: Bad,
    folds: Annotated[int, typer.Option(min=2, help="Folds per repeat.")] = 5,
    repeats: Annotated[int, typer.Option(min=1, help="Repeats, each with new folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the folds.")] = 42,
    group: Annotated[
        str | None,
        typer.Option(
            help="Report approval rate and AUC per value of this column (never a feature)."
        ),
    ] = None,
    exclude: Exclude = None,
    approve_grades: Annotated[str, typer.Option(help="Grades counted as approved.")] = "ABCD",
    as_json: Annotated[bool, typer.Option("--json", help="The full report as JSON.")] = False,
) -> None:
    """Repeated stratified cross-validation: ROC-AUC, KS and Brier per fold and mean, for
    the scorecard and for a plain logistic regression on one-hot features on the same
    folds, and in how many paired folds the scorecard wins."""
    from rongbank.lending.model.data import read_csv
    from rongbank.lending.model.evaluate import evaluate
    from rongbank.lending.model.train import TrainOptions

    with _refusals():
        report = evaluate(
            read_csv(data),
            target,
            bad,
            folds=folds,
            repeats=repeats,
            seed=seed,
            group=group,
            approve_grades=approve_grades,
            options=TrainOptions(exclude=tuple(exclude or ())),
        )
    if as_json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return
    print(f"{report['paired_folds']} folds ({folds} x {repeats}, seed {seed})")
    for model in ("scorecard", "logistic"):
        m, s = report["mean"][model], report["std"][model]
        print(
            f"{model:10} AUC {m['auc']:.4f} ± {s['auc']:.4f}  KS {m['ks']:.4f}  "
            f"Brier {m['brier']:.4f}"
        )
    wins = report["scorecard_wins"]
    print(
        f"scorecard wins (of {report['paired_folds']}): AUC {wins['auc']}, KS {wins['ks']}, "
        f"Brier {wins['brier']}"
    )
    for value, g in report.get("groups", {}).get("by_group", {}).items():
        auc = "-" if g["auc"] is None else f"{g['auc']:.4f}"
        print(f"  {group}={value}: {g['rows']} rows, approved {g['approval_rate']:.1%}, AUC {auc}")


@model_app.command("report")
def report_command(
    model: Annotated[Path, typer.Option(help="The scorecard (folder or .json file).")],
    data: Data,
    out: Annotated[Path, typer.Option(help="Folder for report.html and its PNGs.")],
    compare: Annotated[
        Path | None,
        typer.Option(help="A second data set (e.g. recent applications) for PSI."),
    ] = None,
) -> None:
    """An HTML report with PNG charts: IV table and bins, score distribution,
    calibration by decile (when the data has the target), PSI of scores and features
    between the data and --compare (or the training data's distribution)."""
    from rongbank.lending.model.data import read_csv
    from rongbank.lending.model.report import write_report
    from rongbank.lending.model.scorecard import Scorecard

    with _refusals():
        card = Scorecard.load(model)
        other = read_csv(compare) if compare is not None else None
        page = write_report(card, read_csv(data), out, compare=other)
    print(page)


@lending_app.command("eod")
def eod(
    day: Annotated[
        str | None,
        typer.Option("--date", help="Business date YYYY-MM-DD (default: yesterday, Beijing)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the lending end of day of every business date up to --date not yet run,
    one transaction a date. A date already run changes nothing, so running it again,
    or while the server runs it, is safe."""
    with open_platform(data_dir) as p:
        until = date.fromisoformat(day) if day else None
        if until is not None and until > p.loans.business_day():
            console.print(f"[red]{until} has not begun yet (Beijing).[/]")
            raise typer.Exit(2)
        done = p.run_lending_eod(until)
        with p.transaction() as session:
            p.audit.record(
                session,
                actor_kind="operator",
                actor_id=None,
                action="lending.eod",
                details={"dates": [f.business_date for f in done if not f.already_run]},
            )
        head = audit_head_line(p)
    for f in done:
        if f.already_run:
            stdout.print(f"{f.business_date}: already run, nothing changed.")
            continue
        stdout.print(
            f"{f.business_date}: accrued {format_amount(f.interest_accrued, scale=2)} interest, "
            f"{format_amount(f.fee_accrued, scale=2)} fees, "
            f"{format_amount(f.penalty_accrued, scale=2)} penalty; collected "
            f"{format_amount(f.collected, scale=2)} from {f.collected_loans} loans "
            f"({f.collected_short} short); {f.overdue_loans} overdue; provisions "
            f"{format_amount(f.provision_change, scale=2)}; {f.written_off_loans} written off "
            f"({format_amount(f.written_off_principal, scale=2)}); {f.notices} notices."
        )
    print(head)  # plain: one line whatever the terminal width, to be copied


@portfolio_app.command("report")
def portfolio_report(
    out: Annotated[Path, typer.Option(help="Folder for the PNG charts, the PDF and the JSON.")],
    data_dir: DataDir = None,
) -> None:
    """The portfolio dashboard's figures as of the last end of day (applications and
    approval rate by day, balances by category and days past due, roll rates, vintage
    curves), as PNG charts, one PDF and JSON."""
    from rongbank.lending.portfolio import Portfolio
    from rongbank.lending.portfolio_report import write_report

    with open_platform(data_dir) as p, p.transaction() as session:
        figures = Portfolio(roll_months=12).figures(session)
    for path in write_report(figures, out):
        stdout.print(str(path))
