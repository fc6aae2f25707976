"""Identity rules for customer registration, pure: no I/O, no clock.

Three identifiers a 融e行 (direct banking) registration form collects:

- the resident identity number of a person (居民身份证号码, GB 11643-1999);
- the unified social credit code of a company (统一社会信用代码, GB 32100-2015),
  which embeds the older organisation code (组织机构代码, GB 11714-1997);
- a mainland mobile number, to which one-time passwords are sent.

Each ``parse_*`` function takes what a customer typed and returns the canonical
value or raises an :class:`~rongbank.errors.InvalidRequest` subclass with a stable
``code``. The check characters and the division code catch typing mistakes and made-up
numbers only; that the identity is real and belongs to the applicant is verified
elsewhere (public security network check, face comparison).

Identity numbers and mobile numbers are personal information: log and display them
only through :func:`mask_resident_id` and :func:`mask_mobile`. For that reason no
error below carries the number it refused in its details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum import numdb

from rongbank.errors import InvalidRequest

# Customers type on Chinese input methods, which in full-width mode produce
# "１３８…" or "ｘ"; those are the same characters to a person, so they are folded to
# ASCII before any rule looks at the text. Only the full-width forms of ASCII
# (U+FF01..U+FF5E) and the ideographic space are folded: other look-alike digits are
# refused rather than guessed at.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: ord(" ")}


def _half_width(text: str) -> str:
    return text.translate(_HALF_WIDTH)


def _mask(text: str, *, keep_start: int, keep_end: int) -> str:
    """Replace all but the first ``keep_start`` and last ``keep_end`` characters with
    asterisks. Text too short to hide anything is masked entirely, so a truncated or
    malformed number never appears whole in a log."""
    hidden = len(text) - keep_start - keep_end
    if hidden <= 0:
        return "*" * len(text)
    return text[:keep_start] + "*" * hidden + text[len(text) - keep_end :]


# --- Resident identity number (GB 11643-1999) -------------------------------------


class ResidentIdMalformed(InvalidRequest):
    code = "resident_id_malformed"
    message = (
        "A resident identity number has 18 characters: 17 digits, the first of them "
        "1 to 8, followed by a digit or X."
    )


class ResidentIdRegionUnknown(InvalidRequest):
    code = "resident_id_region_unknown"
    message = (
        "The first six digits of the resident identity number are not the code of any "
        "county, city or district (GB/T 2260); please check them for typing mistakes."
    )


class ResidentIdBirthDateInvalid(InvalidRequest):
    code = "resident_id_birth_date_invalid"
    message = "The birth date in the resident identity number is not possible."


class ResidentIdCheckDigitWrong(InvalidRequest):
    code = "resident_id_check_digit_wrong"
    message = (
        "The resident identity number's last character does not match the others; "
        "please check it for typing mistakes."
    )


class CustomerTooYoung(InvalidRequest):
    code = "customer_too_young"
    message = "The customer is too young to open an account online."


class Sex(StrEnum):
    """The sex recorded in a resident identity number by the parity of its sequence."""

    MALE = "male"
    """An odd sequence number (digits 15-17)."""
    FEMALE = "female"
    """An even sequence number (digits 15-17)."""


# The first digit of a division code is the region: 1 North, 2 North-East, 3 East,
# 4 Central-South, 5 South-West, 6 North-West, 7 Taiwan, 8 Hong Kong and Macao.
_RESIDENT_ID = re.compile(r"[1-8][0-9]{16}[0-9X]")
# 2**(18-i) mod 11, i = 1..17
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"  # indexed by the weighted sum mod 11
# No one born before 1900 is alive to register; a date that early is a typing mistake.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def resident_id_check_character(body: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits of a resident
    identity number."""
    total = sum(
        int(digit) * weight for digit, weight in zip(body, _RESIDENT_ID_WEIGHTS, strict=True)
    )
    return _RESIDENT_ID_CHECK[total % 11]


def division_ever_existed(code: str) -> bool:
    """Whether ``code`` is, or once was, the six-digit code of an administrative
    division (GB/T 2260) in any edition since 1980.

    The table is python-stdnum's ``cn/loc``, kept up to date by its maintainers from
    the published lists of the Ministry of Civil Affairs (民政部), abolished codes
    marked with the years they were in use. Codes that no longer exist are accepted
    on purpose: a number keeps the code of where it was first issued, so every
    customer registered in, say, Beijing's Chongwen district (merged away in 2010)
    carries 110103 for life. The years are not compared with the birth date either:
    a number is given at registration, which for people born before the 1980s came
    years after their birth, in divisions that did not exist when they were born.
    """
    return any("county" in props for _, props in numdb.get("cn/loc").info(code))


def _age(birth_date: date, today: date) -> int:
    # A birthday of 29 February is reached on 1 March in common years.
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


@dataclass(frozen=True, repr=False)
class ResidentId:
    """A well-formed resident identity number and what it says about its holder."""

    number: str
    """All 18 characters, a final X in upper case."""
    division_code: str
    """The administrative division (county level, GB/T 2260) where the number was
    first issued; possibly one abolished since."""
    birth_date: date
    sex: Sex

    def age_on(self, today: date) -> int:
        """Full years of age on ``today``."""
        return _age(self.birth_date, today)

    def __repr__(self) -> str:
        # Dataclass reprs end up in logs and tracebacks; show the number masked only.
        return f"ResidentId({mask_resident_id(self.number)!r})"


def parse_resident_id(text: str, *, today: date, minimum_age: int = 16) -> ResidentId:
    """Validate a resident identity number and the holder's age.

    ``today`` is the calendar date in China (Asia/Shanghai): a birthday starts at
    midnight Beijing time, not UTC. Sixteen is the default minimum age because a
    person of sixteen who lives on their own income has full civil capacity (Civil
    Code, article 18).

    The check character is verified before the division code and the birth date,
    so a single mistyped digit is reported as such even when it lands in them. The
    division code must be one that ever existed (:func:`division_ever_existed`). The
    15-digit first-generation numbers are refused as malformed: those cards have not
    been valid since 2013.
    """
    number = _half_width(text).strip().upper()
    if not _RESIDENT_ID.fullmatch(number):
        raise ResidentIdMalformed()
    if resident_id_check_character(number[:17]) != number[17]:
        raise ResidentIdCheckDigitWrong()
    if not division_ever_existed(number[:6]):
        raise ResidentIdRegionUnknown()
    try:
        birth_date = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ResidentIdBirthDateInvalid(reason="not_a_date") from None
    if birth_date < EARLIEST_BIRTH_DATE:
        raise ResidentIdBirthDateInvalid(
            "The birth date in the resident identity number is before 1900.",
            reason="before_1900",
        )
    if birth_date > today:
        raise ResidentIdBirthDateInvalid(
            "The birth date in the resident identity number is in the future.",
            reason="in_future",
        )
    if _age(birth_date, today) < minimum_age:
        raise CustomerTooYoung(
            f"The customer must be at least {minimum_age} years old to open an account online.",
            minimum_age=minimum_age,
        )
    return ResidentId(
        number=number,
        division_code=number[:6],
        birth_date=birth_date,
        sex=Sex.MALE if int(number[14:17]) % 2 else Sex.FEMALE,
    )


def mask_resident_id(number: str) -> str:
    """``11010519491231002X`` -> ``110***********002X``: enough for the customer to
    recognise their number on a page, too little to reveal the birth date."""
    return _mask(number, keep_start=3, keep_end=4)


# --- Unified social credit code (GB 32100-2015) -----------------------------------


class CreditCodeMalformed(InvalidRequest):
    code = "credit_code_malformed"
    message = (
        "A unified social credit code has 18 characters, digits and upper-case "
        "letters other than I, O, Z, S and V, with digits in positions 3 to 8."
    )


class CreditCodeCheckDigitWrong(InvalidRequest):
    code = "credit_code_check_digit_wrong"
    message = (
        "The unified social credit code's last character does not match the others; "
        "please check it for typing mistakes."
    )


# I, O, Z, S and V are left out because they are read as 1, 0, 2, 5 and U.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}")
# 3**i mod 31, i = 0..16
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORGANISATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def credit_code_check_character(body: str) -> str:
    """The GB 32100 check character of the first 17 characters of a credit code."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(body, _CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def organisation_code_check_character(body: str) -> str:
    """The GB 11714 check character of the first 8 characters of an organisation
    code (digits, and letters counting A as 10 to Z as 35)."""
    total = sum(
        int(char, 36) * weight
        for char, weight in zip(body, _ORGANISATION_CODE_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


@dataclass(frozen=True)
class CreditCode:
    """A well-formed unified social credit code of a company or other organisation."""

    code: str
    registration_authority: str
    """Who registered the organisation: 1 establishment administration (organs of
    state), 5 civil affairs, 9 market regulation (companies, sole traders), Y others."""
    organisation_type: str
    """Its kind within that authority: for market regulation 1 enterprise, 2
    individual business, 3 farmers' cooperative."""
    division_code: str
    """The administrative division of the registering office."""


def parse_credit_code(text: str) -> CreditCode:
    """Validate a unified social credit code: its alphabet and layout, its own check
    character, and the check character of the organisation code inside it
    (characters 9-17)."""
    code = _half_width(text).strip().upper()
    if not _CREDIT_CODE.fullmatch(code):
        raise CreditCodeMalformed()
    if credit_code_check_character(code[:17]) != code[17]:
        raise CreditCodeCheckDigitWrong(check="credit_code")
    if organisation_code_check_character(code[8:16]) != code[16]:
        raise CreditCodeCheckDigitWrong(
            "The organisation code inside the unified social credit code (characters 9 "
            "to 17) is not valid; please check it for typing mistakes.",
            check="organisation_code",
        )
    return CreditCode(
        code=code,
        registration_authority=code[0],
        organisation_type=code[1],
        division_code=code[2:8],
    )


# --- Mobile number ------------------------------------------------------------------


class MobileNumberInvalid(InvalidRequest):
    code = "mobile_number_invalid"
    message = "A mobile number has 11 digits starting with 13 to 19, optionally preceded by +86."


# Spaces and hyphens are how people group the digits (138 1234 5678); they carry
# nothing, so they are dropped wherever they appear.
_MOBILE_SEPARATORS = re.compile(r"[ \-]")
_MOBILE = re.compile(r"(?:\+86)?(1[3-9][0-9]{9})")


def parse_mobile(text: str) -> str:
    """The 11 digits of a mainland China mobile number, from ``13812345678``,
    ``+86 138 1234 5678``, ``+8613812345678`` or ``138-1234-5678``."""
    match = _MOBILE.fullmatch(_MOBILE_SEPARATORS.sub("", _half_width(text).strip()))
    if match is None:
        raise MobileNumberInvalid()
    return match.group(1)


def mask_mobile(number: str) -> str:
    """``13812345678`` -> ``138****5678``, as on SMS notices and statements."""
    return _mask(number, keep_start=3, keep_end=4)


def mask_person_name(name: str) -> str:
    """``李小明`` -> ``*小明``: the family name hidden, as banks show the other side
    of a payment, so that it can be recognised, not learnt."""
    name = name.strip()
    return name if len(name) < 2 else "*" + name[1:]
