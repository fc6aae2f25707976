"""The model pipeline's refusals, each with a stable code."""

from __future__ import annotations

from rongbank.errors import InvalidRequest


class ProtectedAttributeRefused(InvalidRequest):
    code = "protected_attribute_refused"
    message = (
        "A protected attribute (sex, gender, ethnicity, race, religion, marital status) "
        "never enters a credit model."
    )


class TrainingDataInvalid(InvalidRequest):
    code = "training_data_invalid"
    message = "The data cannot train or evaluate a scorecard."


class ScorecardInvalid(InvalidRequest):
    code = "scorecard_invalid"
    message = "The scorecard file is not a valid scorecard."


class FeatureValueInvalid(InvalidRequest):
    code = "feature_value_invalid"
    message = "A feature's value is neither missing nor of the feature's kind."
