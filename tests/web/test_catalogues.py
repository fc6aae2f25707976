"""The web bank's message catalogues (``web/locale``) are complete and consistent: each
key has its words in Chinese and in English with the same placeholders, nothing waits
for a translator's review, the Chinese catalogue is Chinese, the refusals cover the
codes they covered when the words moved out of Python, the template is current with
the code and templates, and the pages' Jinja2 ``_()``/``{% trans %}`` translate."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rongbank.web import pages
from rongbank.web.i18n import (
    ERRORS_EN,
    ERRORS_ZH,
    LANGUAGES,
    LEVEL_NAMES_EN,
    MESSAGES,
    read_catalog,
    translate,
)
from tests.support.errors import domain_error_codes

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDERS = re.compile(r"\{(\w*)[^{}]*\}")
CHINESE = re.compile(r"[\u3400-\u9fff]")
NOT_CHINESE = {"language": "English: the switch to English, in English"}
"""Chinese texts with no Chinese in them, and why (besides texts of placeholders only)."""

# The refusals the catalogues had words for when they moved out of Python: none may be
# lost (the Chinese for each; English for those whose details the customer needs).
CODES_ZH = frozenset(
    re.findall(
        r"\S+",
        """
account_frozen account_not_accessible account_not_found account_number_invalid
amount_not_positive amount_out_of_range amount_precision_exceeded api_key_not_found
available_balance_exceeded balance_cap_exceeded barcode_limit_exceeded bound_card_limit_reached
card_already_bound card_holder_mismatch card_number_invalid card_refused
certificate_request_invalid challenge_expired challenge_failed challenge_mismatch
challenge_not_found chat_already_reported chat_blocked chat_broadcast_conflict
chat_card_account_required chat_card_amount_required chat_card_expired
chat_card_merchant_not_yours chat_card_no_receiving_account chat_card_not_allowed_here
chat_card_not_for_you chat_card_not_found chat_card_used chat_channel_read_only
chat_conversation_not_found chat_flight_booking_failed chat_flight_search_invalid
chat_flight_unavailable chat_flights_not_offered chat_lookup_rate_limited chat_message_empty
chat_message_not_found chat_message_too_long chat_not_a_contact chat_not_serving
chat_rate_limited chat_reason_required chat_recall_not_allowed chat_recall_window_passed
chat_report_not_found chat_request_not_accepted chat_request_not_yours chat_request_pending
chat_staff_not_found chat_user_not_found chat_with_self clearing_unavailable code_expired
code_not_found csrf_failed current_password_wrong customer_already_registered customer_not_found
customer_too_young daily_limit_exceeded form_field_invalid four_eyes_required grid_card_used_up
history_filter_invalid insufficient_funds invalid_amount last_administrator login_failed
login_locked merchant_already_approved merchant_not_active merchant_not_found
merchant_role_forbidden merchant_user_not_found mobile_number_invalid movement_not_found
new_card_limit_exceeded order_not_payable order_number_conflict own_limit_invalid
own_login_not_deactivatable own_login_not_revocable password_reset_code_missing
password_reset_code_wrong password_reset_expired password_reset_too_frequent password_unchanged
payee_already_saved payee_limit_reached payee_name_invalid payee_not_found payment_not_found
payment_refused_risk receipt_not_found refund_exceeds_merchant_funds refund_exceeds_payment
refund_number_conflict resident_id_birth_date_invalid resident_id_check_digit_wrong
resident_id_malformed resident_id_region_unknown response_missing same_account
schedule_date_invalid schedule_invalid scheduled_transfer_not_found scheduled_transfer_over
session_not_found settlement_account_invalid settlement_day_open settlement_not_found
staff_customer_not_served staff_not_found statement_period_invalid statement_too_long
stronger_tool_required tool_blocked tool_limit_exceeded tool_not_active tool_not_found
tool_not_held tool_not_revocable username_taken weak_password wealth_amount_below_minimum
wealth_amount_not_in_steps wealth_assessment_answers_invalid wealth_assessment_not_found
wealth_assessment_required wealth_assessment_too_frequent wealth_holding_not_found
wealth_not_redeemable wealth_product_code_taken wealth_product_invalid wealth_product_not_found
wealth_product_not_on_sale wealth_redemption_conflict wealth_redemption_exceeds_holding
wealth_risk_level_exceeded yearly_limit_exceeded
""",
    )
)
CODES_EN = frozenset(
    re.findall(
        r"\S+",
        """
available_balance_exceeded barcode_limit_exceeded current_password_wrong history_filter_invalid
login_failed login_locked merchant_role_forbidden movement_not_found new_card_limit_exceeded
own_limit_invalid password_reset_code_wrong password_reset_too_frequent payee_limit_reached
payee_name_invalid refund_exceeds_merchant_funds refund_exceeds_payment response_missing
same_account stronger_tool_required tool_limit_exceeded wealth_assessment_too_frequent
wealth_redemption_exceeds_holding wealth_risk_level_exceeded
""",
    )
)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_entry_has_its_words_and_none_waits_for_review(lang: str) -> None:
    catalog = read_catalog(lang)
    empty = [m.context for m in catalog if m.id and not m.string and m.context is not None]
    fuzzy = [f"{m.context} {m.id}" for m in catalog if m.id and m.fuzzy]
    if lang == "en":  # a refusal without English shows the error's own (English) message
        empty = [c for c in empty if not c.startswith("error:")]
    assert empty == []
    assert fuzzy == []
    assert MESSAGES[lang].keys() == MESSAGES["zh"].keys()
    assert len(MESSAGES[lang]) > 700
    assert all(MESSAGES[lang].values())


def test_placeholders_match_between_the_languages() -> None:
    def names(text: str) -> set[str]:
        return set(PLACEHOLDERS.findall(text))

    words = [(k, MESSAGES["zh"][k], en) for k, en in MESSAGES["en"].items()]
    words += [(f"error:{c}", ERRORS_ZH[c], en) for c, en in ERRORS_EN.items()]
    words += [("risk_level", zh, en) for zh, en in LEVEL_NAMES_EN.items()]
    assert [key for key, zh, en in words if names(zh) != names(en)] == []
    assert names(MESSAGES["en"]["previous_login"]) == {"at"}  # the check reads them
    for lang in LANGUAGES:  # and each translation has its source's placeholders
        catalog = read_catalog(lang)
        wrong = [m.context for m in catalog if m.string and names(m.id) != names(m.string)]
        assert wrong == [], lang


def test_the_chinese_catalogue_is_chinese() -> None:
    """An English text pasted into the Chinese catalogue would show on Chinese pages."""
    texts = {**MESSAGES["zh"], **{f"error:{c}": t for c, t in ERRORS_ZH.items()}}
    foreign = [
        key
        for key, text in texts.items()
        if key not in NOT_CHINESE
        and not CHINESE.search(text)
        and re.search("[A-Za-z]", PLACEHOLDERS.sub("", text))
    ]
    assert foreign == []


def test_the_refusals_cover_the_codes_they_did() -> None:
    assert ERRORS_ZH.keys() >= CODES_ZH
    assert ERRORS_EN.keys() >= CODES_EN
    assert ERRORS_EN.keys() <= ERRORS_ZH.keys()
    assert (ERRORS_ZH.keys() | ERRORS_EN.keys()) <= domain_error_codes()


def test_the_template_and_catalogues_are_current() -> None:
    """``scripts/i18n_update.py --check``: the .pot holds every key's Chinese and every
    word marked in the code and templates, and both .po files follow it."""
    run = subprocess.run(
        [sys.executable, "scripts/i18n_update.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(
    ("lang", "shown"),
    [("zh", "登录 我的账户 登录 登录 3 笔"), ("en", "Log in My accounts 登录 Log in 3 笔")],
)
def test_templates_translate_with_jinja2_i18n(lang: str, shown: str) -> None:
    """The pages' environment has Jinja2's i18n extension, in the page's language: a
    keyed word by its context, a word without one falls back to its Chinese source."""
    page = pages.templates.env.from_string(
        "{{ pgettext('login', '登录') }} {{ t.accounts }} {{ _('登录') }}"
        " {% trans 'login' %}登录{% endtrans %}"
        " {% trans count=3 %}{{ count }} 笔{% pluralize %}{{ count }} 笔{% endtrans %}"
    )
    assert page.render(lang=lang, t=translate(lang)) == shown


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_word_is_keyed(lang: str) -> None:
    """One way to write a page's word: ``t.key`` (msgctxt = key, msgid = Chinese).
    A context-less ``_("中文")`` is a second way that ``translate(lang)`` never sees."""
    unkeyed = [m.id for m in read_catalog(lang) if m.id and not m.context]
    assert unkeyed == []


def test_an_unknown_language_reads_chinese() -> None:
    assert translate("fr") is MESSAGES["zh"]
