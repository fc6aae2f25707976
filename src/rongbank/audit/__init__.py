"""The tamper-evident audit trail: who did what, when, from where, with what result."""
