"""The decision side of the online financing centre, wired once: applications and
their staged decisions, offers, the review queue, pre-approval. ``Platform.credit``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.errors import NotYourAccount
from rongbank.accounts.service import EAccount
from rongbank.auth.stepup import RiskCheck
from rongbank.clock import Clock
from rongbank.lending.applications import Applications, Offer
from rongbank.lending.bureau import CreditBureau, FakeCreditBureau
from rongbank.lending.decision import Rules, Scorer, load_rules
from rongbank.lending.loans import LoanService
from rongbank.lending.offers import Offers
from rongbank.lending.preapproval import Preapproval
from rongbank.lending.reviews import Reviews
from rongbank.lending.scoring import ShippedScorecard
from rongbank.pii import PersonalData


class LoanExposure:
    """What a customer owes the bank now, as the loans book says."""

    def __init__(self, loans: LoanService) -> None:
        self.loans = loans

    def outstanding(self, session: Session, customer_id: int) -> int:
        return self.loans.outstanding_personal_principal(session, customer_id)

    def loans_past_due(self, session: Session, customer_id: int) -> int:
        return sum(
            1
            for loan in self.loans.loans_of(session, customer_id)
            if loan.status == "active" and loan.days_past_due > 0
        )


class CreditCentre:
    def __init__(
        self,
        clock: Clock,
        *,
        loans: LoanService,
        risk: Callable[[], RiskCheck],
        rules: Rules | None = None,
        rules_file: Path | None = None,
        bureau: CreditBureau | None = None,
        scorer: Scorer | None = None,
        pii: PersonalData | None = None,
    ) -> None:
        self.rules = rules or load_rules(rules_file)
        self.loans = loans
        self.bureau = bureau or FakeCreditBureau()
        shipped = ShippedScorecard()
        self.scorer: Callable[[], Scorer] = (lambda: scorer) if scorer else shipped.scorer
        self.exposure = LoanExposure(loans)
        self.offers = Offers(clock, rules=self.rules, loans=loans)
        self.applications = Applications(
            clock,
            rules=self.rules,
            products=loans.products,
            bureau=self.bureau,
            risk=risk,
            scorer=self.scorer,
            exposure=self.exposure,
            make_offer=self.offers.make,
            pii=pii,
        )
        self.reviews = Reviews(clock, self.applications, self.offers)
        self.preapproval = Preapproval(self.applications)

    def payout_account(self, session: Session, customer_id: int, number: str | None) -> EAccount:
        """The customer's e-account a loan is paid into: ``number`` if it is theirs,
        else their first active one."""
        row = session.execute(
            text(
                "SELECT id, number, customer_id, class, currency, ledger_account_id, status, "
                "status_reason FROM e_account WHERE customer_id = :c AND currency = 'CNY' "
                "AND (CAST(:n AS text) IS NULL OR number = :n) "
                "ORDER BY status <> 'active', class, id LIMIT 1"
            ),
            {"c": customer_id, "n": number},
        ).first()
        if row is None:
            raise NotYourAccount()
        return EAccount(*row)

    def accept(
        self,
        session: Session,
        *,
        customer_id: int,
        offer_id: int,
        account: EAccount,
        pay_to: int | None = None,
    ) -> tuple[Offer, bool]:
        return self.offers.accept(
            session, customer_id=customer_id, offer_id=offer_id, account=account, pay_to=pay_to
        )
