"""Test data built the way the bank builds it, shared by every test package (see
EXAMPLES.md #9)."""
