"""Array parameters sent as PostgreSQL array literals (``db.text_array``,
``db.bytea_array``): whatever the elements hold, the database reads back exactly
the list that was meant."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from rongbank.db import bytea_array, run, statement, text_array

_TEXTS = statement("SELECT CAST(:a AS text[])")
_BYTEAS = statement("SELECT CAST(:a AS bytea[])")

# Read-only statements: one session serves every example.
_ONE_SESSION = [HealthCheck.function_scoped_fixture]
# PostgreSQL text holds any character but NUL (and UTF-8 no lone surrogate).
texts = st.lists(
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])), max_size=5
)


@settings(max_examples=60, deadline=None, suppress_health_check=_ONE_SESSION)
@given(values=texts)
def test_a_text_array_reads_back_as_the_same_list(session: Session, values: list[str]) -> None:
    row = run(session, _TEXTS, {"a": text_array(values)}).fetchone()
    assert row == (values,)


def test_a_text_array_keeps_what_array_syntax_means_otherwise(session: Session) -> None:
    values = ["NULL", None, "", " a ", "{b,c}", 'say "hi"', "back\\slash", "中文"]
    assert run(session, _TEXTS, {"a": text_array(values)}).fetchone() == (values,)


@settings(max_examples=30, deadline=None, suppress_health_check=_ONE_SESSION)
@given(values=st.lists(st.binary(max_size=40), max_size=4))
def test_a_bytea_array_reads_back_as_the_same_bytes(session: Session, values: list[bytes]) -> None:
    row = run(session, _BYTEAS, {"a": bytea_array(values)}).fetchone()
    assert row is not None
    assert [bytes(v) for v in row[0]] == values
