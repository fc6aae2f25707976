"""Each customer money path within its budget of transactions and statements per
request (issue 17), counted in the client as ``tests/support/path_cost`` counts them:
a change that adds a transaction or a statement to a path fails here and says which.
Counts, not times: they mean the same on a loaded machine."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.middleware.base import BaseHTTPMiddleware

from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from rongbank.settings import Settings
from tests.support.path_cost import Prepare, Scene, counting, paths, send

BUDGETS = {  # path: (transactions, statements) of one request
    "transfer": (1, 17),
    "static_qr": (1, 22),
    "online_order": (1, 22),
    "payment_code": (1, 32),
    "chat_card": (2, 31),
    "wealth": (1, 20),
    "mall_checkout": (1, 25),
    "mall_pay": (1, 33),
    "mall_refund": (1, 35),
}
"""Before issue 17: 2/25, 3/31, 3/24, 4/36, 4/44, 3/22; after its first hot-path work:
2/20, 2/21, 3/21, 4/33, 4/39, 3/20 (the login check had a transaction of its own).
Issue 19 added two statements to each: the fraud engine's read of the payment's
features and its write of the decision with the counters (``risk.engine.features``).
Then a transfer (and the transfer a chat card makes) read its class limits' usage and
balances in one statement, in the round trip of its accounts' lock, and counted both
sides in one: 21 to 18 and 35 to 32. Then the step-up's two reads after its lock
became one (every path one fewer). Round trips are not budgeted: in a pipeline the
counter also counts results psycopg finds already arrived, which depends on timing
(``python -m tests.support.path_cost`` averages them).
融e购's paths (issue 20) as first measured: a checkout of a cart of three sellers, its
one payment (2/33 before its answer was read in the payment's own transaction), and a
return's refund agreed by the seller (``tests/support/mall_path_cost``).
"""


@pytest.fixture
def client_and_paths(
    fresh_db: str, tmp_path: Path, clock: FrozenClock
) -> Iterator[tuple[TestClient, dict[str, Prepare]]]:
    keys = ("payments_key", "tool_key", "card_hash_key", "operator_token")
    settings = Settings(
        database_url=fresh_db,
        data_dir=tmp_path,
        **{k: SecretStr(secrets.token_urlsafe(32)) for k in keys},  # type: ignore[arg-type]
    )
    # A frozen clock: no login is due its once-a-minute touch however slow the run.
    platform = Platform.connect(fresh_db, settings, clock=clock)
    # As a serving bank has it (``rongbank up`` opens it): e-Pay's paid listener then
    # knows the mall's clearing merchant without asking the database on every payment.
    platform.open_mall()
    try:
        with TestClient(create_app(platform, background=False)) as client:
            scene = Scene(platform)
            scene.set_up()
            yield client, paths(scene, 2)
    finally:
        platform.close()


def test_each_money_path_keeps_to_its_budget(
    client_and_paths: tuple[TestClient, dict[str, Prepare]],
) -> None:
    client, prepared = client_and_paths
    over = {}
    for name, prepare in prepared.items():
        send(client, prepare(0))  # the first of a kind warms caches (a plan, a class)
        request = prepare(1)
        with counting() as tally:
            send(client, request)
        counted = (tally.transactions, tally.statements)
        assert counted >= (1, 5), f"{name}: the counter missed the request's work"
        if any(n > most for n, most in zip(counted, BUDGETS[name], strict=True)):
            over[name] = counted
    assert not over, f"over budget (transactions, statements): {over}; budgets {BUDGETS}"


def test_no_middleware_runs_the_app_in_a_task_of_its_own(platform: Platform) -> None:
    """Every request passes every middleware: Starlette's ``BaseHTTPMiddleware``
    (``@app.middleware("http")``) runs the rest in a task of its own and copies each
    answer through a stream (about 0.3 ms of CPU a request under the test client, a
    tenth of a money path); middleware is plain ASGI (``rongbank.api.headers``)."""
    app = create_app(platform, background=False)
    assert app.user_middleware, "the app's middleware was not found"
    heavy = [m.cls for m in app.user_middleware if issubclass(m.cls, BaseHTTPMiddleware)]  # type: ignore[arg-type]
    assert not heavy
