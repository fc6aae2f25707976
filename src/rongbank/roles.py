"""The bank's staff roles, and which roles each kind of staff work is for.

One table, read by the API's routers (``require_staff(*roles.MERCHANTS)``) and by the
staff console's pages (``staff_page(*roles.MERCHANTS)``) alike, so that the console
can neither offer a role what the API refuses it nor hide what the API allows. Which
*customers* a member of staff may look at is a rule of its own
(``Desk.check_customer``), applied on top of these.
"""

from __future__ import annotations

ACCOUNT_MANAGER = "account_manager"
"""Serves their own customers: chats with them, offers products, sees their tools."""
SUPERVISOR = "supervisor"
"""Leads the account managers: publishes the canned replies every manager shares."""
OPERATIONS = "operations"
"""The back office: accounts, merchants, tools, wealth products, notices, moderation."""
CREDIT_OFFICER = "credit_officer"
"""Decides the credit applications the machine referred."""
CREDIT_MANAGER = "credit_manager"
"""Runs the loan book: reads the portfolio and its reports, approves settlement shares."""
RISK_ANALYST = "risk_analyst"
ADMINISTRATOR = "administrator"
"""Everything operations do, and the staff's own logins."""

ALL_STAFF = (
    ACCOUNT_MANAGER,
    SUPERVISOR,
    OPERATIONS,
    CREDIT_OFFICER,
    RISK_ANALYST,
    ADMINISTRATOR,
    CREDIT_MANAGER,
)
BACK_OFFICE = (OPERATIONS, ADMINISTRATOR)
SERVING = (ACCOUNT_MANAGER, OPERATIONS, ADMINISTRATOR)

# Each kind of work, with the roles that do it.
ACCOUNTS = BACK_OFFICE
"""Freeze, unfreeze and close e-accounts; give a customer another account manager."""
CUSTOMER_TOOLS = SERVING
"""See a customer's authentication tools (an account manager: of their customers)."""
TOOLS = BACK_OFFICE
"""Unblock and revoke a customer's authentication tools."""
FUNDING = BACK_OFFICE
"""Watch top-ups and withdrawals the card network has not answered."""
MERCHANTS = BACK_OFFICE
"""Onboard, approve, suspend and reinstate e-Pay merchants; revoke their logins and
keys; run settlement and read the bank's transaction files."""
MALL = BACK_OFFICE
"""融e购: approve or refuse sellers' shops, keep the categories and their commission."""
WEALTH_PRODUCTS = BACK_OFFICE
"""Put wealth products on the catalogue and close their sale."""
WEALTH_CATALOGUE = SERVING
"""Read the whole catalogue, and customers' risk assessments."""
OFFERS = SERVING
"""Send customers service cards (products, fares) and open group chats with them."""
BROADCASTS = BACK_OFFICE
"""Send notices to a segment of customers, and read their figures."""
MODERATION = BACK_OFFICE
"""Read reported messages, hide one with a reason, dismiss a report, make channels."""
CHAT_DESK = (ACCOUNT_MANAGER,)
"""The managers' chat desk: duty, the queue, claiming and transferring chats."""
LIQUIDITY = (RISK_ANALYST,)
"""The bank's liquidity: the daily LCR and NSFR, outflow alerts, bank-run simulations."""
AML = (RISK_ANALYST,)
"""Anti-money-laundering: the day's large-value reports (and their CSV), the findings."""
STAFF_ADMIN = (ADMINISTRATOR,)
"""List members of staff, deactivate and reactivate them."""
CREDIT_REVIEW = (CREDIT_OFFICER,)
"""Decide the credit applications the machine referred (the review queue); approving
a large one needs a second credit officer."""
PORTFOLIO = (CREDIT_MANAGER, RISK_ANALYST)
"""Read the lending portfolio: applications and approval rate, balances by category,
days past due, roll rates, vintage curves (credit officers decide applications; the
book is the credit managers' and the risk analysts')."""
SETTLEMENT_SHARES = (CREDIT_OFFICER, CREDIT_MANAGER)
"""Ask that a merchant's operating loan be repaid by a share of its e-Pay settlements,
and approve or decline such a request (never one's own: four eyes)."""
INVEST_MARKET = (RISK_ANALYST, *BACK_OFFICE)
"""e-Invest's market: products the price guard halts, refused roll-overs, forced closes."""
RISK_CASES = (RISK_ANALYST,)
"""Work risk alerts as cases: take one, write notes, decide; confirm another analyst's
decision where four eyes are needed (fraud, suspicious, a large release)."""
RISK_CASE_ASSIGN = (SUPERVISOR,)
"""Give a risk case another analyst, or put it back in the queue (there is no risk
lead role: the supervisor does it)."""
RUNNING = BACK_OFFICE
"""See the bank's running (the operations page): the periodic jobs and their lag, the
database's role, replication and WAL archiving, the recent server errors."""
RISK_RULES = (RISK_ANALYST,)
"""The fraud engine's rules: propose a rule or a new version, approve another
analyst's (four eyes), shadow, live, disable; backtests, each live rule's precision
and the drift of the engine's scores."""
