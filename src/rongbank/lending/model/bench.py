"""Scoring speed in process: CPU time per score of the shipped application scorecard.

    python -m rongbank.lending.model.bench [N]

Applicants are drawn (seeded) across every bin of every feature, missing values and
unseen categories included, so each path of the scorer is taken. CPU time of this
thread (``time.thread_time``), not wall time: the figure holds on a loaded machine.
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

from rongbank.lending.model.scorecard import Scorecard


def applicants(card: Scorecard, n: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)  # noqa: S311 (test inputs, not secrets)
    choices: dict[str, list[object]] = {}
    for f in card.artefact["features"]:
        if f["kind"] == "numeric":
            edges = [b["upper"] for b in f["bins"][:-1]]
            values: list[object] = [e - 0.5 for e in edges] + [edges[-1] + 1 if edges else 0]
        else:
            values = [c for b in f["bins"] for c in b["categories"]] + ["never-seen"]
        choices[f["name"]] = [*values, None]
    return [{k: rng.choice(v) for k, v in choices.items()} for _ in range(n)]


def measure(n: int = 100_000, card: Scorecard | None = None) -> dict[str, Any]:
    card = card or Scorecard.load()
    rows = applicants(card, min(n, 10_000))
    score = card.score
    started = time.thread_time()
    for i in range(n):
        score(rows[i % len(rows)])
    cpu = time.thread_time() - started
    return {
        "scores": n,
        "cpu_s": round(cpu, 4),
        "us_per_score": round(cpu / n * 1e6, 2),
        "model_version": card.model_version,
        "features": len(card.feature_names),
    }


def main(argv: list[str]) -> int:
    counts = [int(a) for a in argv if a.isdigit()]
    report = measure(counts[0] if counts else 100_000)
    if "--json" in argv:
        print(json.dumps(report))
    else:
        print(
            f"{report['us_per_score']} µs/score (CPU), {report['scores']} scores of "
            f"{report['model_version']} ({report['features']} features)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
