"""Rongbank's tests.

One thread per native library in a test process: the suite runs a process per core
(xdist), and LightGBM's OpenMP and the BLAS under numpy and scikit-learn each start
a thread per core by default, which then only fight the other workers (and, on a
shared machine, everyone else) for the cores, spinning while they wait:
``tests/risk/test_model.py`` took 100 s instead of 7 s on the shared machine. Set
here, in the package every test module and ``conftest.py`` is imported under, before
numpy or LightGBM is loaded; a value already in the environment is kept."""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
