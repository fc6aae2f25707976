"""工银e投资 e-Invest: account metals, crude oil, base metals and agricultural products
traded against the bank's quotes (the bank is the counterparty; nothing is delivered)."""
