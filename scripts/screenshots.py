"""Make the README's screenshots (docs/screenshots/*.png) from the browser tests'
own flows, so that they show the pages as they are: the tests run in Chinese with
RONGBANK_SCREENSHOTS set, save each page named in a ``view.snap`` at 1280 and 360 px,
and this script reduces them to small palette PNGs.

    .venv/bin/python scripts/screenshots.py

Needs Debian's chromium, as the browser tests do."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
TESTS = [
    "tests/web/test_home_browser.py",
    "tests/web/test_payee_browser.py",
    "tests/web/test_password_browser.py",
    "tests/web/test_staff_browser.py",
]
COLOURS = 96
"""Enough for the site's few colours and its text's anti-aliasing; a page is then a
few tens of kilobytes."""


def main() -> int:
    with tempfile.TemporaryDirectory() as raw:
        env = os.environ | {"RONGBANK_SCREENSHOTS": raw, "RONGBANK_SCREENSHOTS_LANG": "zh"}
        pytest = ["-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={raw}/pytest"]
        run = subprocess.run(  # noqa: S603  # our own tests, by a fixed command
            [sys.executable, *pytest, *TESTS, "-k", "zh- or staff"], cwd=ROOT, env=env, check=False
        )
        if run.returncode:
            return run.returncode
        OUT.mkdir(parents=True, exist_ok=True)
        for old in OUT.glob("*.png"):
            old.unlink()
        for shot in sorted(Path(raw).glob("*.png")):
            image = Image.open(shot).convert("RGB")
            small = image.quantize(colors=COLOURS, dither=Image.Dither.NONE)
            small.save(OUT / shot.name, optimize=True)
            size = (OUT / shot.name).stat().st_size
            print(f"docs/screenshots/{shot.name}: {size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
