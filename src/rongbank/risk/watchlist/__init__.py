"""Watch-list screening: lists imported from CSV, names matched across hanzi and
pinyin (:mod:`.names`), customers and payees screened as accounts announces them
(:mod:`.screening`)."""

from rongbank.risk.watchlist.lists import DEFAULT_THRESHOLD, Match, screen_name

__all__ = ["DEFAULT_THRESHOLD", "Match", "screen_name"]
