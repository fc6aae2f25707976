"""Pre-approval: standing offers for existing customers, scored from what the bank
already knows of them instead of an application form (``rongbank lending
preapprove``). For them credit is one click: the offer is there, they accept it with
their tool, the money is in their e-account.

What the bank knows, over the last ``preapproval.months`` months: the money that came
into and went out of their e-accounts (a month's average), their balances and wealth
holdings, how long they have banked here, their e-Pay merchants' takings, and whether
any of their loans here is past due. ``decision.toml``'s ``[preapproval.features]``
maps these onto the scorecard's features. The decision is the same staged one as for
an application (eligibility, bureau, fraud, score, pricing), recorded the same way
(``source = 'preapproval'``), once per customer and day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.db import advisory_lock
from rongbank.lending.applications import LOCK, Applications, Ask, LiveSource, pricing_of
from rongbank.lending.decision import PASS, decide

YUAN_1000 = 1000_00


@dataclass(frozen=True, slots=True)
class PreapprovalRun:
    scored: int = 0
    offered: int = 0
    declined: int = 0
    skipped: int = 0
    """Customers the bank knows too little about (tenure, inflows) to offer anything."""


_CANDIDATES = (
    "SELECT c.id FROM customer c WHERE c.kind = 'person' AND c.id > :after "
    "AND EXISTS (SELECT 1 FROM e_account e WHERE e.customer_id = c.id AND e.status = 'active') "
    "AND NOT EXISTS (SELECT 1 FROM lending_application a WHERE a.customer_id = c.id "
    "  AND a.source = 'preapproval' AND a.client_id = :key) "
    "ORDER BY c.id LIMIT :n"
)

_KNOWN = """
WITH accounts AS (
    SELECT ledger_account_id AS id FROM e_account WHERE customer_id = :c AND currency = 'CNY'
), flows AS (
    SELECT coalesce(sum(-p.amount) FILTER (WHERE p.amount < 0), 0) AS inflow,
           coalesce(sum(p.amount) FILTER (WHERE p.amount > 0), 0) AS outflow
    FROM ledger_posting p
    WHERE p.account_id IN (SELECT id FROM accounts) AND NOT p.pending
      AND p.created_at >= :since AND p.created_at < :now
)
SELECT flows.inflow, flows.outflow,
       (SELECT coalesce(sum(a.credits_posted - a.debits_posted), 0) FROM ledger_account a
         WHERE a.id IN (SELECT id FROM accounts)),
       (SELECT coalesce(sum(h.amount - h.redeemed), 0) FROM wealth_holding h
         WHERE h.customer_id = :c AND h.status = 'held'),
       (SELECT coalesce(sum(-p.amount), 0) FROM merchant m
          JOIN ledger_posting p ON p.account_id = m.payable_account_id
         WHERE m.customer_id = :c AND p.amount < 0 AND NOT p.pending
           AND p.created_at >= :since AND p.created_at < :now),
       (SELECT created_at FROM customer WHERE id = :c)
FROM flows
"""


class Preapproval:
    def __init__(self, applications: Applications) -> None:
        self.applications = applications
        self.rules = applications.rules
        self.settings: dict[str, Any] = dict(applications.rules.preapproval)

    def known(self, session: Session, customer_id: int) -> dict[str, Any]:
        """What the bank knows of the customer, as ``bank.*`` feature sources (fen)."""
        months = int(self.settings["months"])
        now = self.applications.clock.now()
        inflow, outflow, balance, wealth, epay, since = session.execute(
            text(_KNOWN),
            {"c": customer_id, "since": now - timedelta(days=30 * months), "now": now},
        ).one()
        tenure_days = (now - since).days
        return {
            "bank.monthly_inflow": int(inflow) // months,
            "bank.monthly_outflow": int(outflow) // months,
            "bank.balances_and_wealth": int(balance) + int(wealth),
            "bank.epay_turnover": int(epay) // months,
            "bank.tenure_years": tenure_days // 365,
            "bank.tenure_months": tenure_days // 30,
            "bank.outstanding": self.applications.exposure.outstanding(session, customer_id),
            "bank.loans_past_due": self.applications.exposure.loans_past_due(session, customer_id),
        }

    def key(self, day: date) -> str:
        return f"preapproval:{day.isoformat()}"

    def customer(self, session: Session, customer_id: int) -> str:
        """Score one customer into a standing offer; what came of it: ``offered``,
        ``declined``, ``skipped`` (too little known) or ``done`` (already today)."""
        advisory_lock(session, LOCK, customer_id)
        apps = self.applications
        key = self.key(apps.today())
        if apps.by_client(session, customer_id, "preapproval", key) is not None:
            return "done"
        known = self.known(session, customer_id)
        product = apps.products.get(str(self.settings["product"]))
        pricing = pricing_of(product, apps.products)
        room = pricing.max_amount
        if pricing.personal_cap is not None:
            room = min(room, pricing.personal_cap - known["bank.outstanding"])
        income = max(known["bank.monthly_inflow"], known["bank.epay_turnover"])
        amount = min(room, income * int(self.settings["max_inflow_months"]))
        amount -= amount % YUAN_1000
        if (
            known["bank.tenure_months"] < int(self.settings["min_tenure_months"])
            or amount < pricing.min_amount
        ):
            return "skipped"
        ask = Ask(
            product.code, amount, int(self.settings["term_months"]), str(self.settings["method"])
        )
        facts, resident_id, account = apps.facts(session, customer_id, ask, product)
        source = LiveSource(
            apps,
            session,
            customer_id=customer_id,
            facts=facts,
            resident_id=resident_id,
            account=account,
            ask=ask,
            sources=known,
            features=self.rules.preapproval_features,
        )
        decision = decide(source, self.rules, pricing, apps.scorer())
        # No officer reviews a standing offer: what the machine alone cannot approve
        # waits for the customer to apply.
        offered = decision.outcome == PASS
        application = apps.store(
            session,
            customer_id=customer_id,
            source="preapproval",
            client_id=key,
            ask=ask,
            purpose="consumption",
            form=known,
            decision=decision,
            status="offered" if offered else "declined",
        )
        if offered:
            apps.make_offer(session, application, decision.offer)
        return "offered" if offered else "declined"

    def run(
        self,
        transaction: Callable[[], AbstractContextManager[Session]],
        *,
        batch: int = 500,
    ) -> PreapprovalRun:
        """Every customer not yet scored today, one transaction each (a customer's
        lock held only for their own decision); safe to run again: today's are kept."""
        counts = {"offered": 0, "declined": 0, "skipped": 0, "done": 0}
        for customer_id in self._candidates(transaction, batch):
            with transaction() as session:
                counts[self.customer(session, customer_id)] += 1
        return PreapprovalRun(
            scored=counts["offered"] + counts["declined"],
            offered=counts["offered"],
            declined=counts["declined"],
            skipped=counts["skipped"],
        )

    def _candidates(
        self, transaction: Callable[[], AbstractContextManager[Session]], batch: int
    ) -> Iterator[int]:
        after = 0
        key = self.key(self.applications.today())
        while True:
            with transaction() as session:
                ids = [
                    int(row[0])
                    for row in session.execute(
                        text(_CANDIDATES), {"after": after, "key": key, "n": batch}
                    )
                ]
            yield from ids
            if len(ids) < batch:
                return
            after = ids[-1]
