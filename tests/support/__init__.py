"""Drivers the tests share: reading the fake SMS gateway, pages as a customer uses them."""
