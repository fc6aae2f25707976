"""Identity numbers for test customers: well-formed, with real division codes."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from rongbank.accounts.identity import resident_id_check_character

CHAOYANG = "110105"
"""Beijing's Chaoyang district, the division of the GB 11643 example."""

DIVISIONS = (
    CHAOYANG,
    "110103",  # Beijing, Chongwen district: merged into Dongcheng in 2010
    "310115",  # Shanghai, Pudong new area
    "440305",  # Shenzhen, Nanshan district
    "510221",  # Sichuan, Changshou county: part of Chongqing since 1997
    "500101",  # Chongqing, Wanzhou district
    "650102",  # Urumqi, Tianshan district
    "469001",  # Hainan, Wuzhishan city
    "130182",  # Hebei, Gaocheng city: a district of Shijiazhuang since 2014
    "540102",  # Lhasa, Chengguan district
    "810000",  # Hong Kong (residence permits of Hong Kong residents)
)
"""Real GB/T 2260 codes, current and abolished, from every part of the country."""

divisions = st.sampled_from(DIVISIONS)


def resident_id(
    sequence: int = 123, *, birth: date = date(1990, 3, 7), division: str = CHAOYANG
) -> str:
    """A resident identity number with the right check character; ``sequence`` (0 to
    999) tells people born the same day apart, odd for men and even for women."""
    body = f"{division}{birth:%Y%m%d}{sequence:03d}"
    return body + resident_id_check_character(body)
