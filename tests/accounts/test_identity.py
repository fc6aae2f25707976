"""Registration identity rules: resident identity numbers, unified social credit
codes and mobile numbers."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.accounts.identity import (
    CREDIT_CODE_ALPHABET,
    CreditCodeCheckDigitWrong,
    CreditCodeMalformed,
    CustomerTooYoung,
    MobileNumberInvalid,
    ResidentIdBirthDateInvalid,
    ResidentIdCheckDigitWrong,
    ResidentIdMalformed,
    ResidentIdRegionUnknown,
    Sex,
    credit_code_check_character,
    mask_mobile,
    mask_resident_id,
    organisation_code_check_character,
    parse_credit_code,
    parse_mobile,
    parse_resident_id,
    resident_id_check_character,
)
from rongbank.errors import InvalidRequest
from tests.factories.identity import divisions, resident_id

TODAY = date(2026, 1, 5)

# The example printed in GB 11643-1999 itself: Beijing Chaoyang district, born
# 31 December 1949, sequence 002 (even: a woman).
STANDARD_EXAMPLE = "11010519491231002X"
# The standard's second example, born 1 January 1880: its check character is right,
# but a customer born before 1900 is refused as a typing mistake.
STANDARD_EXAMPLE_1880 = "440524188001010014"

# Unified social credit codes as printed on business licences and public company
# registers; each was checked against both algorithms, and the last one exercises
# an organisation-code check character of X.
PUBLISHED_CREDIT_CODES = ["91350100M000100Y43", "91110108551385082Q", "9144030071526726XG"]

DIGITS = "0123456789"


def credit_code(body: str) -> str:
    """A credit code from its first 16 characters, both check characters computed."""
    with_organisation_check = body + organisation_code_check_character(body[8:16])
    return with_organisation_check + credit_code_check_character(with_organisation_check)


class TestErrors:
    @pytest.mark.parametrize(
        ("error", "code"),
        [
            (ResidentIdMalformed, "resident_id_malformed"),
            (ResidentIdBirthDateInvalid, "resident_id_birth_date_invalid"),
            (ResidentIdCheckDigitWrong, "resident_id_check_digit_wrong"),
            (ResidentIdRegionUnknown, "resident_id_region_unknown"),
            (CustomerTooYoung, "customer_too_young"),
            (CreditCodeMalformed, "credit_code_malformed"),
            (CreditCodeCheckDigitWrong, "credit_code_check_digit_wrong"),
            (MobileNumberInvalid, "mobile_number_invalid"),
        ],
    )
    def test_each_refusal_is_an_invalid_request_with_a_stable_code(
        self, error: type[InvalidRequest], code: str
    ) -> None:
        assert issubclass(error, InvalidRequest)
        assert error.code == code
        assert error.status == 422
        assert error().to_dict()["code"] == code


class TestParseResidentId:
    def test_reads_the_standards_example(self) -> None:
        parsed = parse_resident_id(STANDARD_EXAMPLE, today=TODAY)

        assert parsed.number == STANDARD_EXAMPLE
        assert parsed.division_code == "110105"
        assert parsed.birth_date == date(1949, 12, 31)
        assert parsed.sex == Sex.FEMALE
        assert parsed.sex.value == "female"
        assert parsed.age_on(TODAY) == 76

    def test_reads_an_odd_sequence_as_male(self) -> None:
        assert parse_resident_id(resident_id(sequence=123), today=TODAY).sex == "male"

    def test_accepts_a_lower_case_x_and_returns_it_upper_case(self) -> None:
        assert parse_resident_id("11010519491231002x", today=TODAY).number == STANDARD_EXAMPLE

    def test_accepts_full_width_characters_and_surrounding_spaces(self) -> None:
        typed = "　１１０１０５１９４９１２３１００２ｘ "

        assert parse_resident_id(typed, today=TODAY).number == STANDARD_EXAMPLE

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "11010519491231002",  # 17 characters
            "11010519491231002X1",  # 19 characters
            "110105491231002",  # a first-generation 15-digit number
            "1101051949123100X2",  # X before the end
            "11010519491231A02X",  # a letter
            "11010519491231 002X",  # a space inside
            "01010519491231002X",  # division codes do not start with 0
            "91010519491231002X",  # nor with 9
            "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X",  # Arabic-Indic digits are not folded
        ],
    )
    def test_refuses_a_malformed_number(self, text: str) -> None:
        with pytest.raises(ResidentIdMalformed) as refused:
            parse_resident_id(text, today=TODAY)

        assert refused.value.code == "resident_id_malformed"

    def test_refuses_a_wrong_check_character(self) -> None:
        with pytest.raises(ResidentIdCheckDigitWrong) as refused:
            parse_resident_id("110105194912310021", today=TODAY)

        assert refused.value.code == "resident_id_check_digit_wrong"

    def test_checks_the_check_character_before_the_birth_date(self) -> None:
        # 13th month: a mistyped digit, reported as such because the sum is wrong.
        with pytest.raises(ResidentIdCheckDigitWrong):
            parse_resident_id("11010519491331002X", today=TODAY)

    @pytest.mark.parametrize(
        ("division", "was"),
        [
            ("110105", "Beijing, Chaoyang district"),
            ("110103", "Beijing, Chongwen district, merged into Dongcheng in 2010"),
            ("510221", "Sichuan, Changshou county, part of Chongqing since 1997"),
            ("440524", "Guangdong, Chaoyang county, 1983 to 1993"),
            ("370000", "Shandong province itself"),
            ("460100", "Haikou city"),
            ("810000", "Hong Kong, on residence permits"),
        ],
    )
    def test_accepts_a_division_code_that_exists_or_once_existed(
        self, division: str, was: str
    ) -> None:
        parsed = parse_resident_id(resident_id(division=division), today=TODAY)

        assert parsed.division_code == division, was

    @pytest.mark.parametrize(
        "division",
        [
            "110199",  # Beijing has no district 99
            "110120",  # nor 20
            "123456",  # Tianjin has no 3456
            "190101",  # there is no province 19
            "710101",  # Taiwan is coded as a whole
            "830000",  # the Taiwan residence permits' code is not a division
        ],
    )
    def test_refuses_a_division_code_that_never_existed(self, division: str) -> None:
        with pytest.raises(ResidentIdRegionUnknown) as refused:
            parse_resident_id(resident_id(division=division), today=TODAY)

        assert refused.value.code == "resident_id_region_unknown"

    def test_checks_the_check_character_before_the_division_code(self) -> None:
        number = resident_id(division="110199")
        mistyped = number[:16] + str((int(number[16]) + 1) % 10) + number[17]

        with pytest.raises(ResidentIdCheckDigitWrong):
            parse_resident_id(mistyped, today=TODAY)

    @pytest.mark.parametrize(
        "birth",
        ["19491331", "19490230", "19490100", "19000229"],  # 1900 was not a leap year
    )
    def test_refuses_a_birth_date_that_does_not_exist(self, birth: str) -> None:
        body = f"110105{birth}002"

        with pytest.raises(ResidentIdBirthDateInvalid) as refused:
            parse_resident_id(body + resident_id_check_character(body), today=TODAY)

        assert refused.value.code == "resident_id_birth_date_invalid"
        assert refused.value.details == {"reason": "not_a_date"}

    def test_refuses_the_standards_1880_example_as_born_before_1900(self) -> None:
        assert resident_id_check_character(STANDARD_EXAMPLE_1880[:17]) == "4"

        with pytest.raises(ResidentIdBirthDateInvalid) as refused:
            parse_resident_id(STANDARD_EXAMPLE_1880, today=TODAY)

        assert refused.value.details == {"reason": "before_1900"}

    def test_accepts_a_birth_date_of_1_january_1900(self) -> None:
        parsed = parse_resident_id(resident_id(birth=date(1900, 1, 1)), today=TODAY)

        assert parsed.birth_date == date(1900, 1, 1)

    def test_refuses_a_birth_date_in_the_future(self) -> None:
        with pytest.raises(ResidentIdBirthDateInvalid) as refused:
            parse_resident_id(resident_id(birth=date(2026, 1, 6)), today=TODAY)

        assert refused.value.details == {"reason": "in_future"}

    def test_refuses_a_customer_born_today_as_too_young(self) -> None:
        with pytest.raises(CustomerTooYoung):
            parse_resident_id(resident_id(birth=TODAY), today=TODAY)

    def test_refuses_a_customer_the_day_before_their_sixteenth_birthday(self) -> None:
        with pytest.raises(CustomerTooYoung) as refused:
            parse_resident_id(resident_id(birth=date(2010, 1, 6)), today=TODAY)

        assert refused.value.code == "customer_too_young"
        assert refused.value.details == {"minimum_age": 16}
        assert "16" in str(refused.value)

    def test_accepts_a_customer_on_their_sixteenth_birthday(self) -> None:
        parsed = parse_resident_id(resident_id(birth=date(2010, 1, 5)), today=TODAY)

        assert parsed.age_on(TODAY) == 16

    def test_applies_the_minimum_age_it_is_given(self) -> None:
        number = resident_id(birth=date(2009, 1, 5))

        assert parse_resident_id(number, today=TODAY, minimum_age=17).age_on(TODAY) == 17
        with pytest.raises(CustomerTooYoung) as refused:
            parse_resident_id(number, today=TODAY, minimum_age=18)
        assert refused.value.details == {"minimum_age": 18}

    def test_does_not_show_the_full_number_in_its_repr(self) -> None:
        parsed = parse_resident_id(STANDARD_EXAMPLE, today=TODAY)

        assert STANDARD_EXAMPLE not in repr(parsed)
        assert "19491231" not in repr(parsed)


class TestAgeOn:
    def test_counts_a_year_only_once_the_birthday_is_reached(self) -> None:
        parsed = parse_resident_id(resident_id(birth=date(1990, 6, 15)), today=TODAY)

        assert parsed.age_on(date(2026, 6, 14)) == 35
        assert parsed.age_on(date(2026, 6, 15)) == 36

    def test_a_29_february_birthday_is_reached_on_1_march_in_common_years(self) -> None:
        parsed = parse_resident_id(resident_id(birth=date(2008, 2, 29)), today=date(2026, 1, 1))

        assert parsed.age_on(date(2026, 2, 28)) == 17
        assert parsed.age_on(date(2026, 3, 1)) == 18
        assert parsed.age_on(date(2028, 2, 29)) == 20


class TestResidentIdProperties:
    birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2010, 1, 5))
    sequences = st.integers(min_value=0, max_value=999)

    @given(division=divisions, birth=birth_dates, sequence=sequences)
    def test_a_body_with_its_computed_check_character_is_accepted(
        self, division: str, birth: date, sequence: int
    ) -> None:
        parsed = parse_resident_id(
            resident_id(sequence, birth=birth, division=division), today=TODAY
        )

        assert parsed.division_code == division
        assert parsed.birth_date == birth
        assert parsed.sex == (Sex.MALE if sequence % 2 else Sex.FEMALE)

    @given(
        division=divisions,
        birth=birth_dates,
        sequence=sequences,
        position=st.integers(min_value=0, max_value=17),
        data=st.data(),
    )
    def test_changing_any_one_character_fails_the_check(
        self, division: str, birth: date, sequence: int, position: int, data: st.DataObject
    ) -> None:
        number = resident_id(sequence, birth=birth, division=division)
        allowed = {0: "12345678", 17: DIGITS + "X"}.get(position, DIGITS)
        replacement = data.draw(st.sampled_from(allowed.replace(number[position], "")))
        changed = number[:position] + replacement + number[position + 1 :]

        with pytest.raises(ResidentIdCheckDigitWrong):
            parse_resident_id(changed, today=TODAY)


class TestMaskResidentId:
    def test_shows_only_the_first_three_and_last_four_characters(self) -> None:
        assert mask_resident_id(STANDARD_EXAMPLE) == "110***********002X"

    @pytest.mark.parametrize("text", ["", "1101", "1101052"])
    def test_masks_text_too_short_to_hide_anything_entirely(self, text: str) -> None:
        assert mask_resident_id(text) == "*" * len(text)


class TestParseCreditCode:
    @pytest.mark.parametrize("code", PUBLISHED_CREDIT_CODES)
    def test_accepts_published_codes(self, code: str) -> None:
        assert parse_credit_code(code).code == code

    def test_reads_the_parts_of_a_code(self) -> None:
        parsed = parse_credit_code("91350100M000100Y43")

        assert parsed.registration_authority == "9"
        assert parsed.organisation_type == "1"
        assert parsed.division_code == "350100"

    def test_computes_the_published_check_characters(self) -> None:
        assert credit_code_check_character("91350100M000100Y4") == "3"
        assert credit_code_check_character("91110108551385082") == "Q"
        assert organisation_code_check_character("M000100Y") == "4"
        assert organisation_code_check_character("71526726") == "X"

    def test_accepts_lower_case_and_full_width_and_surrounding_spaces(self) -> None:
        assert parse_credit_code(" 91110108551385082q ").code == "91110108551385082Q"
        assert (
            parse_credit_code("９１１１０１０８５５１３８５０８２Ｑ").code == "91110108551385082Q"
        )

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "91110108551385082",  # 17 characters
            "91110108551385082Q0",  # 19 characters
            "9111010855138508-Q",  # punctuation
            "91110108551385O82Q",  # O is not in the alphabet
            *(f"911101085513850{letter}2Q" for letter in "IZSV"),
            "9111A108551385082Q",  # the division code is digits only
        ],
    )
    def test_refuses_a_malformed_code(self, text: str) -> None:
        with pytest.raises(CreditCodeMalformed) as refused:
            parse_credit_code(text)

        assert refused.value.code == "credit_code_malformed"

    def test_refuses_a_wrong_check_character(self) -> None:
        with pytest.raises(CreditCodeCheckDigitWrong) as refused:
            parse_credit_code("91110108551385082R")

        assert refused.value.code == "credit_code_check_digit_wrong"
        assert refused.value.details == {"check": "credit_code"}

    def test_refuses_a_wrong_organisation_code_inside_a_correctly_summed_code(self) -> None:
        body = "9111010855138508" + "3"  # organisation code 55138508-3; it is -2
        code = body + credit_code_check_character(body)

        with pytest.raises(CreditCodeCheckDigitWrong) as refused:
            parse_credit_code(code)

        assert refused.value.details == {"check": "organisation_code"}


class TestCreditCodeProperties:
    bodies = st.builds(
        lambda head, division, organisation: head + division + organisation,
        st.text(CREDIT_CODE_ALPHABET, min_size=2, max_size=2),
        st.text(DIGITS, min_size=6, max_size=6),
        st.text(CREDIT_CODE_ALPHABET, min_size=8, max_size=8),
    )

    @given(body=bodies)
    def test_a_body_with_its_computed_check_characters_is_accepted(self, body: str) -> None:
        code = credit_code(body)

        parsed = parse_credit_code(code)

        assert parsed.code == code
        assert parsed.division_code == body[2:8]

    @given(body=bodies, position=st.integers(min_value=0, max_value=17), data=st.data())
    def test_changing_any_one_character_fails_the_check(
        self, body: str, position: int, data: st.DataObject
    ) -> None:
        code = credit_code(body)
        allowed = DIGITS if 2 <= position < 8 else CREDIT_CODE_ALPHABET
        replacement = data.draw(st.sampled_from(allowed.replace(code[position], "")))
        changed = code[:position] + replacement + code[position + 1 :]

        with pytest.raises(CreditCodeCheckDigitWrong):
            parse_credit_code(changed)

    @given(body=bodies, data=st.data())
    def test_a_wrong_organisation_check_character_is_refused_even_when_summed_right(
        self, body: str, data: st.DataObject
    ) -> None:
        right = organisation_code_check_character(body[8:16])
        wrong = data.draw(st.sampled_from(CREDIT_CODE_ALPHABET.replace(right, "")))
        with_wrong_check = body + wrong
        code = with_wrong_check + credit_code_check_character(with_wrong_check)

        with pytest.raises(CreditCodeCheckDigitWrong) as refused:
            parse_credit_code(code)

        assert refused.value.details == {"check": "organisation_code"}


class TestParseMobile:
    @pytest.mark.parametrize(
        "text",
        [
            "13812345678",
            "+86 138 1234 5678",
            "+8613812345678",
            "138-1234-5678",
            "+86-138-1234-5678",
            " 138 1234 5678 ",
            "１３８　１２３４　５６７８",  # typed in full-width mode
        ],
    )
    def test_returns_the_eleven_digits(self, text: str) -> None:
        assert parse_mobile(text) == "13812345678"

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "1381234567",  # 10 digits
            "138123456789",  # 12 digits
            "12812345678",  # no mobile network starts 12
            "23812345678",
            "+85213812345678",  # a Hong Kong prefix
            "8613812345678",  # a country code needs its +
            "+86",
            "138.1234.5678",
            "138l2345678",  # a letter l for a 1
            "(138) 1234 5678",
        ],
    )
    def test_refuses_anything_else(self, text: str) -> None:
        with pytest.raises(MobileNumberInvalid) as refused:
            parse_mobile(text)

        assert refused.value.code == "mobile_number_invalid"

    @given(
        number=st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
        prefix=st.sampled_from(["", "+86", "+86 ", "+86-"]),
        data=st.data(),
    )
    def test_any_grouping_of_a_valid_number_reads_back(
        self, number: str, prefix: str, data: st.DataObject
    ) -> None:
        separators = data.draw(st.lists(st.sampled_from(["", " ", "-"]), min_size=11, max_size=11))
        typed = prefix + "".join(d + s for d, s in zip(number, separators, strict=True))

        assert parse_mobile(typed) == number


class TestMaskMobile:
    def test_shows_only_the_first_three_and_last_four_digits(self) -> None:
        assert mask_mobile("13812345678") == "138****5678"
