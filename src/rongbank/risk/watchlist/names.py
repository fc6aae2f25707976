"""Names compared across scripts: hanzi (simplified or traditional) and pinyin.

Every name becomes one or more **keys**: its syllables in lower-case Latin letters,
run together (张伟, 張偉, "Zhang Wei", "ZHANG  wei" and "zhang-wei" are all
``zhangwei``). pypinyin reads traditional characters as it reads simplified ones, so
no conversion table is needed. A listed name also gets the key with its surname
moved last (``weizhang``: the Western order a foreign list may use) and a key per
reading of a surname read more than one way (曾 is ``zeng`` as a surname, ``ceng``
in words). Two names score :func:`rapidfuzz.fuzz.ratio` of their closest keys
(0-100: one letter changed in a name of eight costs about 12 points).

:class:`Index` keeps every key of every listed name in one list, and screens a name
with :func:`rapidfuzz.process.extract` over it (C++, with a score cut-off): no
blocking by first letter, so a slip in the first letter is still found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

_HANZI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9]+")
MAX_READINGS = 3


def _syllables(name: str) -> list[str]:
    """The name's syllables and Latin words, lower case, without marks or spaces
    (吕, "Lǚ" and "Lü" are all ``lu``)."""
    from pypinyin import Style, lazy_pinyin  # 1-2 s to load: only where names are screened

    text = unicodedata.normalize("NFKC", name).lower()
    words: list[str] = []
    for chunk in lazy_pinyin(text, style=Style.NORMAL, v_to_u=True, errors="default"):
        words.extend(_WORD.findall(_plain(chunk)))
    return words


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _first_readings(name: str) -> list[str]:
    """Every reading of the name's first character when it is a hanzi (its surname)."""
    from pypinyin import Style, pinyin

    stripped = unicodedata.normalize("NFKC", name).strip()
    if not stripped or not _HANZI.match(stripped[0]):
        return []
    readings = pinyin(stripped[0], style=Style.NORMAL, heteronym=True, v_to_u=True)[0]
    plain = dict.fromkeys(_plain(r) for r in readings)
    return [r for r in plain if _WORD.fullmatch(r)][:MAX_READINGS]


def query_keys(name: str) -> list[str]:
    """The keys a name is screened by: as written, with each reading of its surname."""
    words = _syllables(name)
    if not words:
        return []
    keys = ["".join(words)]
    for reading in _first_readings(name):
        keys.append(reading + "".join(words[1:]))
    return list(dict.fromkeys(keys))


def listed_keys(name: str) -> list[str]:
    """The keys a listed name is found by: those of :func:`query_keys`, and each with
    the first word moved last (the surname after the given name)."""
    keys = query_keys(name)
    words = _syllables(name)
    if len(words) > 1:
        rest = "".join(words[1:])
        keys += [rest + key[: len(key) - len(rest)] for key in keys]
    return list(dict.fromkeys(keys))


@dataclass(frozen=True, slots=True)
class Listed:
    """A name on a watch list (or one of its aliases), as the index holds it."""

    entry_id: int
    list_name: str
    name: str
    """The entry's name as listed."""
    matched: str
    """The name or alias whose key matched."""
    identity_number: str | None = None


@dataclass(frozen=True, slots=True)
class Found:
    listed: Listed
    score: float


class Index:
    """Every key of every listed name, searched together. Keys are held once each
    (many names share one: 张伟 and 章伟 are both ``zhangwei``), grouped by length: a
    key much shorter or longer than the name's cannot reach the threshold (ratio is
    at most ``2 * min / (len_a + len_b)``), so those groups are not compared at all."""

    def __init__(self, names: Iterable[tuple[Listed, str]]) -> None:
        """``names``: each listed entry with one of its names (the name, an alias)."""
        self._owners: dict[str, list[Listed]] = {}
        for listed, name in names:
            for key in listed_keys(name):
                self._owners.setdefault(key, []).append(listed)
        by_length: dict[int, list[str]] = {}
        for key in self._owners:
            by_length.setdefault(len(key), []).append(key)
        self._by_length = by_length

    def __len__(self) -> int:
        return len(self._owners)

    def search(self, name: str, *, threshold: float, limit: int = 10) -> list[Found]:
        """Listed entries whose closest key scores at least ``threshold`` against the
        name's, best first, one result per entry."""
        if not self._owners:
            return []  # no list imported: nothing to read the name's pinyin for
        best: dict[int, Found] = {}
        share = threshold / 100
        for key in query_keys(name):
            shortest = len(key) * share / (2 - share)
            longest = len(key) * (2 - share) / share if share else float("inf")
            for length, keys in self._by_length.items():
                if not shortest <= length <= longest:
                    continue
                for found, score, _ in process.extract(
                    key, keys, scorer=fuzz.ratio, score_cutoff=threshold, limit=None
                ):
                    for owner in self._owners[found]:
                        known = best.get(owner.entry_id)
                        if known is None or score > known.score:
                            best[owner.entry_id] = Found(owner, float(score))
        return sorted(best.values(), key=lambda f: (-f.score, f.listed.entry_id))[:limit]


def similarity(a: str, b: str) -> float:
    """How alike two names are (0-100), as screening scores them."""
    keys: Sequence[str] = listed_keys(b)
    return max((fuzz.ratio(k, key) for k in query_keys(a) for key in keys), default=0.0)
