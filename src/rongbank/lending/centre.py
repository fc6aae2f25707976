"""The decision side of the online financing centre, wired once: applications and
their staged decisions, offers, the review queue, pre-approval. ``Platform.credit``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.auth.stepup import RiskCheck
from rongbank.clock import Clock
from rongbank.lending.applications import Applications, Exposure
from rongbank.lending.bureau import CreditBureau, FakeCreditBureau
from rongbank.lending.decision import Rules, Scorer, load_rules
from rongbank.lending.offers import Offers
from rongbank.lending.products import Products
from rongbank.lending.reviews import Reviews
from rongbank.lending.scoring import ShippedScorecard


class AcceptedOffers:
    """What a customer owes, counted as the principal of the offers they accepted."""

    def outstanding(self, session: Session, customer_id: int) -> int:
        return int(
            session.execute(
                text(
                    "SELECT coalesce(sum(amount), 0) FROM lending_offer "
                    "WHERE customer_id = :c AND status = 'accepted'"
                ),
                {"c": customer_id},
            ).scalar_one()
        )

    def overdue_instalments(self, session: Session, customer_id: int) -> int:
        return 0


class CreditCentre:
    def __init__(
        self,
        clock: Clock,
        *,
        products: Products,
        risk: Callable[[], RiskCheck],
        rules: Rules | None = None,
        rules_file: Path | None = None,
        bureau: CreditBureau | None = None,
        scorer: Scorer | None = None,
        exposure: Exposure | None = None,
    ) -> None:
        self.rules = rules or load_rules(rules_file)
        self.products = products
        self.bureau = bureau or FakeCreditBureau()
        shipped = ShippedScorecard()
        self.scorer: Callable[[], Scorer] = (lambda: scorer) if scorer else shipped.scorer
        self.exposure = exposure or AcceptedOffers()
        self.offers = Offers(clock, rules=self.rules, products=products)
        self.applications = Applications(
            clock,
            rules=self.rules,
            products=products,
            bureau=self.bureau,
            risk=risk,
            scorer=self.scorer,
            exposure=self.exposure,
            make_offer=self.offers.make,
        )
        self.reviews = Reviews(clock, self.applications, self.offers)
