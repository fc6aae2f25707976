"""What the engine knows about a payment when it decides: one read, one write.

Everything is read in one statement (:data:`_READ`): the customer's age with the
bank and last security changes, whether the payee and device were seen before, and
the rolling windows of the customer, the device and the payee (the merchant, for an
e-Pay payment) from bucketed counters; and the decision's id, taken from its
sequence. The decision, the counters and what was seen are written in one more
(:data:`_WRITE`), in the payment's own transaction: a payment that rolls back counts
nothing. Nothing in the payment reads them back, so the write goes with the
payment's next round trip (``db.run_later``): one round trip less.

A window is a sum of buckets: minutes for the last 10 minutes and the hour, hours
for the day, days for the month, so a window's edge is as coarse as its bucket
(a count "in the last hour" may include up to a minute more). Rows of a bucket are
upserted in one order (subject, grain, bucket), so that two payments touching the
same counters (one merchant) queue rather than deadlock.

A bucket being counted is kept in up to :data:`COUNTER_SHARDS` rows, one per shard
of the paying customers (``customer_id % COUNTER_SHARDS``), summed when read: a payee
many customers pay at once (a wealth product on sale, a busy merchant) would
otherwise be one row that every payment locks until its commit, and its payments
would run one after another. A customer's own counters stay one row a bucket. Once a
bucket is over, nobody writes it: :func:`prune` folds its shards into one row, so a
hot payee's windows read a row per past bucket, as before, and its shards only for
the buckets still being counted (and those closed since the last fold).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.orm import Session

from rongbank.auth.tools import PaymentRequest
from rongbank.clock import BUSINESS_TIME_ZONE
from rongbank.db import run, run_later, statement, text_array

FeatureValues = dict[str, Any]

COUNTER_SHARDS = 32
"""Rows a payee's bucket being counted is spread over: payments of customers on
different shards never wait for each other's counters. ``rongbank bench paths``
(32 clients, wealth purchases of one product): with one row, 27 of the 32 purchases
in flight waited for the product's counter rows; with 8 shards 16, with 32 about 1.
A hot payee's read pays for them until :func:`prune` folds the closed buckets: 32
shards of every bucket in the windows (208 each) cost a read 3.4 ms against 0.27 ms
for one row a bucket, measured alone."""

NEVER_HOURS = 100_000.0
"""Hours since a change that never happened: far beyond any rule's window."""

LEDGER_HISTORY_FROM = 500_000
"""From this amount (minor units) a payee the engine has not seen yet is looked up in
the ledger too (was it paid before the engine kept its own memory?): the old
new-payee check's threshold, so a large payment to an old payee is not called new."""

_WINDOWS = (  # feature suffix, grain, length
    ("10m", "m", timedelta(minutes=10)),
    ("1h", "m", timedelta(hours=1)),
    ("24h", "h", timedelta(hours=24)),
    ("30d", "d", timedelta(days=30)),
)
KEEP = {"m": timedelta(hours=2), "h": timedelta(days=2), "d": timedelta(days=40)}
"""How long buckets of each grain are kept (``prune``): a little over their windows."""

_SUMS = ", ".join(
    f"coalesce(sum(n) FILTER (WHERE grain = '{g}' AND bucket > :t{s}), 0), "
    f"coalesce(sum(amount) FILTER (WHERE grain = '{g}' AND bucket > :t{s}), 0)"
    for s, g, _ in _WINDOWS
)

_READ = statement(
    "SELECT nextval('risk_decision_id_seq'), "  # noqa: S608 (constant sums)
    "(SELECT created_at FROM customer WHERE id = :c), "
    "(SELECT password_changed_at FROM auth_credential "
    " WHERE principal_kind = 'customer' AND principal_id = :c), "
    "(SELECT max(created_at) FROM auth_tool WHERE customer_id = :c AND kind <> 'sms'), "
    "EXISTS (SELECT 1 FROM risk_seen WHERE customer_id = :c AND kind = 'payee' AND value = :payee) "
    # The ledger only for a large payment (PostgreSQL evaluates CASE lazily).
    " OR CASE WHEN :probe THEN EXISTS (SELECT 1 FROM e_account payee "
    "  JOIN ledger_posting credit ON credit.account_id = payee.ledger_account_id "
    "  JOIN ledger_posting debit ON debit.entry_id = credit.entry_id "
    "  JOIN e_account payer ON payer.ledger_account_id = debit.account_id "
    "  WHERE payee.number = :payee AND payer.customer_id = :c) ELSE false END, "
    "EXISTS (SELECT 1 FROM risk_seen WHERE customer_id = :c AND kind = 'device' "
    " AND value = :device), "
    "EXISTS (SELECT 1 FROM risk_seen WHERE customer_id = :c AND kind = 'device'), "
    "(SELECT coalesce(json_agg(w.row), '[]') FROM (SELECT json_build_array(subject, "
    "  coalesce(sum(new_payees) FILTER (WHERE grain = 'm' AND bucket > :t1h), 0), "
    "  coalesce(sum(new_payees) FILTER (WHERE grain = 'h' AND bucket > :t24h), 0), "
    "  coalesce(max(max_amount) FILTER (WHERE grain = 'd' AND bucket > :t30d), 0), "
    f" {_SUMS}) AS row FROM risk_counter "
    " WHERE subject = ANY(CAST(:subjects AS text[])) AND bucket > :t30d GROUP BY subject) w)"
)

_WRITE = statement(
    "WITH d AS (INSERT INTO risk_decision (id, customer_id, purpose, payer, payee, amount, "
    " client_id, device, action, score, reasons, rules, features, hold_ref, decided_at) "
    " OVERRIDING SYSTEM VALUE "
    " VALUES (:id, :c, :purpose, :payer, :payee, :amount, :client_id, :device, :action, "
    " :score, CAST(:reasons AS text[]), CAST(:rules AS jsonb), CAST(:features AS jsonb), "
    " :hold_ref, :now)), "
    "counted AS (INSERT INTO risk_counter AS rc "
    " (subject, grain, bucket, shard, n, amount, max_amount, new_payees) "
    # Each subject's bucket of each grain, floored here: a list of instants costs
    # the driver more CPU to send than the whole statement does.
    " SELECT s, g, date_trunc(u, CAST(:now AS timestamptz), 'UTC'), :shard, 1, :amount, "
    " :amount, :new "
    " FROM unnest(CAST(:subjects AS text[])) AS s, (VALUES (CAST('d' AS \"char\"), 'day'), "
    " ('h', 'hour'), ('m', 'minute')) AS grain(g, u) ORDER BY s COLLATE \"C\", g "
    " ON CONFLICT (subject, grain, bucket, shard) DO UPDATE SET n = rc.n + 1, "
    " amount = rc.amount + excluded.amount, "
    " max_amount = greatest(rc.max_amount, excluded.max_amount), "
    " new_payees = rc.new_payees + excluded.new_payees), "
    "seen AS (INSERT INTO risk_seen (customer_id, kind, value, first_at) "
    " SELECT :c, k, v, :now FROM unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) "
    " AS u(k, v) ON CONFLICT DO NOTHING) "
    "SELECT 1"
)


def bank_side(payment: PaymentRequest) -> bool:
    """Money between the customer and the bank itself: a loan paid out, a loan repaid.
    Not a payee a thief can name."""
    return payment.payer.startswith("bank:") or payment.payee.startswith("loan:")


@dataclass(frozen=True, slots=True)
class Subjects:
    """The counters' keys of one payment (no device: no device counters)."""

    customer: str
    device: str | None
    payee: str

    @classmethod
    def of(cls, customer_id: int, payment: PaymentRequest, device: str | None) -> Subjects:
        kind = "m" if payment.purpose == "merchant_payment" else "p"
        return cls(
            f"c:{customer_id}", None if device is None else f"d:{device}", f"{kind}:{payment.payee}"
        )

    def all(self) -> list[str]:
        return [s for s in (self.customer, self.device, self.payee) if s is not None]


def _floor(at: datetime, grain: str) -> datetime:
    if grain == "m":
        return at.replace(second=0, microsecond=0)
    if grain == "h":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _hours(since: datetime | None, now: datetime) -> float:
    return NEVER_HOURS if since is None else max((now - since).total_seconds() / 3600, 0.0)


def read(
    session: Session,
    customer_id: int,
    payment: PaymentRequest,
    device: str | None,
    now: datetime,
) -> tuple[FeatureValues, int]:
    """The payment's features, by name (the names rules use), and the id its decision
    will have."""
    subjects = Subjects.of(customer_id, payment, device)
    params: dict[str, Any] = {
        "c": customer_id,
        "payee": payment.payee,
        "device": device,
        "probe": payment.amount >= LEDGER_HISTORY_FROM,
        "subjects": text_array(subjects.all()),
    }
    for suffix, grain, length in _WINDOWS:
        # Buckets that start after this instant lie wholly inside the window.
        params[f"t{suffix}"] = _floor(now - length, grain)
    row = run(session, _READ, params).fetchone()
    assert row is not None
    decision_id, since, password_at, tool_at, payee_seen, device_seen, any_device, windows = row
    local = now.astimezone(BUSINESS_TIME_ZONE)
    to_bank = bank_side(payment)
    features: FeatureValues = {
        "amount": payment.amount,
        "purpose": payment.purpose,
        "to_bank": to_bank,
        "merchant_payment": payment.purpose == "merchant_payment",
        "new_payee": not payee_seen and not to_bank,
        "has_device": device is not None,
        "new_device": device is not None and not device_seen and bool(any_device),
        "account_age_days": 0.0 if since is None else _hours(since, now) / 24,
        "hour": local.hour,
        "night": local.hour < 6,
        "password_changed_hours": _hours(password_at, now),
        "tool_added_hours": _hours(tool_at, now),
    }
    features["security_change_hours"] = min(
        features["password_changed_hours"], features["tool_added_hours"]
    )
    by_subject = {w[0]: w[1:] for w in windows}
    for prefix, subject in (
        ("cust", subjects.customer),
        ("device", subjects.device),
        ("payee", subjects.payee),
    ):
        got = by_subject.get(subject, [0, 0, 0] + [0] * 2 * len(_WINDOWS))
        if prefix == "cust":
            features["new_payees_1h"], features["new_payees_24h"] = int(got[0]), int(got[1])
            features["cust_max_30d"] = int(got[2])
        for i, (suffix, _, _) in enumerate(_WINDOWS):
            features[f"{prefix}_n_{suffix}"] = int(got[3 + 2 * i])
            features[f"{prefix}_sum_{suffix}"] = int(got[4 + 2 * i])
    n30 = features["cust_n_30d"]
    features["cust_avg_30d"] = features["cust_sum_30d"] / n30 if n30 else 0.0
    features["amount_ratio"] = payment.amount / features["cust_avg_30d"] if n30 else 0.0
    return features, int(decision_id)


@dataclass(frozen=True, slots=True)
class Recorded:
    action: str
    score: float
    reasons: tuple[str, ...]
    rules: list[dict[str, Any]]
    hold_ref: str | None = None


def write(
    session: Session,
    decision_id: int,
    customer_id: int,
    payment: PaymentRequest,
    device: str | None,
    features: Mapping[str, Any],
    decided: Recorded,
    now: datetime,
    *,
    counted: bool = True,
    deferred: bool = False,
) -> None:
    """Record the decision (``decision_id``, from :func:`read`) with its features,
    count the payment in its windows and remember its payee and device; ``deferred``:
    in the transaction's next round trip (``db.run_later``). Money from the bank (a loan
    paid out) is recorded but counts in no window: it is not the customer spending;
    nor does a refused payment (``counted`` False)."""
    counted = counted and not payment.payer.startswith("bank:")
    subjects = Subjects.of(customer_id, payment, device).all() if counted else []
    seen = [("payee", payment.payee)] if counted and not features.get("to_bank") else []
    if device is not None and counted:
        seen.append(("device", device))
    params = {
        "id": decision_id,
        "c": customer_id,
        "purpose": payment.purpose,
        "payer": payment.payer,
        "payee": payment.payee,
        "amount": payment.amount,
        "client_id": payment.client_id,
        "device": device,
        "action": decided.action,
        "score": decided.score,
        "reasons": text_array(decided.reasons),
        "rules": orjson.dumps(decided.rules).decode(),
        "features": orjson.dumps(dict(features)).decode(),
        "hold_ref": decided.hold_ref,
        "now": now,
        "new": 1 if features.get("new_payee") else 0,
        "shard": customer_id % COUNTER_SHARDS,
        "subjects": text_array(subjects),
        "kinds": text_array(k for k, _ in seen),
        "values": text_array(v for _, v in seen),
    }
    if deferred:
        run_later(session, _WRITE, params)
    else:
        run(session, _WRITE, params)


def prune(session: Session, now: datetime) -> int:
    """Delete buckets past every window that reads them, and fold the shards of the
    buckets that are over into one row each (the sums read are the same); how many
    rows were deleted."""
    deleted = 0
    for grain, keep in KEEP.items():
        cursor = run(session, _PRUNE, {"g": grain, "before": now - keep})
        deleted += cursor.rowcount
    run(session, _FOLD, {"now": now})
    return deleted


_PRUNE = statement("DELETE FROM risk_counter WHERE grain = :g AND bucket < :before")

_FOLD = statement(
    "WITH closed AS (DELETE FROM risk_counter WHERE shard > 0 AND bucket < date_trunc("
    " CASE grain WHEN 'm' THEN 'minute' WHEN 'h' THEN 'hour' ELSE 'day' END, "
    " CAST(:now AS timestamptz), 'UTC') RETURNING *) "
    "INSERT INTO risk_counter AS rc (subject, grain, bucket, shard, n, amount, max_amount, "
    " new_payees) SELECT subject, grain, bucket, 0, sum(n), sum(amount), max(max_amount), "
    " sum(new_payees) FROM closed GROUP BY subject, grain, bucket "
    ' ORDER BY subject COLLATE "C", grain '
    "ON CONFLICT (subject, grain, bucket, shard) DO UPDATE SET n = rc.n + excluded.n, "
    " amount = rc.amount + excluded.amount, "
    " max_amount = greatest(rc.max_amount, excluded.max_amount), "
    " new_payees = rc.new_payees + excluded.new_payees"
)
