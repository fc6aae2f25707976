"""Anti-money-laundering over the ledger, in batch: the day's large-value transaction
reports at the People's Bank of China's thresholds and the suspicious patterns
(structuring, rapid in-and-out, fan-in and fan-out, a dormant account woken, round
amounts), each stored with the transfers behind it and raised to the risk centre as
a :class:`~rongbank.risk.events.RiskAlertRaised`."""
