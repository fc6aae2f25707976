"""The pure chat rules: masking, search tokens, cursors, the token bucket, hours."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rongbank.accounts.rules import luhn_check_digit
from rongbank.chat import rules
from tests.factories.identity import resident_id


def card(body: str) -> str:
    return body + luhn_check_digit(body)


class TestMaskSensitive:
    def test_masks_a_luhn_valid_card_number_typed_in_groups(self) -> None:
        number = card("622202123456789012")
        spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        masked = rules.mask_sensitive(f"我的卡号是 {spaced} 谢谢")
        assert number not in masked.text.replace(" ", "")
        assert f"{number[:6]}******{number[-4:]}" in masked.text
        assert masked.found == (rules.CARD,)

    def test_leaves_numbers_that_fail_the_luhn_check(self) -> None:
        number = card("622202123456789012")
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert rules.mask_sensitive(f"订单 {wrong}").found == ()

    def test_masks_a_resident_id_with_a_valid_check_character(self) -> None:
        number = resident_id()
        masked = rules.mask_sensitive(f"身份证{number}")
        assert number not in masked.text
        assert masked.found == (rules.RESIDENT_ID,)

    def test_masks_an_announced_password_but_not_talk_about_passwords(self) -> None:
        assert rules.mask_sensitive("我的密码是Abc12345").text == "我的密码是******"
        assert rules.mask_sensitive("password: hunter22").found == (rules.PASSWORD,)
        assert rules.mask_sensitive("忘记密码怎么办").found == ()

    def test_full_width_digits_are_caught(self) -> None:
        number = card("622202123456789012")
        full_width = "".join(chr(ord(d) + 0xFEE0) for d in number)
        assert rules.mask_sensitive(full_width).found == (rules.CARD,)

    def test_chinese_punctuation_is_kept(self) -> None:
        # Masking must not rewrite what the sender wrote: only the secret changes.
        assert rules.mask_sensitive("您好，在吗？好的！").text == "您好，在吗？好的！"
        masked = rules.mask_sensitive("密码：Abc12345，别告诉别人")
        assert masked.text == "密码：******，别告诉别人"
        assert masked.found == (rules.PASSWORD,)

    @given(st.text(alphabet="0123456789", min_size=15, max_size=18), st.text(max_size=20))
    def test_no_valid_card_number_survives(self, body: str, around: str) -> None:
        number = card(body)
        masked = rules.mask_sensitive(f"{around} {number} {around}")
        assert number not in masked.text


class TestSearchTokens:
    def test_han_runs_give_characters_and_bigrams(self) -> None:
        assert rules.search_tokens("转账失败 OK") == [
            "转",
            "账",
            "失",
            "败",
            "转账",
            "账失",
            "失败",
            "ok",
        ]

    def test_query_needs_every_bigram(self) -> None:
        assert rules.query_tokens("转账失败") == ["转账", "账失", "失败"]
        assert rules.query_tokens("钱") == ["钱"]
        assert rules.query_tokens("  ") == []

    @given(st.text(max_size=30))
    def test_a_text_contains_its_own_query_tokens(self, value: str) -> None:
        assert set(rules.query_tokens(value)) <= set(rules.search_tokens(value))


class TestCursor:
    @given(st.dictionaries(st.integers(1, 10**9), st.integers(1, 10**9), max_size=20))
    def test_round_trips(self, positions: dict[int, int]) -> None:
        assert rules.parse_cursor(rules.format_cursor(positions)) == positions

    def test_rejects_garbage(self) -> None:
        for bad in ("x", "1:", "1:2;3:4", "1:2,", "-1:2"):
            try:
                rules.parse_cursor(bad)
            except rules.CursorInvalid:
                continue
            raise AssertionError(bad)


class TestRefill:
    @given(st.floats(0, 10), st.floats(0, 1000))
    def test_never_exceeds_the_burst(self, tokens: float, elapsed: float) -> None:
        assert rules.refill(tokens, elapsed_seconds=elapsed, per_minute=30, burst=10) <= 10

    def test_refills_at_the_rate(self) -> None:
        assert rules.refill(0, elapsed_seconds=4, per_minute=30, burst=10) == 2


def test_business_hours_follow_beijing_time() -> None:
    hours = rules.BusinessHours()
    assert hours.open_at(datetime(2026, 3, 2, 1, 30, tzinfo=UTC))  # Monday 09:30 Beijing
    assert not hours.open_at(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))  # 18:30
    assert not hours.open_at(datetime(2026, 3, 7, 3, 0, tzinfo=UTC))  # Saturday
