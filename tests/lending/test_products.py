"""The products file: what ships, and the files the loader refuses."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest

from rongbank.lending.errors import (
    AprCeilingExceeded,
    LoanAmountOutOfRange,
    LoanProductNotFound,
    LoanTermNotOffered,
    PersonalCreditCapExceeded,
    ProductFileInvalid,
    RepaymentMethodNotOffered,
)
from rongbank.lending.products import (
    INTERNET_PERSONAL_CAP_FEN,
    Borrower,
    Grade,
    load_products,
)
from rongbank.lending.schedule import RepaymentMethod

SHIPPED = (files("rongbank.lending") / "products.toml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "products.toml"
    path.write_text(text)
    return path


def edited(old: str, new: str, *, count: int = 1) -> str:
    assert SHIPPED.count(old) >= count, old
    return SHIPPED.replace(old, new, count)


class TestShipped:
    def test_the_four_kinds_of_product_are_offered(self):
        products = load_products()
        assert set(products.products) == {
            "personal_credit",
            "yidai",
            "enterprise_operating",
            "merchant_operating",
        }
        assert products.get("yidai").terms == (3, 6, 12, 24)
        assert products.get("merchant_operating").borrower is Borrower.MERCHANT
        assert products.get("enterprise_operating").borrower is Borrower.ENTERPRISE

    def test_amounts_are_fen_and_rates_basis_points(self):
        credit = load_products().get("personal_credit")
        assert (credit.min_amount, credit.max_amount) == (100_000, 20_000_000)
        assert credit.rate(Grade.A) < credit.rate(Grade.E)
        assert credit.review_above == 10_000_000

    def test_the_rules(self):
        products = load_products()
        assert products.apr_ceiling_bps == 2400
        assert products.personal_cap == INTERNET_PERSONAL_CAP_FEN == 20_000_000

    def test_penalty_rate_is_the_apr_and_a_half(self):
        assert load_products().get("yidai").penalty_rate_bps(1303) == 1954

    def test_unknown_product(self):
        with pytest.raises(LoanProductNotFound):
            load_products().get("payday")


class TestRefusedFiles:
    def test_not_toml(self, tmp_path: Path):
        with pytest.raises(ProductFileInvalid, match="not valid TOML"):
            load_products(write(tmp_path, "[rules\n"))

    def test_personal_cap_above_the_law_whatever_the_file_says(self, tmp_path: Path):
        text = edited('personal_cap = "200000.00"', 'personal_cap = "300000.00"')
        with pytest.raises(ProductFileInvalid, match=r"\[rules\] personal_cap.*200000\.00"):
            load_products(write(tmp_path, text))

    def test_consumer_product_above_the_cap(self, tmp_path: Path):
        text = edited('personal_cap = "200000.00"', 'personal_cap = "100000.00"')
        with pytest.raises(ProductFileInvalid, match=r"personal_credit\] max_amount"):
            load_products(write(tmp_path, text))

    def test_a_lower_cap_is_kept(self, tmp_path: Path):
        text = edited('personal_cap = "200000.00"', 'personal_cap = "200000.00"').replace(
            'max_amount = "200000.00"', 'max_amount = "80000.00"'
        )
        text = text.replace('personal_cap = "200000.00"', 'personal_cap = "150000.00"')
        assert load_products(write(tmp_path, text)).personal_cap == 15_000_000

    def test_a_price_whose_apr_passes_the_ceiling_names_grade_and_term(self, tmp_path: Path):
        text = edited("E = 1800", "E = 2500")
        with pytest.raises(ProductFileInvalid, match=r"personal_credit\] rates\.E: APR 2500 bps"):
            load_products(write(tmp_path, text))

    def test_fees_count_towards_the_ceiling(self, tmp_path: Path):
        # 逸贷 charges no interest at all: its 0.6% monthly fee is about 13% APR over 12
        # months. Doubled, the longer terms (a flat fee on a falling principal costs
        # more the longer it runs) pass 24%.
        text = edited("monthly_fee_bps = 60", "monthly_fee_bps = 120")
        with pytest.raises(
            ProductFileInvalid, match=r"yidai\] rates\.A: APR 24\d\d bps at 6 months"
        ):
            load_products(write(tmp_path, text))

    def test_a_lower_ceiling_refuses_the_worst_grades(self, tmp_path: Path):
        text = edited("apr_ceiling_bps = 2400", "apr_ceiling_bps = 1500")
        with pytest.raises(ProductFileInvalid, match=r"rates\.E"):
            load_products(write(tmp_path, text))

    def test_worse_grade_cheaper(self, tmp_path: Path):
        text = edited("D = 1380", "D = 700")
        with pytest.raises(ProductFileInvalid, match="worse grade"):
            load_products(write(tmp_path, text))

    def test_missing_grade(self, tmp_path: Path):
        text = edited(", E = 1800", "")
        with pytest.raises(ProductFileInvalid, match="each grade A to E"):
            load_products(write(tmp_path, text))

    def test_unknown_method(self, tmp_path: Path):
        text = edited('methods = ["equal_principal"]', 'methods = ["balloon"]')
        with pytest.raises(ProductFileInvalid, match=r"yidai\] methods: 'balloon'"):
            load_products(write(tmp_path, text))

    def test_amount_not_in_yuan(self, tmp_path: Path):
        text = edited('min_amount = "600.00"', "min_amount = 600")
        with pytest.raises(ProductFileInvalid, match=r"yidai\] min_amount"):
            load_products(write(tmp_path, text))

    def test_amount_with_too_many_decimals(self, tmp_path: Path):
        text = edited('min_amount = "600.00"', 'min_amount = "600.001"')
        with pytest.raises(ProductFileInvalid, match=r"yidai\] min_amount"):
            load_products(write(tmp_path, text))

    def test_min_above_max(self, tmp_path: Path):
        text = edited('min_amount = "600.00"', 'min_amount = "60000.00"')
        with pytest.raises(ProductFileInvalid, match="at most max_amount"):
            load_products(write(tmp_path, text))

    def test_bad_terms(self, tmp_path: Path):
        text = edited("terms = [3, 6, 12, 24]\n", "terms = [0, 6]\n")
        with pytest.raises(ProductFileInvalid, match=r"yidai\] terms"):
            load_products(write(tmp_path, text))

    def test_only_a_person_borrows_for_consumption(self, tmp_path: Path):
        text = re.sub(
            r'(\[product\.yidai\][^\[]*?)borrower = "person"', r'\1borrower = "merchant"', SHIPPED
        )
        with pytest.raises(ProductFileInvalid, match=r"yidai\] internet_consumer"):
            load_products(write(tmp_path, text))

    def test_no_rules(self, tmp_path: Path):
        text = edited("[rules]\napr_ceiling_bps = 2400\n", "")
        with pytest.raises(ProductFileInvalid, match=r"apr_ceiling_bps|missing table \[rules\]"):
            load_products(write(tmp_path, text))


class TestTerms:
    def test_offered(self):
        load_products().get("yidai").check_terms(
            principal_fen=100_000, term_months=6, method=RepaymentMethod.EQUAL_PRINCIPAL
        )

    @pytest.mark.parametrize(
        ("principal", "term", "method", "error"),
        [
            (59_999, 6, "equal_principal", LoanAmountOutOfRange),
            (5_000_001, 6, "equal_principal", LoanAmountOutOfRange),
            (100_000, 9, "equal_principal", LoanTermNotOffered),
            (100_000, 6, "equal_instalment", RepaymentMethodNotOffered),
        ],
    )
    def test_refused(self, principal: int, term: int, method: str, error: type[Exception]):
        with pytest.raises(error):
            load_products().get("yidai").check_terms(
                principal_fen=principal, term_months=term, method=method
            )

    def test_bullet_only_up_to_a_year(self):
        product = load_products().get("enterprise_operating")
        product.check_terms(principal_fen=1_000_000, term_months=12, method="bullet")
        with pytest.raises(RepaymentMethodNotOffered):
            product.check_terms(principal_fen=1_000_000, term_months=24, method="bullet")


class TestRulesThatHoldWhateverTheFile:
    def test_cap_counts_what_is_outstanding(self):
        products = load_products()
        products.check_personal_cap(outstanding_fen=15_000_000, requested_fen=5_000_000)
        with pytest.raises(PersonalCreditCapExceeded) as refused:
            products.check_personal_cap(outstanding_fen=15_000_000, requested_fen=5_000_001)
        assert refused.value.details == {"limit": "200000.00", "available": "50000.00"}

    def test_apr_ceiling(self):
        products = load_products()
        products.check_apr(2400)
        with pytest.raises(AprCeilingExceeded):
            products.check_apr(2401)
