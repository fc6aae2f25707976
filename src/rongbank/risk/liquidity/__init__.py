"""Liquidity risk: the daily LCR and NSFR from the ledger, the intraday outflow
monitor, and the bank-run simulation."""
