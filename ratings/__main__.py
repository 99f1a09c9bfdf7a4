"""``python -m ratings`` runs the command line."""

from __future__ import annotations

import os
import sys

# Every matrix here is at most models × models, far too small for BLAS threads to help, and
# OpenBLAS's spinning threads fight the bootstrap's own workers: on 2 busy cores a 100×100
# pseudo-inverse took 0.13 s with them and 1 ms without. Must be set before numpy loads
# (``import ratings`` does not load it); an explicit setting in the environment wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from ratings.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
