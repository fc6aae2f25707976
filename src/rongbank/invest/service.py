"""e-Invest use cases: quotes, trades at a quote, pending orders, and the tick that
executes them (with margin and roll-over), all through the ledger.

The use cases are mixed into :class:`InvestService`, one module each: the journal
(``journal``), positions, trades and their ledger entries (``positions``), quotes and
trades at a quote (``quotes``), pending orders (``orders``), the tick (``ticks``).
"""

from __future__ import annotations

from rongbank.accounts.service import AccountsService
from rongbank.clock import Clock
from rongbank.invest.engine import Engine
from rongbank.invest.prices import PriceSource
from rongbank.invest.products import Catalogue
from rongbank.invest.ticks import Ticker, Ticks
from rongbank.ledger.service import LedgerService
from rongbank.wealth.service import WealthService


class InvestService(Ticks):
    def __init__(
        self,
        ledger: LedgerService,
        accounts: AccountsService,
        wealth: WealthService,
        clock: Clock,
        catalogue: Catalogue,
        prices: PriceSource,
    ) -> None:
        self.ledger, self.accounts, self.wealth = ledger, accounts, wealth
        self.clock, self.catalogue, self.prices = clock, catalogue, prices
        self._ledger_ids: dict[str, int] = {}
        self.ticker = Ticker(Engine(catalogue))
        """The server's engine (the ``invest-ticks`` job), rebuilt from the journal."""
        self.halted: set[str] = set()
        """The products this process last found halted (to warn once per halt)."""
