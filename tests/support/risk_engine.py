"""Helpers for the fraud engine's tests: analysts, rules in force, transfers over
the API and the decisions recorded."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from rongbank.platform import Platform
from rongbank.risk.engine import store
from rongbank.risk.engine.rules import RuleSpec
from tests.factories.people import V1

YUAN = 100


def analysts(platform: Platform) -> tuple[int, int]:
    with platform.transaction() as session:
        return tuple(  # type: ignore[return-value]
            platform.accounts.create_staff(
                session, username=f"analyst-{n}", name="风控", role="risk_analyst"
            )
            for n in (1, 2)
        )


def in_force(platform: Platform, mode: str = "live", **rule: Any) -> int:
    """A rule switched on by one analyst and approved by another."""
    first, second = analysts(platform)
    spec = RuleSpec.from_mapping({"score": 50, **rule})
    with platform.transaction() as session:
        added = store.add(session, spec, by=first, now=platform.clock.now(), mode=mode)
        store.approve(session, added.id, by=second, now=platform.clock.now())
    platform.risk_engine.forget_rules()
    return added.id


def transfer(
    client: TestClient,
    payer: dict[str, Any],
    payee: dict[str, Any],
    amount: str,
    key: str,
    **headers: str,
) -> Any:
    body = {
        "client_id": key,
        "source": payer["account"]["number"],
        "destination": payee["account"]["number"],
        "amount": amount,
    }
    return client.post(f"{V1}/me/transfers", headers={**payer["headers"], **headers}, json=body)


def decisions(platform: Platform) -> list[Any]:
    with platform.transaction() as session:
        return list(
            session.execute(
                text(
                    "SELECT action, score, reasons, rules, features, hold_ref, device "
                    "FROM risk_decision ORDER BY id"
                )
            ).all()
        )
