"""Watch-list screening: lists from CSV, names matched across hanzi and pinyin,
customers and payees screened as accounts announces them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from rongbank.cli.main import app as cli
from rongbank.platform import Platform
from rongbank.risk.watchlist import screen_name
from rongbank.risk.watchlist.lists import WatchlistFileInvalid, import_list, read_entries
from rongbank.settings import Settings, get_settings
from tests.factories.accounts import People

AT = datetime(2026, 3, 1, tzinfo=UTC)
SANCTIONS = """name,aliases,identity_number,source,date
张伟明,Zhang Weiming;Wayne Zhang,110101198001011234,UN Security Council,2024-05-01
曾国藩,,,MPS wanted list,2023-01-15
Li Xiaolong,Bruce Lee,,OFAC SDN,2022-11-30
"""


@pytest.fixture
def listed(session: Session) -> Session:
    import_list(session, "sanctions", read_entries(SANCTIONS), at=AT)
    return session


def names(session: Session, name: str, **kwargs: float) -> list[tuple[str, float]]:
    return [(m.listed_name, m.score) for m in screen_name(session, name, **kwargs)]


class TestMatching:
    @pytest.mark.parametrize(
        "written",
        ["张伟明", "張偉明", "Zhang Weiming", "ZHANG  weiming", "zhang-wei-ming", "Weiming Zhang"],
        ids=["hanzi", "traditional", "pinyin", "case-and-spacing", "hyphens", "western-order"],
    )
    def test_one_name_however_written(self, listed: Session, written: str) -> None:
        assert names(listed, written) == [("张伟明", 100.0)]

    def test_a_listed_latin_name_matches_hanzi(self, listed: Session) -> None:
        assert names(listed, "李小龙") == [("Li Xiaolong", 100.0)]

    def test_an_alias_matches(self, listed: Session) -> None:
        [match] = screen_name(listed, "bruce lee")
        assert (match.listed_name, match.matched, match.list_name) == (
            "Li Xiaolong",
            "Bruce Lee",
            "sanctions",
        )

    def test_a_surname_read_two_ways_matches_either_spelling(self, listed: Session) -> None:
        # 曾 is "zeng" as a surname, "ceng" in words.
        assert names(listed, "Zeng Guofan") == [("曾国藩", 100.0)]
        assert names(listed, "Ceng Guofan") == [("曾国藩", 100.0)]

    def test_a_near_miss_above_the_threshold_is_a_hit(self, listed: Session) -> None:
        [(name, score)] = names(listed, "Zhang Weimin")
        assert name == "张伟明"
        assert 90 <= score < 100

    def test_a_near_miss_below_the_threshold_is_not(self, listed: Session) -> None:
        assert names(listed, "Zhang Wenjun") == []
        assert names(listed, "王伟明") == []

    def test_the_threshold_decides(self, listed: Session) -> None:
        assert names(listed, "Zhang Weimin", threshold=99) == []
        assert [n for n, _ in names(listed, "Zhang Wenjun", threshold=60)] == ["张伟明"]

    def test_someone_else_is_not_a_hit(self, listed: Session) -> None:
        assert names(listed, "欧阳娜娜") == []


class TestImport:
    def test_importing_a_list_again_replaces_it(self, listed: Session) -> None:
        import_list(listed, "sanctions", read_entries("name,source\n刘洋,EU list\n"), at=AT)
        assert names(listed, "张伟明") == []
        assert names(listed, "Liu Yang") == [("刘洋", 100.0)]

    def test_lists_are_screened_together(self, listed: Session) -> None:
        import_list(listed, "pep", read_entries("name,source\n张伟明,Bank PEP list\n"), at=AT)
        assert {m.list_name for m in screen_name(listed, "张伟明")} == {"sanctions", "pep"}

    @pytest.mark.parametrize(
        ("content", "says"),
        [
            ("name,aliases\n张伟,\n", "no source column"),
            ("name,source,date\n张伟,UN,01/05/2024\n", "Line 2: the date '01/05/2024'"),
            ("name,source\n,UN\n", "Line 2 has no name"),
            ("name,source\n", "no entries"),
        ],
    )
    def test_a_bad_file_is_refused_whole(self, content: str, says: str) -> None:
        with pytest.raises(WatchlistFileInvalid, match=says):
            read_entries(content)


class TestOnboardingAndPayees:
    def test_a_registered_customer_on_the_list_is_a_hit_and_still_a_customer(
        self, platform: Platform
    ) -> None:
        people = People(platform.accounts, platform.ledger)
        with platform.transaction() as session:
            import_list(session, "sanctions", read_entries(SANCTIONS), at=AT)
            listed = people.person(session, name="張偉明")
            clean = people.person(session, name="王小明")
        assert platform.screen_watchlists().hits == 1
        with platform.transaction() as session:
            hits = hits_of(session)
            assert platform.accounts.account(session, listed.number).status == "active"
        assert hits == [("customer", listed.customer_id, "張偉明", "张伟明", 100.0, "open")]
        assert clean.customer_id not in {h[1] for h in hits}
        with platform.transaction() as session:
            announced = session.execute(
                text("SELECT payload FROM outbox_event WHERE name = 'risk.screening_hit'")
            ).scalar_one()
        assert (announced["customer_id"], announced["list_name"]) == (
            listed.customer_id,
            "sanctions",
        )
        again = platform.screen_watchlists()  # each registration is screened once
        assert (again.names, again.hits) == (0, 0)

    def test_a_customer_not_on_the_list_is_no_hit(self, platform: Platform) -> None:
        people = People(platform.accounts, platform.ledger)
        with platform.transaction() as session:
            import_list(session, "sanctions", read_entries(SANCTIONS), at=AT)
            people.person(session, name="王小明")
        screened = platform.screen_watchlists()
        assert (screened.names, screened.hits) == (1, 0)
        with platform.transaction() as session:
            assert hits_of(session) == []

    def test_a_saved_payee_on_the_list_is_a_hit(self, platform: Platform) -> None:
        people = People(platform.accounts, platform.ledger)
        with platform.transaction() as session:
            payer = people.person(session, name="王小明")
            payee = people.person(session, name="李小龙")
        platform.screen_watchlists()  # no lists yet: no hits at onboarding
        with platform.transaction() as session:
            import_list(session, "sanctions", read_entries(SANCTIONS), at=AT)
            saved = platform.payees.add(
                session, payer.customer_id, name="房东", account_number=payee.number
            )
        assert platform.screen_watchlists().hits == 1
        with platform.transaction() as session:
            assert hits_of(session) == [("payee", saved.id, "李小龙", "Li Xiaolong", 100.0, "open")]
            customer = session.execute(text("SELECT customer_id FROM screening_hits")).scalar()
        assert customer == payer.customer_id

    def test_the_threshold_comes_from_the_settings(self, platform: Platform) -> None:
        platform.settings = platform.settings.model_copy(update={"risk_screening_threshold": 99})
        people = People(platform.accounts, platform.ledger)
        with platform.transaction() as session:
            import_list(session, "sanctions", read_entries(SANCTIONS), at=AT)
            people.person(session, name="张伟民")  # "zhangweimin": a near miss
        assert platform.screen_watchlists().hits == 0


def hits_of(session: Session) -> list[tuple[str, int, str, str, float, str]]:
    rows = session.execute(
        text(
            "SELECT subject, subject_id, screened_name, listed_name, score, status "
            "FROM screening_hits ORDER BY id"
        )
    ).all()
    return [(r[0], int(r[1]), r[2], r[3], float(r[4]), r[5]) for r in rows]


def test_staff_import_a_list_and_screen_a_name_from_the_command_line(
    fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RONGBANK_DATABASE_URL", fresh_db)
    monkeypatch.setenv("RONGBANK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    (tmp_path / "sanctions.csv").write_text(SANCTIONS, encoding="utf-8")

    def risk(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["risk", "watchlist", *args], env={"COLUMNS": "200"})
        return result.exit_code, result.output

    try:
        assert risk("import", "--list", "sanctions", str(tmp_path / "sanctions.csv")) == (
            0,
            "Imported 3 entries into the watch list 'sanctions'.\n",
        )
        code, output = risk("screen", "ZHANG Weiming")
        assert code == 1
        assert "张伟明" in output
        assert "1 hit(s)" in output
        assert risk("screen", "王小明")[0] == 0
        platform = Platform.connect(
            fresh_db, Settings(operator_token=SecretStr("x")), group_commit=False
        )
        try:
            with platform.transaction() as session:
                action = session.execute(
                    text("SELECT action FROM audit_log WHERE action LIKE 'risk.%'")
                ).scalar()
        finally:
            platform.close()
        assert action == "risk.watchlist.import"
    finally:
        get_settings.cache_clear()
