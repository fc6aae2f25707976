"""The shipped parser tables are the installed ``rule-engine``'s own: its import then
skips building them (a library whose grammar changed ignores them, slower but right)."""

from __future__ import annotations

import json
import sys
from importlib.resources import files

from rongbank.risk.engine import rule_tables, rules


def test_the_shipped_tables_are_the_librarys_own_and_parse_rules() -> None:
    shipped = json.loads(files("rongbank.risk.engine").joinpath("rule_tables.json").read_text())
    # Fails after an upgrade of rule-engine: rebuild them (see rule_tables).
    assert shipped == json.loads(json.dumps(rule_tables.build()))
    assert sys.modules[rule_tables.MODULE]._lr_signature == shipped["signature"]
    rule = rules.compiled("night and amount >= 100")
    assert rule.matches({"night": True, "amount": 100})
    assert not rule.matches({"night": False, "amount": 100})
