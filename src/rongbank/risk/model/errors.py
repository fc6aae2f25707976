"""Why a training file is refused: each a clear message, nothing trained or written."""

from __future__ import annotations

from rongbank.errors import InvalidRequest


class TrainingDataInvalid(InvalidRequest):
    code = "training_data_invalid"
    message = "The training file cannot be used."


class ColumnMissing(TrainingDataInvalid):
    code = "column_missing"
    message = "The file has no column of that name."


class LabelNotBinary(TrainingDataInvalid):
    code = "label_not_binary"
    message = (
        "The label column must say fraud or not in one spelling: 1/0, true/false, "
        "yes/no, y/n, t/f, fraud/legit."
    )


class OneClassOnly(TrainingDataInvalid):
    code = "one_class_only"
    message = "The label column has only one class: a model needs fraud and non-fraud rows."


class TooFewRows(TrainingDataInvalid):
    code = "too_few_rows"
    message = "Too few rows (or too few frauds) in a part of the chronological split."


class TimeNotReadable(TrainingDataInvalid):
    code = "time_not_readable"
    message = "The time column must hold numbers or dates."


class ModelArtefactInvalid(InvalidRequest):
    code = "model_artefact_invalid"
    message = "The model folder is not a model this version can load."
