"""Watch lists: imported from CSV, screened against in memory.

A list (sanctions, PEPs, the bank's own...) is imported whole from a CSV file with
the columns ``name``, ``aliases`` (separated by ``;`` or ``|``, may be empty),
``identity_number`` (may be empty or absent), ``source`` and ``date`` (the day the
source listed the name, ``YYYY-MM-DD``, may be empty). Importing a list again
replaces its entries, in one transaction, and gives the list a new ``import_id``.

Each process screens against an :class:`~rongbank.risk.watchlist.names.Index` of
every list, built on first use and rebuilt when any list's ``import_id`` changed
(one small query per screening tells).
"""

from __future__ import annotations

import csv
import io
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.errors import InvalidRequest
from rongbank.risk.watchlist.names import Index, Listed

DEFAULT_THRESHOLD = 90.0
"""The score (0-100) from which a name is a hit (``Settings.risk_screening_threshold``)."""
LIST_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_ALIASES = re.compile(r"[;|]")


class WatchlistFileInvalid(InvalidRequest):
    code = "watchlist_file_invalid"
    message = "The watch-list file cannot be imported."


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    aliases: tuple[str, ...]
    identity_number: str | None
    source: str
    listed_on: date | None


@dataclass(frozen=True, slots=True)
class Match:
    """A screened name found on a watch list."""

    list_name: str
    entry_id: int
    listed_name: str
    """The entry's name as listed."""
    matched: str
    """The name or alias that matched (an alias may be closer than the name)."""
    score: float
    identity_number: str | None


def read_entries(content: str) -> list[Entry]:
    """The entries of a watch-list CSV; refused whole, naming the line, if one is wrong."""
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    columns = {c.strip().lower() for c in reader.fieldnames or ()}
    missing = {"name", "source"} - columns
    if missing:
        raise WatchlistFileInvalid(
            f"The file has no {' or '.join(sorted(missing))} column; it needs name, aliases, "
            "identity_number, source, date.",
            missing=sorted(missing),
        )
    entries = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not row["name"] or not row["source"]:
            raise WatchlistFileInvalid(f"Line {line} has no name or no source.", line=line)
        try:
            listed_on = date.fromisoformat(row["date"]) if row.get("date") else None
        except ValueError:
            raise WatchlistFileInvalid(
                f"Line {line}: the date {row['date']!r} is not YYYY-MM-DD.", line=line
            ) from None
        aliases = tuple(a.strip() for a in _ALIASES.split(row.get("aliases", "")) if a.strip())
        entries.append(
            Entry(
                name=row["name"][:200],
                aliases=aliases,
                identity_number=row.get("identity_number") or None,
                source=row["source"][:200],
                listed_on=listed_on,
            )
        )
    if not entries:
        raise WatchlistFileInvalid("The file has no entries.")
    return entries


def import_list(session: Session, name: str, entries: list[Entry], *, at: datetime) -> int:
    """Replace the list ``name`` with ``entries``; the number imported."""
    if not LIST_NAME.match(name):
        raise WatchlistFileInvalid(
            "A list's name is 1-64 lower-case letters, digits, '.', '_' or '-'.", list=name
        )
    session.execute(
        text(
            "INSERT INTO watchlist (name, import_id, entries, imported_at) "
            "VALUES (:name, :id, :n, :at) ON CONFLICT (name) DO UPDATE SET "
            "import_id = excluded.import_id, entries = excluded.entries, "
            "imported_at = excluded.imported_at"
        ),
        {"name": name, "id": uuid.uuid4(), "n": len(entries), "at": at},
    )
    session.execute(text("DELETE FROM watchlist_entry WHERE list_name = :name"), {"name": name})
    session.execute(
        text(
            "INSERT INTO watchlist_entry (list_name, name, aliases, identity_number, source, "
            "listed_on) VALUES (:list, :name, :aliases, :identity, :source, :listed_on)"
        ),
        [
            {
                "list": name,
                "name": e.name,
                "aliases": list(e.aliases),
                "identity": e.identity_number,
                "source": e.source,
                "listed_on": e.listed_on,
            }
            for e in entries
        ],
    )
    return len(entries)


def _names(session: Session) -> Iterable[tuple[Listed, str]]:
    rows = session.execute(
        text("SELECT id, list_name, name, aliases, identity_number FROM watchlist_entry")
    )
    for entry_id, list_name, name, aliases, identity in rows:
        for each in (name, *aliases):
            yield Listed(int(entry_id), str(list_name), str(name), str(each), identity), str(each)


class _Cached:
    """This process's index, and the lists' import ids it was built from."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.built_from: tuple[tuple[str, str], ...] | None = None
        self.index = Index(())

    def index_for(self, session: Session) -> Index:
        current = tuple(
            (str(n), str(i))
            for n, i in session.execute(
                text("SELECT name, import_id FROM watchlist ORDER BY name")
            ).all()
        )
        with self.lock:
            if current != self.built_from:
                self.index = Index(_names(session))
                self.built_from = current
            return self.index


_CACHE = _Cached()


def screen_name(
    session: Session, name: str, *, threshold: float = DEFAULT_THRESHOLD, limit: int = 10
) -> list[Match]:
    """Entries of any watch list whose name or alias is like ``name`` (score at least
    ``threshold``, 0-100), best first."""
    found = _CACHE.index_for(session).search(name, threshold=threshold, limit=limit)
    return [
        Match(
            list_name=f.listed.list_name,
            entry_id=f.listed.entry_id,
            listed_name=f.listed.name,
            matched=f.listed.matched,
            score=round(f.score, 2),
            identity_number=f.listed.identity_number,
        )
        for f in found
    ]
