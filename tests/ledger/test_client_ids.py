"""Ledger client ids: every namespace is its own, whatever text customers, merchants
or the back office choose."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongbank.ledger.client_ids import (
    CardKey,
    Namespace,
    OccurrenceKey,
    RequestKey,
    check_not_reserved,
    is_reserved,
    request_id,
)
from rongbank.ledger.errors import ClientIdReserved

# What someone outside the bank may choose: any text an API accepts (PostgreSQL text
# holds no NUL), often text that reads like the bank's own ids. Small numbers, so
# that two draws often name the same customer, card or payment.
ids = st.integers(min_value=1, max_value=3)
_LOOKALIKES = [f"{n}:{i}" for n in [*Namespace, "card", "web"] for i in (1, 2)]
chosen = st.one_of(
    st.sampled_from(["1", "2", ":", "1:expire", *_LOOKALIKES]),
    st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=64),
)
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 1, 3))
occurrences = st.builds(OccurrenceKey, ids, days)
keys: st.SearchStrategy[RequestKey] = st.one_of(chosen, ids.map(CardKey), occurrences)


def built(draw: st.DrawFn) -> tuple[tuple[object, ...], str]:
    """An id one of the bank's paths builds, with what it was built from."""
    namespace = draw(st.sampled_from(list(Namespace)))
    if namespace in (Namespace.TRANSFER, Namespace.WEALTH_PURCHASE):
        customer, key = draw(ids), draw(keys)
        return ("customer", namespace, customer, key), request_id(namespace, customer, key)
    parts: tuple[int | str, ...] = {
        Namespace.SYSTEM: ("expire", draw(ids)),
        Namespace.CHAT_CARD: (draw(ids),),
        Namespace.SCHEDULED_TRANSFER: (draw(ids), draw(days).isoformat()),
        Namespace.WEALTH_PAYOUT: (draw(ids), *draw(st.sampled_from([(), ("yield",)]))),
        Namespace.FUNDING: (draw(ids), draw(st.sampled_from(["hold", "void", "post", "credit"]))),
        Namespace.EPAY: (draw(ids),),
        Namespace.EPAY_CAPTURE: (draw(ids),),
        Namespace.EPAY_VOID: (draw(ids),),
        Namespace.EPAY_REFUND: (draw(ids), draw(chosen)),
        Namespace.EPAY_SETTLEMENT: (draw(ids), draw(st.dates()).isoformat()),
        Namespace.INTEREST: (str(draw(ids)), draw(st.dates()).isoformat()),
        Namespace.LOAN: (draw(ids), draw(chosen)),
        Namespace.LOAN_REPAYMENT: (draw(ids), draw(chosen)),
        Namespace.LENDING_EOD: (draw(st.dates()).isoformat(), draw(chosen)),
        Namespace.DEMO: ("fund", str(draw(ids))),
        Namespace.MALL_RELEASE: (draw(ids),),
        Namespace.MALL_CLAWBACK: (
            (draw(ids),)
            if draw(st.booleans())
            else ("settle", draw(ids), draw(st.dates()).isoformat())
        ),
        Namespace.INVEST: (
            draw(st.sampled_from(["trade", "fill", "order"])),
            draw(ids),
            draw(chosen),
        ),
        Namespace.RISK_HOLD: (draw(st.sampled_from(["post", "void"])), draw(ids)),
    }[namespace]
    return (namespace, *parts), namespace.client_id(*parts)


bank_ids = st.composite(built)()


@given(bank_ids, bank_ids)
def test_two_ids_are_equal_only_when_built_from_the_same_things(
    one: tuple[tuple[object, ...], str], other: tuple[tuple[object, ...], str]
) -> None:
    def origin(made: tuple[object, ...]) -> tuple[object, ...]:
        # A card's key names the card's payment, whatever kind of request pays it.
        if made[0] == "customer" and isinstance(made[3], CardKey):
            return ("card", made[3].card_id)
        if made[0] == Namespace.CHAT_CARD:
            return ("card", made[1])
        # A scheduled transfer's date names its payment: the schedule's and the date's.
        if made[0] == "customer" and isinstance(made[3], OccurrenceKey):
            return ("occurrence", made[3].schedule_id, made[3].occurrence.isoformat())
        if made[0] == Namespace.SCHEDULED_TRANSFER:
            return ("occurrence", made[1], made[2])
        return made

    assert (one[1] == other[1]) == (origin(one[0]) == origin(other[0]))


@given(customer=ids, key=chosen, card=ids)
def test_a_customers_own_key_never_names_a_card_or_another_customer(
    customer: int, key: str, card: int
) -> None:
    for namespace in (Namespace.TRANSFER, Namespace.WEALTH_PURCHASE):
        made = request_id(namespace, customer, key)
        assert made == f"{namespace}:{customer}:{key}"  # the form stored ids have
        for cards_key in (f"card:{card}", str(CardKey(card)), str(card)):
            # Even a key written as the card's own reads as the customer's.
            assert request_id(namespace, customer, cards_key) != request_id(
                namespace, customer, CardKey(card)
            )
        assert made != request_id(namespace, customer, CardKey(card))
        assert made != request_id(namespace, customer + 1, key)


@given(bank_ids)
def test_the_back_office_cannot_take_an_id_of_the_banks_paths(made: tuple[object, str]) -> None:
    assert is_reserved(made[1])
    with pytest.raises(ClientIdReserved):
        check_not_reserved(made[1])


@given(st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=128))
def test_the_back_office_keeps_every_other_id(text: str) -> None:
    head, colon, _ = text.partition(":")
    if colon and head in {n.value for n in Namespace}:
        return
    check_not_reserved(text)


def test_the_forms_stored_before_are_kept() -> None:
    assert request_id(Namespace.TRANSFER, 42, "web:ab") == "xfer:42:web:ab"
    assert request_id(Namespace.WEALTH_PURCHASE, 42, "k1") == "wealth:42:k1"
    assert Namespace.EPAY_REFUND.client_id(7, "R:1") == "epay-refund:7:R:1"
    assert Namespace.WEALTH_PAYOUT.client_id(3, "yield") == "wealth-payout:3:yield"
    assert Namespace.INTEREST.client_id("6288", date(2026, 3, 20).isoformat()) == (
        "interest:6288:2026-03-20"
    )
    assert Namespace.SYSTEM.client_id("expire", 9) == "sys:expire:9"
    assert str(CardKey(5)) == "chat-card:5"


@pytest.mark.parametrize("parts", [("a:b", "x"), ("", "x")])
def test_only_the_last_part_may_hold_a_colon(parts: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="last part"):
        Namespace.EPAY_REFUND.client_id(*parts)
