"""Exact sums of float64 values: the same total whatever the grouping of the values.

A sum computed shard by shard and then combined differs in its last bits from the same sum
computed over one array (floating-point addition is not associative), so a table of means would
depend on the number of shards; the project's rule is that it does not. Here a sum is kept
exactly, as an integer count of the smallest float64 step 2^-SCALE_BITS (every finite float64 is
an integer multiple of it): partial sums add exactly, in any order, and the total is rounded to
float64 once, correctly (Python's int / int), at the end.

The values are split vectorized (no Python loop over values): each is m 2^e with an integer
mantissa m < 2^53 (``np.frexp``), m cut into halves of 26 and 27 bits; a float64 sum of such
integers is exact while it stays below 2^53, so ``np.bincount`` over the exponent sums at most
2^26 values exactly per call.
"""

from __future__ import annotations

import numpy as np

SCALE_BITS = 1126  # 2^-1126 divides every float64, subnormals included (frexp's e - 53 >= -1126)
MANTISSA_BITS = 53
LOW_BITS = 26
MAX_BLOCK = 1 << 26  # values per bincount call: 2^26 x 2^27 stays below 2^53
N_EXPONENTS = 2200  # frexp exponents -1073 .. 1024, offset by SCALE_BITS - 53


def exact_sum(values: np.ndarray) -> int:
    """Return the exact sum of finite ``values`` as an integer multiple of 2^-SCALE_BITS."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(flat)):
        raise ValueError("exact_sum takes finite values only")
    total = 0
    for lo in range(0, flat.size, MAX_BLOCK):
        total += _block_sum(flat[lo : lo + MAX_BLOCK])
    return total


def _block_sum(values: np.ndarray) -> int:
    """Return the exact scaled sum of at most MAX_BLOCK values."""
    fraction, exponent = np.frexp(values)
    mantissa = np.ldexp(fraction, MANTISSA_BITS).astype(np.int64)  # exact: |m| < 2^53
    shift = exponent.astype(np.int64) - MANTISSA_BITS + SCALE_BITS  # value = m 2^(shift - SCALE)
    high = (np.abs(mantissa) >> LOW_BITS) * np.sign(mantissa)
    low = mantissa - (high << LOW_BITS)
    sums_high = np.bincount(shift, weights=high.astype(np.float64), minlength=N_EXPONENTS)
    sums_low = np.bincount(shift, weights=low.astype(np.float64), minlength=N_EXPONENTS)
    total = 0
    for k in np.flatnonzero((sums_high != 0.0) | (sums_low != 0.0)):
        total += (int(sums_high[k]) << (int(k) + LOW_BITS)) + (int(sums_low[k]) << int(k))
    return total


def to_float(total: int) -> float:
    """Return the scaled exact sum ``total`` rounded to the nearest float64."""
    return total / (1 << SCALE_BITS)


def encode(total: int) -> str:
    """Return ``total`` as text (hexadecimal), to store an exact sum in a table column."""
    return hex(total)


def decode(text: str) -> int:
    """Return the exact sum that ``encode`` wrote."""
    return int(text, 16)
