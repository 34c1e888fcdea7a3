"""Replicate trials of the power analysis: allocation, counts and the trial's own tests.

``analyses.power`` defines the method (module docstring); this module draws the replicates and
tests them. Replicates are processed in chunks of ``CHUNK_REPLICATES``: one permutation per
replicate (``rng.make_generator(seed, "power.replicate", r)``), counts of every arm, size and
column by cumulative sums along the arm streams, and the log-rank score and information of
every size and month of a time-to-event endpoint by ``stats.logrank.nested_logrank``. The
count tests (Fisher's exact test, the pooled z-test) run once on all replicates' counts, so
``stats.tests.fisher_exact_ps`` computes every distinct table once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from osteotrial.analyses import vocabulary
from osteotrial.analyses.outcomes import PotentialOutcomes
from osteotrial.arrays import BoolArray, FloatArray, IntArray
from osteotrial.rng import make_generator
from osteotrial.stats.logrank import logrank_p, nested_logrank
from osteotrial.stats.tests import fisher_exact_ps, pooled_z_test
from osteotrial.units import DAYS_PER_MONTH

CHUNK_REPLICATES = 32  # replicates drawn and tested together (memory: ~30 MB per chunk)
COUNT_TESTS = {"fisher": fisher_exact_ps, "pooled_z": pooled_z_test}
TESTS = (*COUNT_TESTS, "logrank")
# The tests of the trial's comparisons table (analyses.endpoints._compare): Fisher's exact test
# of the imaging endpoints (vocabulary.at_imaging), the log-rank test of the time-to-event ones.
IMAGING_TEST = "fisher"
TIME_TO_EVENT_TEST = "logrank"


def column_tests(columns: Sequence[tuple[str, float]], tests: Mapping[str, str] | None = None):
    """Return the test of every (endpoint, month) column: ``tests`` by endpoint, else the trial's.

    The trial's test of an endpoint follows the vocabulary (``vocabulary.at_imaging``), not its
    name. Raises ValueError for an unknown test, or the log-rank test of an imaging endpoint
    (counted at imaging visits, not a time to event).
    """

    def trial_test(endpoint: str) -> str:
        return IMAGING_TEST if vocabulary.at_imaging(endpoint) else TIME_TO_EVENT_TEST

    chosen = tests or {}
    names = tuple(chosen.get(endpoint, trial_test(endpoint)) for endpoint, _ in columns)
    for (endpoint, _), name in zip(columns, names, strict=True):
        if name not in TESTS:
            raise ValueError(f"test {name!r} for {endpoint!r} is unknown; allowed: {TESTS}")
        if name == "logrank" and vocabulary.at_imaging(endpoint):
            raise ValueError(f"{endpoint} is counted at imaging visits: no log-rank test")
    return names


def permutations(n_patients: int, seed: int, replicates: range) -> IntArray:
    """Return one permutation of the patients per replicate r, (len(replicates), n_patients)."""
    return np.stack(
        [make_generator(seed, "power.replicate", r).permutation(n_patients) for r in replicates]
    )


def arm_streams(permutation: IntArray, n_arms: int, n_max: int) -> IntArray:
    """Return rows (n_arms, n_max): arm j gets ``permutation[n_arms * i + j]``, i < n_max."""
    usable = (permutation.size // n_arms) * n_arms
    if n_max > usable // n_arms:
        raise ValueError(
            f"n_per_arm={n_max} is more than the {usable // n_arms} patients per arm of the "
            f"super-cohort ({permutation.size} patients, {n_arms} arms)"
        )
    return permutation[:usable].reshape(-1, n_arms).T[:, :n_max]


def cumulative_counts(matrix: BoolArray, n_grid: IntArray) -> IntArray:
    """Return counts of True in the first n rows of ``matrix`` (..., rows, columns), per n.

    Shape (..., n_sizes, n_columns): one sum per block between sizes, then a cumulative sum.
    """
    starts = np.r_[0, n_grid[:-1]]
    blocks = np.add.reduceat(matrix, starts, axis=-2, dtype=np.int64)
    return np.cumsum(blocks, axis=-2)


def chunk_counts(matrices, permutation_rows: IntArray, sizes: IntArray):
    """Return (n_assessed, n_events), (R, n_arms, n_sizes, n_columns), of replicate trials.

    ``matrices`` holds (defined, event) of every arm in ``outcomes.arms`` order
    (``PotentialOutcomes.outcome_matrices``); one row of ``permutation_rows`` per replicate.
    """
    n_arms, n_max = len(matrices), int(sizes[-1])
    dealt = arm_streams(permutation_rows[0], n_arms, n_max).size  # raises if n_max is too big
    streams = permutation_rows[:, :dealt].reshape(-1, n_max, n_arms)  # (R, position, arm)
    counts = [
        [cumulative_counts(matrix[streams[..., j]], sizes) for matrix in pair]
        for j, pair in enumerate(matrices)
    ]
    return tuple(np.stack([arm[i] for arm in counts], axis=1) for i in range(2))


def replicate_counts(
    outcomes: PotentialOutcomes, n_grid: Sequence[int], replicates: int, seed: int
) -> tuple[IntArray, IntArray]:
    """Return (n_assessed, n_events) of every replicate trial.

    Both have shape (replicates, n_arms, n_sizes, n_columns); arms in ``outcomes.arms`` order,
    sizes in increasing ``n_grid`` order (``analyses.power`` gives the allocation).
    """
    sizes = np.unique(np.asarray(n_grid, dtype=np.int64))
    matrices = [outcomes.outcome_matrices(arm) for arm in outcomes.arms]
    parts = [
        chunk_counts(matrices, permutations(outcomes.patient_id.size, seed, chunk), sizes)
        for chunk in _chunks(replicates)
    ]
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(2))


def _chunks(replicates: int) -> list[range]:
    """Return the replicate indices in chunks of ``CHUNK_REPLICATES``."""
    return [
        range(start, min(start + CHUNK_REPLICATES, replicates))
        for start in range(0, replicates, CHUNK_REPLICATES)
    ]


class Entries(NamedTuple):
    """Patients of two arms who leave the risk set of an endpoint by the last cutoff.

    Sorted by ``leave`` (event or exit day); ``slot``: arm index (``outcomes.arms``) times
    n_patients plus the patient's row (``size_slots``); ``treated``: in the treated arm.
    """

    slot: IntArray
    leave: FloatArray
    event: BoolArray
    treated: BoolArray


def logrank_entries(outcomes, arms: tuple[str, str], endpoint: str, last_day: float) -> Entries:
    """Return the ``Entries`` of (treated, control) ``arms`` for ``endpoint`` by ``last_day``.

    Leave day min(event day, exit day): the event day when the event is observed (before
    exit, ``endpoints.patient_events``), else the exit (censoring); later ones never matter.
    """
    slot, leave, event, treated = [], [], [], []
    for arm in arms:
        event_day, exit_day = outcomes.event_day[arm][endpoint], outcomes.exit_day[arm]
        rows = np.flatnonzero(np.minimum(event_day, exit_day) <= last_day)
        slot.append(outcomes.arms.index(arm) * outcomes.patient_id.size + rows)
        leave.append(np.minimum(event_day, exit_day)[rows])
        event.append(event_day[rows] <= last_day)
        treated.append(np.full(rows.size, arm == arms[0]))
    order = np.argsort(np.concatenate(leave), kind="stable")
    return Entries(*(np.concatenate(values)[order] for values in (slot, leave, event, treated)))


def size_slots(permutation_rows: IntArray, n_arms: int, sizes: IntArray) -> np.ndarray:
    """Return (R, n_arms * n_patients) int8: slot a * n_patients + i holds the first size index
    whose trial has patient i in arm a, ``len(sizes)`` if none.

    The patient at index t of a permutation goes to arm t % n_arms at stream position
    t // n_arms (``arm_streams``); position q is in the trials of sizes n > q.
    """
    n_replicates, n_patients = permutation_rows.shape
    dealt = n_arms * int(sizes[-1])
    t = np.arange(dealt)
    size_index = np.searchsorted(sizes, t // n_arms, side="right")
    slots = np.full((n_replicates, n_arms * n_patients), sizes.size, dtype=np.int8)
    rows = np.arange(n_replicates)[:, np.newaxis]
    slots[rows, (t % n_arms) * n_patients + permutation_rows[:, :dealt]] = size_index
    return slots


def chunk_logrank(entries: Entries, slots: np.ndarray, sizes: IntArray, months) -> FloatArray:
    """Return log-rank p-values (R, n_sizes, n_months) of a chunk of replicates.

    ``slots``: ``size_slots`` of the chunk; ``months``: the cutoffs, in months.
    """
    first = slots[:, entries.slot]
    cutoffs = np.asarray(months, dtype=np.float64) * DAYS_PER_MONTH
    score, information = nested_logrank(
        entries.leave, entries.event, entries.treated, first, sizes, cutoffs
    )
    return logrank_p(score, information)


def replicate_tests(
    outcomes: PotentialOutcomes,
    control_arm: str,
    sizes: IntArray,
    replicates: int,
    seed: int,
    tests: Sequence[str],
):
    """Return (n_assessed, n_events, p_values) of every replicate trial.

    Counts as ``replicate_counts``; ``p_values[arm]`` (replicates, n_sizes, n_columns) of each
    treated arm against ``control_arm``, column k tested by ``tests[k]`` (``column_tests``).
    """
    arms, n_patients = outcomes.arms, outcomes.patient_id.size
    matrices = [outcomes.outcome_matrices(arm) for arm in arms]
    shape = (replicates, sizes.size, len(outcomes.columns))
    p_values = {arm: np.ones(shape) for arm in arms if arm != control_arm}
    logrank = _logrank_columns(outcomes, tests)
    entries = {
        (arm, endpoint): logrank_entries(outcomes, (arm, control_arm), endpoint, days)
        for arm in p_values
        for endpoint, (_, days) in logrank.items()
    }
    counts = []
    for chunk in _chunks(replicates):
        rows = permutations(n_patients, seed, chunk)
        counts.append(chunk_counts(matrices, rows, sizes))
        slots = size_slots(rows, len(arms), sizes)
        for (arm, endpoint), entry in entries.items():
            columns = logrank[endpoint][0]
            months = [outcomes.columns[k][1] for k in columns]
            p = chunk_logrank(entry, slots, sizes, months)
            p_values[arm][chunk.start : chunk.stop, :, columns] = p
    assessed, events = (np.concatenate([part[i] for part in counts]) for i in range(2))
    for arm, p in p_values.items():
        pair = [arms.index(arm), arms.index(control_arm)]
        _count_tests(p, assessed[:, pair], events[:, pair], tests)
    return assessed, events, p_values


def _logrank_columns(outcomes, tests: Sequence[str]) -> dict[str, tuple[list[int], float]]:
    """Return, per endpoint tested by the log-rank test, its columns and last cutoff day."""
    columns: dict[str, list[int]] = {}
    for k, ((endpoint, _), name) in enumerate(zip(outcomes.columns, tests, strict=True)):
        if name == "logrank":
            columns.setdefault(endpoint, []).append(k)
    return {
        endpoint: (ks, max(outcomes.columns[k][1] for k in ks) * DAYS_PER_MONTH)
        for endpoint, ks in columns.items()
    }


def _count_tests(p_values: FloatArray, assessed, events, tests: Sequence[str]) -> None:
    """Fill the columns of ``p_values`` tested on counts; counts are (R, 2, sizes, columns)."""
    for name, test in COUNT_TESTS.items():
        columns = [k for k, chosen in enumerate(tests) if chosen == name]
        if columns:
            x1, n1 = events[:, 0][..., columns], assessed[:, 0][..., columns]
            x0, n0 = events[:, 1][..., columns], assessed[:, 1][..., columns]
            p_values[..., columns] = test(x1, n1, x0, n0)
