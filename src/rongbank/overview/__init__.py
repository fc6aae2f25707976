"""A customer's money at a glance (账户总览): what they own (e-accounts, wealth; loans
and investments once those domains land), their movements across every account,
newest first, filtered and one by one, and where their money went (spending by
category and month). Reads what the ledger, the accounts, e-Pay and wealth hold;
writes nothing."""
