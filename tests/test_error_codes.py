"""A refusal's code names one refusal: the pages and API clients translate and act
on the code, so two classes with one code and different messages show one of them
wrongly."""

from __future__ import annotations

from tests.support.errors import domain_errors

# Shared before this test, each in two domains with different words: to be given one
# class or a code each by their owners (reported with issue 20's follow-ups).
KNOWN = frozenset({"client_id_required", "same_account", "training_data_invalid"})


def test_a_code_names_one_refusal() -> None:
    messages: dict[str, dict[str, str]] = {}
    for kind in domain_errors():
        if "code" in vars(kind):  # a subclass that keeps its parent's code is the same refusal
            name = f"{kind.__module__}.{kind.__qualname__}"
            messages.setdefault(kind.code, {})[name] = kind.message
    shared = {
        code: m for code, m in messages.items() if len(set(m.values())) > 1 and code not in KNOWN
    }
    assert shared == {}
