"""Reading a customer's sealed personal numbers in tests (``rongbank.pii``)."""

from __future__ import annotations

from sqlalchemy import text

from rongbank.pii import opened
from rongbank.platform import Platform


def resident_id_of(platform: Platform, customer_id: int) -> str:
    """The customer's own identity number, as the bank reads it (opened)."""
    with platform.transaction() as session:
        row = session.execute(
            text("SELECT resident_id, resident_id_enc FROM customer WHERE id = :c"),
            {"c": customer_id},
        ).one()
    number = opened(platform.pii, customer_id, "resident_id", row[0], row[1])
    assert number is not None, f"customer {customer_id} has no identity number of their own"
    return number
