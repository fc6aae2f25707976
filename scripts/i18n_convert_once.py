"""One-off: write the web bank's words from the old Python dictionaries of
``rongbank.web.i18n`` into gettext catalogues, exactly (kept in history only; it
needs the dictionaries that this conversion removes).

Scheme: msgctxt = the old key (``error:<code>`` for refusals, ``risk_level`` for the
regulator's level names), msgid = the Chinese text (what a translator translates),
msgstr = the language's text; an English refusal the old dictionary lacked stays
untranslated (empty), so the page falls back to the error's own message, as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from rongbank.web import i18n

LOCALE = Path(i18n.__file__).parent / "locale"
BRACES = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


def entries() -> list[tuple[str, str, str | None]]:
    """(context, Chinese, English or None) in the dictionaries' order."""
    zh, en = i18n.MESSAGES["zh"], i18n.MESSAGES["en"]
    rows: list[tuple[str, str, str | None]] = [(key, zh[key], en[key]) for key in zh]
    rows += [
        (f"error:{code}", text, i18n.ERRORS_EN.get(code)) for code, text in i18n.ERRORS_ZH.items()
    ]
    rows += [("risk_level", zh_name, en_name) for zh_name, en_name in i18n.LEVEL_NAMES_EN.items()]
    return rows


def catalog(lang: str | None) -> Catalog:
    cat = Catalog(
        locale=lang,
        project="Rongbank",
        version="0.1.0",
        copyright_holder="Rongbank",
        msgid_bugs_address="",
        fuzzy=False,
    )
    for context, chinese, english in entries():
        text = {None: "", "zh": chinese, "en": english or ""}[lang]
        flags = ["python-brace-format"] if BRACES.search(chinese) else []
        cat.add(chinese, text, context=context, flags=flags)
    return cat


def main() -> None:
    for lang, path in (
        (None, LOCALE / "messages.pot"),
        ("zh", LOCALE / "zh" / "LC_MESSAGES" / "messages.po"),
        ("en", LOCALE / "en" / "LC_MESSAGES" / "messages.po"),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog(lang), width=0, omit_header=False, sort_output=False)


if __name__ == "__main__":
    main()
