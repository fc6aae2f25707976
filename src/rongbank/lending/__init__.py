"""The online financing centre (网络融资中心) and 逸贷: lending products and their price
grid, applications decided by rules and a scorecard, loans on the ledger, repayment
schedules, the daily end of day that services them, and the customer's loan pages."""
