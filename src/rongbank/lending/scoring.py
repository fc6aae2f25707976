"""The application scorecard the bank decides with: the artefact the model pipeline
ships (``rongbank/lending/model/application_scorecard.json``), loaded once. Without
it the bank refuses to decide rather than make a score up."""

from __future__ import annotations

import threading
from importlib.resources import files
from pathlib import Path

from rongbank.errors import DomainError
from rongbank.lending.decision import Scorer
from rongbank.lending.model.scorecard import Scorecard


class ScorecardMissing(DomainError):
    code = "lending_scorecard_missing"
    status = 503
    message = (
        "The bank cannot decide credit applications now: its application scorecard is "
        "not installed. Nothing was decided; try again later."
    )
    final = False


def shipped_scorecard() -> Path:
    return Path(str(files("rongbank.lending"))) / "model" / "application_scorecard.json"


class ShippedScorecard:
    """The scorecard at ``path`` (the shipped one by default), loaded on first use
    through the model pipeline's ``Scorecard.load``; :class:`ScorecardMissing` while
    there is none."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._loaded: Scorer | None = None
        self._lock = threading.Lock()

    def scorer(self) -> Scorer:
        with self._lock:
            if self._loaded is None:
                path = self.path or shipped_scorecard()
                if not path.is_file():
                    raise ScorecardMissing(path=path.name)
                self._loaded = Scorecard.load(path)
            return self._loaded
