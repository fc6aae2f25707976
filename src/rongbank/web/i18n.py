"""The web bank's words, in Chinese (the default) and English, read from the gettext
catalogues in ``web/locale`` (``messages.po`` per language; the README's "Languages"
says how developers and translators update, edit and check them).

Each of the pages' words has its old key as message context and the Chinese text as
message id, so a translator sees what to translate while ``{{ t.key }}`` and
``translate(lang)[key]`` keep working: refusals are in context ``error:<code>``, the
regulator's risk levels in ``risk_level``, and words new templates mark with
``_()``/``{% trans %}`` have no context. The ``.po`` files are read at start-up (no
compile step, so a fresh install from a clean clone has them) and compiled in memory.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from rongbank.money import group_digits

LANGUAGES = ("zh", "en")
SOURCE_LANGUAGE = "zh"
"""The language of the msgids: what an untranslated word shows."""
ERROR_CONTEXT = "error:"
LEVEL_CONTEXT = "risk_level"


def read_catalog(lang: str) -> Catalog:
    """A language's catalogue as shipped in the package."""
    source = files("rongbank.web") / "locale" / lang / "LC_MESSAGES" / "messages.po"
    with source.open("rb") as po:
        return read_po(po, locale=lang, ignore_obsolete=True)


def _translations(catalog: Catalog) -> Translations:
    # Fuzzy entries (the Chinese changed since the translation) are used: last week's
    # English on an English page is better than Chinese; a test keeps none shipped.
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=True)
    mo.seek(0)
    return Translations(mo, domain="messages")


def _texts(catalog: Catalog, lang: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The catalogue's words: by key, refusals by code, levels by Chinese name. An
    untranslated word is its Chinese source, as gettext has it, except an untranslated
    refusal: no text, so it shows the error's own (English) message."""
    words: dict[str, str] = {}
    errors: dict[str, str] = {}
    levels: dict[str, str] = {}
    for message in catalog:
        context, source = message.context, message.id
        if not context or not isinstance(source, str):
            continue
        text = str(message.string or "")
        if context.startswith(ERROR_CONTEXT):
            if text or lang == SOURCE_LANGUAGE:
                errors[context.removeprefix(ERROR_CONTEXT)] = text or source
        elif context == LEVEL_CONTEXT:
            levels[source] = text or source
        else:
            words[context] = text or source
    return words, errors, levels


_CATALOGS = {lang: read_catalog(lang) for lang in LANGUAGES}
TRANSLATIONS: Mapping[str, Translations] = MappingProxyType(
    {lang: _translations(catalog) for lang, catalog in _CATALOGS.items()}
)
_LOADED = {lang: _texts(catalog, lang) for lang, catalog in _CATALOGS.items()}

MESSAGES: Mapping[str, dict[str, str]] = MappingProxyType(
    {lang: words for lang, (words, _, _) in _LOADED.items()}
)
"""The pages' words by key, per language (what templates read as ``t``)."""
ERRORS_ZH: Mapping[str, str] = MappingProxyType(_LOADED["zh"][1])
"""Refusals shown on pages in Chinese, by error code."""
ERRORS_EN: Mapping[str, str] = MappingProxyType(_LOADED["en"][1])
"""English texts for refusals whose details the customer needs to see; any other error
shows its own message."""
LEVEL_NAMES_EN: Mapping[str, str] = MappingProxyType(_LOADED["en"][2])
"""The English names of the regulator's risk levels (``wealth.rules``), by their
Chinese names: what products, assessments and chat cards carry."""


def _lang(context: Context) -> str:
    lang = context.get("lang")
    return lang if lang in TRANSLATIONS else "zh"


@pass_context
def _gettext(context: Context, message: str) -> str:
    return TRANSLATIONS[_lang(context)].ugettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return TRANSLATIONS[_lang(context)].ungettext(singular, plural, n)


@pass_context
def _pgettext(context: Context, msgctxt: str, message: str) -> str:
    return TRANSLATIONS[_lang(context)].upgettext(msgctxt, message)


@pass_context
def _npgettext(context: Context, msgctxt: str, singular: str, plural: str, n: int) -> str:
    return TRANSLATIONS[_lang(context)].unpgettext(msgctxt, singular, plural, n)


def install_gettext(env: Environment) -> None:
    """Jinja2's i18n extension on ``env``, its ``_``/``gettext``/``ngettext``/
    ``pgettext`` in the language of the page being rendered (its ``lang``)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
    )


def level_name(label: str, lang: str) -> str:
    """A risk level as a reader of ``lang`` knows it (the template filter ``level``)."""
    return LEVEL_NAMES_EN.get(label, label) if lang == "en" else label


def translate(lang: str) -> dict[str, str]:
    return MESSAGES.get(lang, MESSAGES["zh"])


def error_text(lang: str, code: str, message: str, details: Mapping[str, Any] | None = None) -> str:
    """The refusal in the customer's language, with its details filled in (tool kinds
    named as the customer knows them); the error's own message when there is no text
    for it, or the text needs a detail the error does not carry."""
    template = (ERRORS_ZH if lang == "zh" else ERRORS_EN).get(code)
    if template is None:
        return message
    words = translate(lang)
    tool = {kind: words.get(f"tool_{kind}", kind) for kind in ("sms", "grid_card", "token", "ukey")}
    # Amounts in details are the API's plain decimal text; the page shows them
    # thousands separated, as every amount on it.
    values: dict[str, Any] = {
        key: group_digits(value) if isinstance(value, str) and "." in value else value
        for key, value in (details or {}).items()
    }
    # Waits are counted in seconds; people read them in (whole, rounded-up) minutes.
    for key, value in list(values.items()):
        if key.endswith("_seconds") and isinstance(value, int):
            values[key.removesuffix("_seconds") + "_minutes"] = -(-value // 60)
    if isinstance(values.get("tools"), list):
        values["tools"] = ("、" if lang == "zh" else ", ").join(
            tool.get(str(k), str(k)) for k in values["tools"]
        )
    if isinstance(values.get("remaining"), dict):
        values["remaining"] = "; ".join(
            f"{tool.get(str(k), str(k))} ¥ {group_digits(str(v))}"
            for k, v in values["remaining"].items()
        )
    try:
        return template.format_map(values)
    except (KeyError, IndexError):
        return message
