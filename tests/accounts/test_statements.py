"""Account history and statements over HTTP, as customers download them."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from importlib.metadata import distribution
from typing import Any

import pytest
import xmlschema
from fastapi.testclient import TestClient
from pypdf import PdfReader

from rongbank.accounts.interest import InterestService, end_of_business_day, load_interest_rates
from rongbank.accounts.statements import (
    CAMT053_NAMESPACE,
    StatementsService,
    StatementTooLong,
    mask_account_number,
)
from rongbank.api.app import create_app
from rongbank.clock import FrozenClock
from rongbank.platform import Platform
from tests.accounts.test_endpoints import PASSWORD, V1, People, transfer_confirmed
from tests.factories.identity import resident_id

TODAY = date(2026, 3, 2)  # the conftest clock's business date (Beijing time)
NS = {"c": CAMT053_NAMESPACE}
NOWHERE = "6288880000099999997"  # a well-formed number that no account has


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, background=False)) as client:
        yield client


@pytest.fixture
def people(client: TestClient, platform: Platform) -> People:
    return People(client, platform)


def pay(
    client: TestClient, payer: dict[str, Any], payee: dict[str, Any], amount: str, note: str = ""
) -> None:
    response = transfer_confirmed(
        client,
        payer,
        {
            "client_id": f"{amount}-{note}-{payee['account']['number']}",
            "source": payer["account"]["number"],
            "destination": payee["account"]["number"],
            "amount": amount,
            "description": note,
        },
    )
    assert response.status_code == 201, response.text


def register_enterprise(client: TestClient, people: People) -> dict[str, Any]:
    response = client.post(
        f"{V1}/enterprises",
        json={
            "name": "福州融通贸易有限公司",
            "mobile": "13900009999",
            "credit_code": "91350100M000100Y43",
            "legal_rep_name": "林某",
            "legal_rep_id": resident_id(1, birth=date(1980, 1, 1)),
            "password": PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    company: dict[str, Any] = response.json()
    company["headers"] = {"Authorization": f"Bearer {people.login(company['login_name'])}"}
    return company


def parse_xml(content: bytes) -> ET.Element:
    """Parse our own response; raises unless it is well-formed XML."""
    return ET.fromstring(content)  # noqa: S314 (the bank's own output, not untrusted input)


@cache
def camt053_schema() -> xmlschema.XMLSchema:
    """ISO 20022's own XSD of camt.053.001.08, as the ``camt053`` package ships it
    (a test dependency: the schema is not ours to copy)."""
    path = distribution("camt053").locate_file("camt053/xsd/camt.053.001.08.xsd")
    return xmlschema.XMLSchema(str(path))


def later(clock: FrozenClock, **delta: float) -> None:
    clock.advance(timedelta(**delta))


def login_again(people: People, person: dict[str, Any]) -> None:
    person["headers"] = {"Authorization": f"Bearer {people.login(person['login_name'])}"}


def next_day(clock: FrozenClock, people: People, *persons: dict[str, Any]) -> None:
    """A day later; sessions have expired by then, so everyone logs in again."""
    later(clock, days=1)
    for person in persons:
        login_again(people, person)


def url(person: dict[str, Any], what: str) -> str:
    return f"{V1}/me/accounts/{person['account']['number']}/{what}"


@pytest.fixture
def alice_and_bob(
    client: TestClient, people: People, clock: FrozenClock
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Alice is funded 1,000.00, pays Bob 250.50 for rent and gets 10.00 back."""
    alice, bob = people.register("张三"), people.register("李雷")
    people.fund(alice, 100_000)
    later(clock, minutes=5)
    pay(client, alice, bob, "250.50", "三月房租")
    later(clock, minutes=5)
    pay(client, bob, alice, "10.00", "退款")
    return alice, bob


def rows(response: Any) -> list[list[str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


class TestHistory:
    def test_lists_every_movement_with_its_running_balance(
        self, client: TestClient, alice_and_bob: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        alice, bob = alice_and_bob
        response = client.get(url(alice, "history"), headers=alice["headers"])
        assert response.status_code == 200, response.text
        page = response.json()
        assert [
            (m["direction"], m["amount"], m["balance"], m["counterparty"])
            for m in page["movements"]
        ] == [
            ("in", "1000.00", "1000.00", ""),
            ("out", "250.50", "749.50", mask_account_number(bob["account"]["number"])),
            ("in", "10.00", "759.50", mask_account_number(bob["account"]["number"])),
        ]
        assert page["movements"][1]["description"] == "三月房租"
        assert page["next_after"] is None

    def test_filters_by_direction_and_amount(
        self, client: TestClient, alice_and_bob: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        alice, _ = alice_and_bob
        incoming = client.get(
            url(alice, "history"),
            headers=alice["headers"],
            params={"direction": "in", "max_amount": "500"},
        ).json()
        assert [m["amount"] for m in incoming["movements"]] == ["10.00"]
        large = client.get(
            url(alice, "history"), headers=alice["headers"], params={"min_amount": "250.50"}
        ).json()
        assert [m["amount"] for m in large["movements"]] == ["1000.00", "250.50"]

    def test_filters_by_period(
        self,
        client: TestClient,
        clock: FrozenClock,
        people: People,
        alice_and_bob: tuple[dict[str, Any], dict[str, Any]],
    ) -> None:
        alice, bob = alice_and_bob
        next_day(clock, people, alice)
        pay(client, alice, bob, "1.00", "tomorrow")
        tomorrow = (TODAY + timedelta(days=1)).isoformat()
        page = client.get(
            url(alice, "history"), headers=alice["headers"], params={"start": tomorrow}
        ).json()
        assert [m["description"] for m in page["movements"]] == ["tomorrow"]
        page = client.get(
            url(alice, "history"), headers=alice["headers"], params={"end": TODAY.isoformat()}
        ).json()
        assert len(page["movements"]) == 3

    def test_pages_follow_the_cursor(
        self, client: TestClient, alice_and_bob: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        alice, _ = alice_and_bob
        seen: list[str] = []
        after = 0
        while True:
            page = client.get(
                url(alice, "history"),
                headers=alice["headers"],
                params={"limit": 2, "after": after},
            ).json()
            seen += [m["balance"] for m in page["movements"]]
            if page["next_after"] is None:
                break
            after = page["next_after"]
        assert seen == ["1000.00", "749.50", "759.50"]

    def test_a_bad_amount_filter_is_a_clear_error(
        self, client: TestClient, alice_and_bob: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        alice, _ = alice_and_bob
        response = client.get(
            url(alice, "history"), headers=alice["headers"], params={"min_amount": "1.234"}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "amount_precision_exceeded"


class TestCsvStatement:
    def test_has_opening_movements_and_closing_rows_that_add_up(
        self, client: TestClient, alice_and_bob: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        alice, bob = alice_and_bob
        response = client.get(
            url(alice, "statement.csv"),
            headers=alice["headers"],
            params={"start": "2026-03-01", "end": TODAY.isoformat()},
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["cache-control"] == "no-store"
        assert alice["account"]["number"] not in response.headers["content-disposition"]
        header, opening, *movements, closing = rows(response)
        assert header == [
            "日期 Date",
            "摘要 Description",
            "对方账户 Counterparty",
            "支出 Debit",
            "收入 Credit",
            "余额 Balance",
        ]
        assert opening == ["2026-03-01", "期初余额 Opening balance", "", "", "", "0.00"]
        masked = mask_account_number(bob["account"]["number"])
        assert [row[1:] for row in movements] == [
            ["转入", "", "", "1000.00", "1000.00"],
            ["三月房租", masked, "250.50", "", "749.50"],
            ["退款", masked, "", "10.00", "759.50"],
        ]
        assert movements[0][0] == "2026-03-02 09:30:00"  # Beijing time
        assert closing == [
            "2026-03-02",
            "期末余额 Closing balance",
            "",
            "250.50",
            "1010.00",
            "759.50",
        ]

    def test_the_opening_balance_is_the_balance_before_the_period(
        self,
        client: TestClient,
        clock: FrozenClock,
        people: People,
        alice_and_bob: tuple[dict[str, Any], dict[str, Any]],
    ) -> None:
        alice, bob = alice_and_bob
        next_day(clock, people, alice)
        pay(client, alice, bob, "9.50", "next day")
        tomorrow = (TODAY + timedelta(days=1)).isoformat()
        _, opening, movement, closing = rows(
            client.get(
                url(alice, "statement.csv"),
                headers=alice["headers"],
                params={"start": tomorrow, "end": tomorrow},
            )
        )
        assert opening[-1] == "759.50"
        assert movement[3:] == ["9.50", "", "750.00"]
        assert closing[-1] == "750.00"

    def test_a_formula_typed_as_a_description_stays_text(
        self, client: TestClient, people: People
    ) -> None:
        alice, bob = people.register(), people.register("李雷")
        people.fund(alice, 10_000)
        pay(client, alice, bob, "1.00", '=HYPERLINK("http://evil.example","x")')
        *_, movement, _ = rows(client.get(url(alice, "statement.csv"), headers=alice["headers"]))
        assert movement[1].startswith("'=HYPERLINK")


class TestPdfStatement:
    def test_is_a_pdf_with_the_masked_number_and_the_chinese_name(
        self, client: TestClient, alice_and_bob: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        alice, _ = alice_and_bob
        response = client.get(url(alice, "statement.pdf"), headers=alice["headers"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")
        reader = PdfReader(io.BytesIO(response.content))
        # pypdf reads the two-byte codes of the embedded CJK font (CFF outlines,
        # custom CMap) with a NUL before each character, where PDF viewers (pdfium
        # tried) extract clean text; compare without NULs and whitespace.
        extracted = "".join(page.extract_text() or "" for page in reader.pages)
        content = "".join(extracted.replace("\x00", "").split())
        number = alice["account"]["number"]
        assert mask_account_number(number) in content
        assert number not in content
        assert "张三" in content
        assert "三月房租" in content
        assert "759.50" in content


class TestCamt053Statement:
    def test_an_enterprise_gets_a_camt053_that_reconciles(
        self, client: TestClient, people: People, clock: FrozenClock
    ) -> None:
        company = register_enterprise(client, people)
        supplier = people.register("李雷")
        people.fund(company, 5_000_000)
        later(clock, minutes=1)
        pay(client, company, supplier, "1234.56", "货款 invoice 42")
        later(clock, minutes=1)
        pay(client, supplier, company, "0.56", "refund")
        response = client.get(url(company, "statement.xml"), headers=company["headers"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")

        camt053_schema().validate(response.content.decode())  # raises on any departure
        document = parse_xml(response.content)
        assert document.tag == f"{{{CAMT053_NAMESPACE}}}Document"
        statement = document.find("c:BkToCstmrStmt/c:Stmt", NS)
        assert statement is not None
        assert document.find("c:BkToCstmrStmt/c:GrpHdr/c:MsgId", NS) is not None
        number = statement.findtext("c:Acct/c:Id/c:Othr/c:Id", namespaces=NS)
        assert number == company["account"]["number"]

        def signed(element: ET.Element) -> Decimal:
            amount = element.find("c:Amt", NS)
            assert amount is not None
            assert amount.get("Ccy") == "CNY"
            sign = {"CRDT": 1, "DBIT": -1}[element.findtext("c:CdtDbtInd", namespaces=NS) or ""]
            return sign * Decimal(amount.text or "")

        balances = {
            b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS): signed(b)
            for b in statement.findall("c:Bal", NS)
        }
        entries = statement.findall("c:Ntry", NS)
        assert [signed(e) for e in entries] == [
            Decimal("50000.00"),
            Decimal("-1234.56"),
            Decimal("0.56"),
        ]
        assert balances["OPBD"] + sum(signed(e) for e in entries) == balances["CLBD"]
        assert balances == {"OPBD": Decimal("0.00"), "CLBD": Decimal("48766.00")}
        for entry in entries:
            assert entry.findtext("c:Sts/c:Cd", namespaces=NS) == "BOOK"
            assert entry.findtext("c:BookgDt/c:DtTm", namespaces=NS)
            assert entry.findtext("c:ValDt/c:Dt", namespaces=NS) == TODAY.isoformat()
            assert (entry.findtext("c:AcctSvcrRef", namespaces=NS) or "").isdigit()
        summary = statement.find("c:TxsSummry", NS)
        assert summary is not None
        assert summary.findtext("c:TtlCdtNtries/c:Sum", namespaces=NS) == "50000.56"
        assert summary.findtext("c:TtlDbtNtries/c:Sum", namespaces=NS) == "1234.56"

    def test_the_entry_reference_is_the_ledger_entry(
        self, client: TestClient, people: People, platform: Platform
    ) -> None:
        company = register_enterprise(client, people)
        people.fund(company, 100)
        document = parse_xml(
            client.get(url(company, "statement.xml"), headers=company["headers"]).content
        )
        reference = document.findtext(".//c:Ntry/c:AcctSvcrRef", namespaces=NS)
        with platform.transaction() as session:
            entry = platform.ledger.entry(session, int(reference or "0"))
        assert entry.client_id == f"fund-{company['account']['number']}-100"

    def test_every_message_has_its_own_id_even_in_the_same_second(
        self, client: TestClient, people: People
    ) -> None:
        company = register_enterprise(client, people)
        people.fund(company, 100)
        fetched = [
            client.get(url(company, "statement.xml"), headers=company["headers"]) for _ in range(3)
        ]  # the clock stands still: the same second, account and period
        ids = [
            parse_xml(r.content).findtext("c:BkToCstmrStmt/c:GrpHdr/c:MsgId", namespaces=NS)
            for r in fetched
        ]
        assert len(set(ids)) == 3, ids
        assert all(i and len(i) <= 35 for i in ids)  # Max35Text
        camt053_schema().validate(fetched[0].content.decode())

    def test_a_person_is_offered_csv_and_pdf_instead(
        self, client: TestClient, people: People
    ) -> None:
        alice = people.register()
        response = client.get(url(alice, "statement.xml"), headers=alice["headers"])
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "camt053_for_enterprises_only"


class TestInterestOnStatements:
    def test_quarterly_interest_is_a_credit_from_the_bank(
        self, client: TestClient, people: People, platform: Platform, clock: FrozenClock
    ) -> None:
        company = register_enterprise(client, people)
        people.fund(company, 36_000_000)  # 360,000.00 yuan: 19 days at 0.05% is 9.50
        interest = InterestService(platform.ledger, clock, load_interest_rates())
        day = TODAY
        while day <= date(2026, 3, 20):
            clock.advance(end_of_business_day(day) - clock.now() + timedelta(minutes=1))
            with platform.transaction() as session:
                interest.run_end_of_day(session, day)
            day += timedelta(days=1)
        login_again(people, company)  # weeks later: the session has expired
        document = parse_xml(
            client.get(
                url(company, "statement.xml"),
                headers=company["headers"],
                params={"start": "2026-03-21", "end": "2026-03-21"},
            ).content
        )
        (entry,) = document.findall(".//c:Ntry", NS)
        assert entry.findtext("c:Amt", namespaces=NS) == "9.50"
        assert entry.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT"
        assert entry.findtext("c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd", namespaces=NS) == "INTR"
        assert entry.find("c:NtryDtls", NS) is None  # the bank itself: no counterparty
        assert "活期存款利息" in (entry.findtext("c:AddtlNtryInf", namespaces=NS) or "")


class TestRefusals:
    @pytest.mark.parametrize("what", ["history", "statement.csv", "statement.pdf", "statement.xml"])
    def test_another_customers_account_looks_like_no_account(
        self,
        client: TestClient,
        alice_and_bob: tuple[dict[str, Any], dict[str, Any]],
        what: str,
    ) -> None:
        alice, bob = alice_and_bob
        theirs = client.get(url(bob, what), headers=alice["headers"])
        missing = client.get(f"{V1}/me/accounts/{NOWHERE}/{what}", headers=alice["headers"])
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json() == missing.json()
        assert theirs.json()["error"]["code"] == "account_not_found"

    def test_nobody_gets_anything_without_logging_in(
        self, client: TestClient, alice_and_bob: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        alice, _ = alice_and_bob
        assert client.get(url(alice, "statement.csv")).status_code == 401

    def test_staff_cannot_download_a_customers_statement(
        self,
        client: TestClient,
        people: People,
        alice_and_bob: tuple[dict[str, Any], dict[str, Any]],
    ) -> None:
        alice, _ = alice_and_bob
        operations = people.staff("operations")
        assert client.get(url(alice, "statement.pdf"), headers=operations).status_code == 403

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            ("2026-03-02", "2026-03-01"),  # ends before it starts
            ("2026-03-01", "2026-03-03"),  # ends in the future
            ("2025-03-01", "2026-03-02"),  # longer than a year
        ],
    )
    def test_a_bad_period_is_a_clear_error(
        self,
        client: TestClient,
        alice_and_bob: tuple[dict[str, Any], dict[str, Any]],
        start: str,
        end: str,
    ) -> None:
        alice, _ = alice_and_bob
        response = client.get(
            url(alice, "statement.csv"),
            headers=alice["headers"],
            params={"start": start, "end": end},
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "statement_period_invalid"

    def test_a_statement_with_too_many_movements_asks_for_a_shorter_period(
        self, platform: Platform, alice_and_bob: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        alice, _ = alice_and_bob
        service = StatementsService(platform.accounts, platform.ledger, platform.clock)
        with platform.transaction() as session, pytest.raises(StatementTooLong):
            service.statement(
                session,
                customer_id=alice["customer_id"],
                number=alice["account"]["number"],
                max_lines=2,
            )
