"""Test data built through the bank's own services and API (see EXAMPLES.md #9)."""
