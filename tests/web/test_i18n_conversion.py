"""Temporary: the catalogues hold exactly the words of the Python dictionaries they
replace (read from the commit before the conversion); removed once reviewed."""

import importlib.util
import subprocess
import sys
from pathlib import Path

from rongbank.web import i18n

BEFORE = "a7b90df"


def test_catalogues_hold_the_old_dictionaries_exactly(tmp_path: Path) -> None:
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:src/rongbank/web/i18n.py"],  # noqa: S607
        capture_output=True,
        check=True,
        text=True,
        cwd=Path(__file__).parent,
    ).stdout
    (tmp_path / "old_i18n.py").write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_i18n", tmp_path / "old_i18n.py")
    assert spec
    assert spec.loader
    old = importlib.util.module_from_spec(spec)
    sys.modules["old_i18n"] = old
    spec.loader.exec_module(old)
    for lang in i18n.LANGUAGES:
        assert list(i18n.MESSAGES[lang].items()) == list(old.MESSAGES[lang].items())
    assert dict(i18n.ERRORS_ZH) == old.ERRORS_ZH
    assert dict(i18n.ERRORS_EN) == old.ERRORS_EN
    assert dict(i18n.LEVEL_NAMES_EN) == old.LEVEL_NAMES_EN
