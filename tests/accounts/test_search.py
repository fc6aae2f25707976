"""The staff search: part of a name, mobile, resident ID or account number finds the
customer, as far as the member of staff may see them (an account manager: the
customers they serve, however many others match), through indexes in generic plans."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.accounts.search import MIN_DIGITS, customer_search
from rongbank.platform import Platform
from tests.factories.identity import resident_id

MOBILE = "13912345678"
ID_WITH_X = next(
    number for n in range(1000) if (number := resident_id(n, birth=date(1985, 6, 1))).endswith("X")
)


def staff(platform: Platform, session: Session, username: str, role: str) -> int:
    return platform.accounts.create_staff(session, username=username, name=username, role=role)


@pytest.fixture
def bank(platform: Platform) -> dict[str, Any]:
    """Operations, and customers whose numbers tell them apart."""
    with platform.transaction() as session:
        ops = staff(platform, session, "ops", "operations")
        people = {
            name: platform.accounts.register_person(
                session, name=name, mobile=mobile, resident_id=number
            )
            for name, mobile, number in (
                ("王芳", MOBILE, resident_id(11)),
                ("王小明", "13800001111", ID_WITH_X),
                ("李雷", "13700002222", resident_id(13)),
                ("Alice Smith", "13600003333", resident_id(15)),
                ("100%纯", "13500004444", resident_id(16)),
            )
        }
    return {"ops": ops, "people": people}


def names(platform: Platform, staff_id: int, query: str) -> list[str]:
    with platform.transaction() as session:
        return [
            c.name
            for c in platform.chat.desk.find_customers(session, staff_id=staff_id, query=query)
        ]


class TestWhatMatches:
    def test_the_start_of_a_name_in_any_case(
        self, platform: Platform, bank: dict[str, Any]
    ) -> None:
        ops = bank["ops"]
        assert sorted(names(platform, ops, "王")) == ["王小明", "王芳"]
        assert names(platform, ops, "王芳") == ["王芳"]
        assert names(platform, ops, "alice") == ["Alice Smith"]
        assert names(platform, ops, "ALICE S") == ["Alice Smith"]
        assert names(platform, ops, "芳") == []  # a name is found by its beginning

    def test_the_first_or_last_digits_of_a_mobile(
        self, platform: Platform, bank: dict[str, Any]
    ) -> None:
        ops = bank["ops"]
        assert names(platform, ops, "1391234") == ["王芳"]
        assert names(platform, ops, "5678") == ["王芳"]  # 尾号 5678
        assert names(platform, ops, MOBILE) == ["王芳"]
        assert names(platform, ops, "１３９１２３４") == ["王芳"]  # typed full-width

    def test_the_first_or_last_characters_of_a_resident_id(
        self, platform: Platform, bank: dict[str, Any]
    ) -> None:
        ops = bank["ops"]
        number = resident_id(13)
        assert names(platform, ops, number[-6:]) == ["李雷"]
        assert names(platform, ops, number) == ["李雷"]
        assert names(platform, ops, ID_WITH_X[-5:].lower()) == ["王小明"]  # an x typed small

    def test_the_first_or_last_digits_of_an_account_number(
        self, platform: Platform, bank: dict[str, Any]
    ) -> None:
        ops = bank["ops"]
        number = bank["people"]["李雷"][1].number
        assert names(platform, ops, number[-8:]) == ["李雷"]
        spaced = " ".join(re.findall(".{1,4}", number))  # as printed on a card
        assert names(platform, ops, spaced) == ["李雷"]

    def test_fewer_digits_than_the_least_match_no_number(
        self, platform: Platform, bank: dict[str, Any]
    ) -> None:
        short = MOBILE[-(MIN_DIGITS - 1) :]
        assert names(platform, bank["ops"], short) == []
        assert customer_search("   ", platform.pii) is None

    def test_what_is_typed_is_text_not_a_pattern(
        self, platform: Platform, bank: dict[str, Any]
    ) -> None:
        ops = bank["ops"]
        assert names(platform, ops, "100%") == ["100%纯"]
        assert names(platform, ops, "%") == []
        assert names(platform, ops, "_") == []


class TestWhoSeesWhom:
    def test_a_manager_finds_their_own_customers_among_many_that_match(
        self, platform: Platform
    ) -> None:
        """25 customers called 王..., the manager's own the last by name: a search that
        took the first 20 and then filtered would show the manager none."""
        with platform.transaction() as session:
            other = staff(platform, session, "m-other", "account_manager")
            mine = staff(platform, session, "m-mine", "account_manager")
            for n in range(25):
                customer, _ = platform.accounts.register_person(
                    session,
                    name=f"王{n:02d}",
                    mobile=f"1370000{n:04d}",
                    resident_id=resident_id(100 + n),
                )
                platform.accounts.reassign_manager(
                    session, customer_id=customer.id, manager_id=mine if n == 24 else other
                )
        assert names(platform, mine, "王") == ["王24"]
        assert len(names(platform, other, "王")) == 20  # a page of them
        assert names(platform, other, "王24") == []

    def test_roles_that_serve_no_customer_find_none(
        self, platform: Platform, bank: dict[str, Any]
    ) -> None:
        with platform.transaction() as session:
            supervisor = staff(platform, session, "sup", "supervisor")
            risk = staff(platform, session, "risk", "risk_analyst")
        assert names(platform, supervisor, "王芳") == []
        assert names(platform, risk, "王芳") == ["王芳"]


class TestCost:
    def test_each_way_of_matching_is_an_index_scan_in_a_generic_plan(
        self, platform: Platform
    ) -> None:
        """Statements run as generic plans (``plan_cache_mode=force_generic_plan``),
        where ``LIKE`` over a parameter scans the table: the search must not."""
        search = customer_search("13912345678", platform.pii)
        assert search is not None
        order = list(search.params)
        numbered = re.sub(r":(\w+)", lambda m: f"${order.index(m.group(1)) + 1}", search.ids)
        with platform.transaction() as session:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            # Nor a walk of the whole primary key, filtering the tokens row by row
            # (cheapest over a test's few rows): bitmap scans need a condition.
            session.execute(text("SET LOCAL enable_indexscan = off"))
            plan = "\n".join(session.execute(text(f"EXPLAIN (GENERIC_PLAN) {numbered}")).scalars())
        assert "Seq Scan" not in plan, plan
        # The name, the sealed numbers' tokens (GIN), an account number's two ends.
        assert plan.count("Index") >= 4, plan
        assert "Bitmap Index Scan on customer_number_tokens" in plan, plan
