"""Customer accounts: who a customer is and how they register (融e行 direct banking)."""
