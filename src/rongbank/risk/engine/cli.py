"""``rongbank risk rules ...`` and ``rongbank risk backtest``: the fraud engine's
rules, as risk analysts change them (each change audited under their name)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from rongbank.cli.platform import DataDir, open_platform
from rongbank.errors import DomainError
from rongbank.platform import Platform
from rongbank.risk.engine import store
from rongbank.risk.engine.backtest import backtest
from rongbank.risk.engine.rules import Rule, RuleSpec

rules_app = typer.Typer(
    help="The fraud engine's rules: add, approve (four eyes), shadow, disable.",
    no_args_is_help=True,
)
console = Console()

By = Annotated[str, typer.Option("--by", help="The risk analyst's login name.")]
RuleId = Annotated[int, typer.Argument(help="The rule's id (rongbank risk rules list).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


Change = Callable[[Platform, Session, int], store.StoredRule]


def _change(
    data_dir: Path | None, username: str, action: str, target: str, change: Change
) -> store.StoredRule:
    """Run ``change(platform, session, staff_id)`` audited as the analyst's own act."""
    with open_platform(data_dir) as p:
        try:
            with p.transaction() as session:
                staff_id = p.accounts.staff_member_named(session, username).id
            with p.audited(
                actor_kind="staff",
                actor_id=staff_id,
                action=action,
                target=target,
                details={"channel": "cli"},
            ) as session:
                done = change(p, session, staff_id)
        except DomainError as error:
            console.print(f"[red]{error.detail_message}[/]")
            raise typer.Exit(2) from None
    console.print(
        f"Rule {done.id} ({done.name} v{done.version}, {done.action}, {done.mode}): {done.status}."
    )
    return done


@rules_app.command("list")
def rules_list(
    every: Annotated[bool, typer.Option("--all", help="Disabled and superseded too.")] = False,
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """The rules in force and waiting for approval."""
    with open_platform(data_dir) as p, p.transaction() as session:
        found = store.listed(session, every=every)
    if as_json:
        typer.echo(json.dumps([_as_json(r) for r in found], indent=2, ensure_ascii=False))
        return
    table = Table("id", "name", "v", "condition", "action", "reason", "score", "mode", "status")
    for r in found:
        table.add_row(
            str(r.id),
            r.name,
            str(r.version),
            r.condition,
            r.action,
            r.reason,
            str(r.score),
            r.mode,
            r.status,
        )
    console.print(table)


def _as_json(rule: store.StoredRule) -> dict[str, object]:
    return {
        "id": rule.id,
        "name": rule.name,
        "version": rule.version,
        "condition": rule.condition,
        "action": rule.action,
        "reason": rule.reason,
        "score": rule.score,
        "mode": rule.mode,
        "status": rule.status,
        "origin": rule.origin,
    }


@rules_app.command("add")
def rules_add(
    file: Annotated[Path, typer.Argument(help="The rule, in TOML.", exists=True)],
    by: By,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Ask to run it in shadow mode first.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Add a rule (a new version when its name exists), switched on by you and waiting
    for another analyst's approval."""
    try:
        spec = RuleSpec.from_file(file)
    except DomainError as error:
        console.print(f"[red]{error.detail_message}[/]")
        raise typer.Exit(2) from None
    _change(
        data_dir,
        by,
        "risk.rule.add",
        spec.name,
        lambda p, s, staff: store.add(
            s, spec, by=staff, now=p.clock.now(), mode="shadow" if shadow else "live"
        ),
    )


@rules_app.command("approve")
def rules_approve(rule_id: RuleId, by: By, data_dir: DataDir = None) -> None:
    """Put a rule in force: by another analyst than the one who switched it on."""
    _change(
        data_dir,
        by,
        "risk.rule.approve",
        str(rule_id),
        lambda p, s, staff: store.approve(s, rule_id, by=staff, now=p.clock.now()),
    )


@rules_app.command("shadow")
def rules_shadow(rule_id: RuleId, by: By, data_dir: DataDir = None) -> None:
    """Ask for a rule to run in shadow mode (recorded, not enforced), pending approval."""
    _change(
        data_dir,
        by,
        "risk.rule.shadow",
        str(rule_id),
        lambda p, s, staff: store.switch_on(s, rule_id, mode="shadow", by=staff),
    )


@rules_app.command("live")
def rules_live(rule_id: RuleId, by: By, data_dir: DataDir = None) -> None:
    """Ask for a rule (a shadow one, say) to be enforced, pending approval."""
    _change(
        data_dir,
        by,
        "risk.rule.live",
        str(rule_id),
        lambda p, s, staff: store.switch_on(s, rule_id, mode="live", by=staff),
    )


@rules_app.command("disable")
def rules_disable(rule_id: RuleId, by: By, data_dir: DataDir = None) -> None:
    """Take a rule out of force at once."""
    _change(
        data_dir,
        by,
        "risk.rule.disable",
        str(rule_id),
        lambda p, s, staff: store.disable(s, rule_id, by=staff, now=p.clock.now()),
    )


def _moment(text: str) -> datetime:
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date or an ISO time") from None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def backtest_command(
    rule: Annotated[str, typer.Option("--rule", help="A TOML file, or a stored rule's id.")],
    since: Annotated[str, typer.Option("--since", help="From (ISO date or time, UTC).")],
    until: Annotated[str | None, typer.Option("--until", help="Until (default: now).")] = None,
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """Replay a rule over the decisions the engine recorded: how many payments it
    meets and how much it would have stopped."""
    with open_platform(data_dir) as p:
        try:
            with p.transaction() as session:
                replayed = backtest(
                    session,
                    _rule(session, rule),
                    since=_moment(since),
                    until=_moment(until) if until else p.clock.now(),
                )
        except DomainError as error:
            console.print(f"[red]{error.detail_message}[/]")
            raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(replayed.as_dict(), indent=2))
        return
    console.print(
        f"{replayed.rule} ({replayed.action}) over {replayed.decisions} decisions: "
        f"{replayed.hits} hits, {replayed.hit_amount / 100:,.2f} yuan; would have stopped "
        f"{replayed.would_stop} that went through, {replayed.would_stop_amount / 100:,.2f} yuan."
    )


def _rule(session: Session, ref: str) -> Rule:
    if ref.isdigit():
        return store.as_rule(store.get(session, int(ref)))
    path = Path(ref)
    if not path.is_file():
        raise typer.BadParameter(f"{ref} is neither a rule id nor a file")
    spec = RuleSpec.from_file(path)
    return Rule(0, spec.name, 0, spec.condition, spec.action, spec.reason, spec.score, "live")
