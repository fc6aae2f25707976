"""Test data built through the services, shared by the tests of every domain."""
