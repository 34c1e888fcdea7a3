"""Array type aliases and the axis convention.

Every per-patient attribute is a 1-D array of shape (n_patients,). Every time series is
(n_times, n_patients): time on axis 0, patients on axis 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

TIME_AXIS = 0
PATIENT_AXIS = 1
