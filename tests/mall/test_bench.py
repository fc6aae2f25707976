"""The search benchmark, run small: it loads the catalogue as the service would
have written it and measures every kind of search beside pgbench."""

from __future__ import annotations

import json

from rongbank.mall.catalogue import bench


def test_small_run_loads_searchable_products_and_measures_every_kind() -> None:
    report = bench.run(products=600, shops=3, rounds=2, seconds=1)

    assert report.tokens_match
    assert report.products == 600
    assert 600 <= report.skus <= 1800
    assert report.pgbench.rate > 0
    kinds = {k.kind: k for k in report.kinds}
    assert len(kinds) == 13
    assert all(k.searches >= 2 and 0 < k.p50_ms <= k.p99_ms for k in kinds.values())
    assert report.searches == 2 * 14
    # The words are there: the searches for them find products.
    assert kinds["word"].mean_hits > 0
    assert kinds["word, page 2"].mean_hits > 0  # "手机" is on a second page
    assert kinds["word + department"].mean_hits > 0
    assert kinds["word of every product, page 2"].mean_hits == 20  # ranked past page 1
    data = json.loads(json.dumps(report.to_json()))
    assert data["goal_p99_ms"] == 50
    assert data["sound"] is True
    text = bench.render(report)
    assert "pgbench TPC-B" in text
    assert "p99" in text
