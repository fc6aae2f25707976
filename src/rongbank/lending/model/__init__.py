"""Credit scorecards: trained from data by a pipeline (``train``), checked by cross
validation (``evaluate``), explained by a report (``report``), and scored in process
from a versioned JSON lookup table (``scorecard``)."""
