"""Test data built the way the bank builds it, shared by every test package."""
