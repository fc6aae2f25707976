"""Regenerate the web bank's message template and bring both catalogues up to date.

    python scripts/i18n_update.py           # rewrite messages.pot and the two .po files
    python scripts/i18n_update.py --check   # change nothing; exit 1 if they are stale

The template (``web/locale/messages.pot``) holds every word to translate: the pages'
keyed words with their Chinese text (msgctxt = key, msgid = the Chinese text, which
developers write in ``zh/LC_MESSAGES/messages.po``: Chinese is the source language)
and the words marked with ``_()``/``{% trans %}`` in the code and templates
(``babel.cfg``). Each language's ``.po`` then gets new words (empty in English, for
the translator), loses words no longer used, and keeps its translations; where the
Chinese of a key changed, the English is kept but marked fuzzy, with the old Chinese
beside it, for the translator to review (a test keeps fuzzy and empty ones out).
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "src" / "rongbank" / "web" / "locale"
TEMPLATE = LOCALE / "messages.pot"
LANGUAGES = ("zh", "en")
SOURCE = "zh"
BRACES = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
# Header lines that change on every run, whatever the words: not a reason to rewrite.
VOLATILE = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date|Generated-By): .*$', re.M)


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "messages.po"


def read(path: Path, lang: str | None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=lang, ignore_obsolete=True)


def flags_for(msgid: str) -> list[str]:
    return ["python-brace-format"] if BRACES.search(msgid) else []


def build_template(source: Catalog) -> Catalog:
    template = Catalog(project="Rongbank", copyright_holder="Rongbank", fuzzy=False)
    if TEMPLATE.exists():
        existing = read(TEMPLATE, None)
        template.mime_headers = existing.mime_headers
        template.header_comment = existing.header_comment
    for message in source:
        if message.id and message.context:
            # A key's Chinese is its zh text (the msgid when that is left empty).
            text = str(message.string or message.id)
            template.add(text, context=message.context, flags=flags_for(text))
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    for filename, lineno, msgid, comments, context in extract_from_dir(
        ROOT, method_map, options_map, comment_tags=("TRANSLATORS:",), strip_comment_tags=True
    ):
        first = msgid if isinstance(msgid, str) else msgid[0]
        template.add(
            msgid,
            locations=[(filename, lineno)],
            auto_comments=comments,
            context=context,
            flags=flags_for(first),
        )
    return template


def merge(template: Catalog, old: Catalog, lang: str) -> Catalog:
    """``old``'s translations for the template's words (see the module's text)."""
    new = Catalog(locale=lang, fuzzy=False)
    new.mime_headers = old.mime_headers
    new.header_comment = old.header_comment
    by_context = {m.context: m for m in old if m.id and m.context}
    for word in template:
        if not word.id:
            continue
        kept = old.get(word.id, word.context)
        message = Message(
            word.id,
            "",
            locations=word.locations,
            flags=word.flags,
            auto_comments=word.auto_comments,
            context=word.context,
        )
        if kept is not None:
            message.string = kept.string
            message.user_comments = kept.user_comments
            message.flags |= kept.flags & {"fuzzy"}
        elif word.context in by_context and lang != SOURCE:
            changed = by_context[word.context]
            message.string = changed.string
            message.previous_id = [changed.id] if isinstance(changed.id, str) else changed.id
            message.flags.add("fuzzy")
        if lang == SOURCE and not message.string:
            message.string = word.id
        new[word.id] = message
    return new


def render(catalog: Catalog, path: Path) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=0, include_lineno=False, include_previous=True, sort_output=False)
    rendered = out.getvalue()
    if path.exists():
        # Unchanged words keep the dates they were written with.
        before = path.read_bytes()
        same = VOLATILE.sub(b"", rendered) == VOLATILE.sub(b"", before)
        return before if same else rendered
    return rendered


def main(argv: list[str]) -> int:
    check = "--check" in argv
    catalogs = {lang: read(po_path(lang), lang) for lang in LANGUAGES}
    template = build_template(catalogs[SOURCE])
    outputs = {TEMPLATE: render(template, TEMPLATE)}
    for lang, old in catalogs.items():
        merged = merge(template, old, lang)
        kept = {(w.context, w.id if w.context is None else "") for w in merged if w.id}
        for m in old:
            if m.id and (m.context, m.id if m.context is None else "") not in kept:
                print(f"{lang}: dropped, no longer used: {m.context or ''} {m.id}")
        outputs[po_path(lang)] = render(merged, po_path(lang))
    stale = [
        path for path, data in outputs.items() if not path.exists() or path.read_bytes() != data
    ]
    for path in stale:
        print(f"{'stale' if check else 'updated'}: {path.relative_to(ROOT)}")
        if not check:
            path.write_bytes(outputs[path])
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
