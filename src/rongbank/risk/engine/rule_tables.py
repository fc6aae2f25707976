"""The ``rule-engine`` parser's tables, built once and shipped (``rule_tables.json``).

The library builds its LALR tables (PLY's ``yacc``) when it is imported, about 0.2 s
of CPU in every process that loads the rules: each API worker, each job. PLY reads
prebuilt tables from the module ``rule_engine.parser.parsetab`` when there is one,
and only when their grammar signature matches its own; :func:`install` provides that
module from the shipped file before the library is imported. A library whose grammar
changed ignores them and builds its tables as before (correct, only slower): rebuild
the file then with ``python -m rongbank.risk.engine.rule_tables``.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
import types
from importlib.resources import files
from pathlib import Path

MODULE = "rule_engine.parser.parsetab"
_FILE = "rule_tables.json"


def install() -> None:
    """Offer the shipped tables to PLY (before ``rule_engine`` is imported)."""
    if MODULE in sys.modules:
        return
    data = json.loads(files(__package__).joinpath(_FILE).read_text())
    tables = types.ModuleType(MODULE)
    tables._tabversion = data["tabversion"]  # type: ignore[attr-defined]
    tables._lr_method = data["method"]  # type: ignore[attr-defined]
    tables._lr_signature = data["signature"]  # type: ignore[attr-defined]
    # JSON keys are strings; PLY's states are numbers.
    tables._lr_action = {int(k): v for k, v in data["action"].items()}  # type: ignore[attr-defined]
    tables._lr_goto = {int(k): v for k, v in data["goto"].items()}  # type: ignore[attr-defined]
    tables._lr_productions = [tuple(p) for p in data["productions"]]  # type: ignore[attr-defined]
    sys.modules[MODULE] = tables


def build() -> dict[str, object]:
    """The tables as the installed library builds them."""
    from rule_engine._vendor.ply import yacc
    from rule_engine.parser import Parser

    parser = Parser.__new__(Parser)  # its grammar, without building it in __init__
    parser.debug, parser.context = False, None
    with tempfile.TemporaryDirectory() as out:
        yacc.yacc(module=parser, write_tables=True, outputdir=out, tabmodule="built_tables")
        sys.path.insert(0, out)
        try:
            built = importlib.import_module("built_tables")
        finally:
            sys.path.remove(out)
            sys.modules.pop("built_tables", None)
    return {
        "tabversion": built._tabversion,
        "method": built._lr_method,
        "signature": built._lr_signature,
        "action": built._lr_action,
        "goto": built._lr_goto,
        "productions": built._lr_productions,
    }


def main() -> None:
    target = Path(__file__).with_name(_FILE)
    target.write_text(json.dumps(build(), separators=(",", ":")) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
