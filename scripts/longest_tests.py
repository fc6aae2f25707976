"""Write ``tests/longest.txt``, the test modules that take longest, from a run's JUnit
XML: the suite starts them first, so that xdist's workers finish together
(``tests/conftest.py``, ``pytest_collection_modifyitems``).

    python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --junitxml=run.xml
    python scripts/longest_tests.py run.xml [more.xml ...]

Each module's time is the sum of its tests' setup, call and teardown. Rerun it after
a full run on a quiet machine when modules have grown; a stale file costs only
balance, never a test."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

KEEP = 60
OUT = Path(__file__).resolve().parent.parent / "tests" / "longest.txt"


def module_of(classname: str) -> str:
    """``tests.risk.test_model.TestAnyFile`` -> ``tests/risk/test_model.py``."""
    parts: list[str] = []
    for part in classname.split("."):
        parts.append(part)
        if part.startswith("test_"):
            break
    return "/".join(parts) + ".py"


def main(paths: list[str]) -> None:
    seconds: Counter[str] = Counter()
    for path in paths:
        for case in ET.parse(path).iter("testcase"):  # noqa: S314  # our own run's file
            seconds[module_of(case.get("classname", ""))] += float(case.get("time", 0))
    lines = [f"{took:.1f} {module}" for module, took in seconds.most_common(KEEP)]
    header = "# seconds module: written by scripts/longest_tests.py from a run's --junitxml\n"
    OUT.write_text(header + "\n".join(lines) + "\n")
    print(f"{OUT}: {len(lines)} modules")


if __name__ == "__main__":
    main(sys.argv[1:])
