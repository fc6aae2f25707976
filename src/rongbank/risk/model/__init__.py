"""The fraud model beside the rules: trained on the bank's labels, scored in process.

:mod:`.data` reads any labelled transaction file, :mod:`.train` fits LightGBM and
its yardstick (logistic regression) on a chronological split, :mod:`.metrics` says
how they fared, :mod:`.artefact` is the shipped model (text files, no pickle).
"""

from rongbank.risk.model.artefact import FraudModel

__all__ = ["FraudModel"]
