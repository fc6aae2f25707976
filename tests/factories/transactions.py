"""Labelled transaction files made up for the fraud model's tests: numbers,
categories, missing values, dates, and a label that depends on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

CHANNELS = ("web", "app", "counter", "atm")
RISKY = "crypto"
MERCHANTS = ("grocery", "travel", "games", RISKY)


def transactions(
    rows: int = 4000, *, seed: int = 1, label: tuple[str, str] = ("yes", "no")
) -> pd.DataFrame:
    """Card payments over 30 days, in no particular order. Fraud is likelier for large
    amounts, at night, for the risky merchant kind and on new devices; some values
    are missing (device age, channel), as they are in real files."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    seconds = rng.uniform(0, 30 * 86400, rows)
    amount = np.round(rng.lognormal(4, 1.2, rows), 2)
    hour = (seconds % 86400) // 3600
    merchant = rng.choice(MERCHANTS, rows, p=(0.5, 0.25, 0.2, 0.05))
    device_days = rng.exponential(200, rows)
    logit = (
        -4.0
        + 0.8 * (np.log(amount) - 4)
        + 1.5 * (hour < 5)
        + 2.5 * (merchant == RISKY)
        + 1.5 * (device_days < 3)
    )
    fraud = rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "txn_time": [(start + timedelta(seconds=float(s))).isoformat() for s in seconds],
            "amount": amount,
            "merchant_kind": merchant,
            "channel": rng.choice(CHANNELS, rows),
            "device_age_days": device_days,
            "is_fraud": np.where(fraud, label[0], label[1]),
        }
    )
    frame.loc[rng.uniform(size=rows) < 0.1, "device_age_days"] = np.nan
    frame.loc[rng.uniform(size=rows) < 0.05, "channel"] = None
    return frame
