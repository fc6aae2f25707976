"""Risk cases: alerts filed into cases that analysts work, and "was this you?"."""
