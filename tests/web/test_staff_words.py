"""Every word the staff console's pages show is in both languages: a word missing from
the messages renders as nothing (Jinja's default ``Undefined``), so a page would show
an empty button or heading rather than fail. The words named literally are read from
the templates; those put together from a value (``t['merchant_status_' + status]``)
from the values the code can give them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from rongbank import roles
from rongbank.auth.limits import ToolKind
from rongbank.chat import notices
from rongbank.lending import portfolio
from rongbank.lending.schedule import RepaymentMethod
from rongbank.payments.merchants import MerchantRole
from rongbank.web import (
    staff_lending_pages,
    staff_merchant_pages,
    staff_notice_pages,
    staff_pages,
    staff_portfolio_pages,
    staff_share_pages,
)
from rongbank.web.i18n import LANGUAGES, translate

TEMPLATES = Path(staff_pages.__file__).parent / "templates"
PAGES = sorted(TEMPLATES.glob("staff_*.html")) + sorted(TEMPLATES.glob("_staff_*.html"))


def literal_words() -> set[str]:
    words: set[str] = set()
    for page in PAGES:
        source = page.read_text()
        words |= set(
            re.findall(r"\bt\.(?!get\()(\w+)", source)
        )  # t.get(key, fallback) is looked up
        words |= set(re.findall(r"\bt\[['\"](\w+)['\"]\]", source))
    return words


def composed_words() -> set[str]:
    """Each family of words a page composes, with every value it is composed with."""
    families: dict[str, tuple[str, ...]] = {
        "staff_role_": roles.ALL_STAFF,
        "merchant_status_": staff_merchant_pages.STATUSES,
        "role_": tuple(r for r in get_args(MerchantRole) if r != "api"),  # API keys: no login
        "notice_kind_": staff_notice_pages.KINDS,
        "segment_": tuple(notices.SEGMENTS),
        "report_": ("hidden", "dismissed"),
        "tool_": tuple(kind.value for kind in ToolKind),
        "tool_status_": ("active", "blocked", "revoked", "expired"),
        "wealth_state_": ("upcoming", "on_sale", "closed"),
        "work_": ("queues", "alerts", "approvals"),
        "staff_review_": ("open", "approved_once", "approved", "declined"),
        "staff_stage_": ("eligibility", "bureau", "fraud", "scorecard", "pricing"),
        "staff_outcome_": ("pass", "decline", "refer"),
        "credit_method_": tuple(m.value for m in RepaymentMethod),
        "portfolio_category_": portfolio.CATEGORIES,
        "portfolio_bucket_": tuple(staff_portfolio_pages.SLUGS.values()),
        "staff_share_": ("pending", "approved", "declined"),
    }
    words = {prefix + value for prefix, values in families.items() for value in values}
    words |= {work.word for work in staff_pages.WORK}
    words |= {word for _, word, _ in staff_pages.MENU}
    words |= set(staff_merchant_pages.NOTICES.values())
    words |= set(staff_lending_pages.NOTICES.values())
    words |= set(staff_share_pages.NOTICES.values())
    return words


def test_the_templates_are_read() -> None:
    """The reading above finds the words it must (else the test below proves nothing)."""
    assert {"staff_console", "staff_onboard", "staff_hide"} <= literal_words()
    assert len(PAGES) >= 15


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_word_of_the_console_is_in_the_language(lang: str) -> None:
    missing = (literal_words() | composed_words()) - translate(lang).keys()
    assert not missing, sorted(missing)
