"""The expected fracture table of a trial's own cohort from exact partial sums: the same table
whatever the shards and chunks (analyses.expected_sums, stats.exact, trial.jobs)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from osteotrial import io
from osteotrial.analyses.expected import event_free, fracture_rows
from osteotrial.analyses.expected_sums import sums_table, table_sums
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm, simulate_strata
from osteotrial.stats import exact
from osteotrial.trial.config import load_config
from osteotrial.trial.jobs import (
    expected_fractures_from_sums,
    simulate_shard,
    trial_expected_fracture_sums,
    trial_expected_fractures,
)

ROOT = Path(__file__).resolve().parents[1]
MONTH = 12.0  # FRAME's last fracture target


def test_exact_sum_is_the_correctly_rounded_sum_whatever_the_grouping():
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [
            rng.random(5000),
            np.exp(rng.normal(0.0, 40.0, 5000)) * rng.choice([-1.0, 1.0], 5000),
            [5e-324, 2.2e-308, 1e308, -1e308, 0.0, -0.0],
        ]
    )
    total = exact.exact_sum(values)
    assert exact.to_float(total) == math.fsum(values)
    parts = np.array_split(rng.permutation(values), 13)
    assert sum(exact.exact_sum(part) for part in parts) == total
    assert exact.decode(exact.encode(total)) == total
    assert exact.exact_sum(np.array([])) == 0
    with pytest.raises(ValueError, match="finite"):
        exact.exact_sum(np.array([1.0, np.nan]))


def small_trial(name: str, n_per_arm: int):
    """Return a trial file at ``n_per_arm`` (chunks of 7: several per arm) and its cohort."""
    trial = load_config(
        name,
        overrides={"n_per_arm": n_per_arm, "schedule": {"chunk_size": 7}},
        config_dir=ROOT / "config",
    )
    spec = CohortSpec.from_dict(trial.cohort_spec)
    return trial, sample_cohort(spec, trial.allocation, trial.seed)


@pytest.fixture(scope="module")
def frame_small():
    """FRAME at 30 women per arm, and its cohort."""
    return small_trial("frame", 30)


def test_expected_fractures_are_the_same_whatever_the_shards_and_chunks(frame_small):
    """Shards of 1, 3 and 4 (chunks of 7) and the whole cohort in one chunk give one table,
    within 1e-12 of the incidences of one array per arm (expected.fracture_rows)."""
    trial, cohort = frame_small
    whole = trial_expected_fractures(cohort, trial, trial.params, MONTH)
    assert whole.height > 0 and whole["time"].max() == MONTH
    one_chunk = dataclasses.replace(
        trial, schedule=dataclasses.replace(trial.schedule, chunk_size=1000)
    )
    for design, n_shards in ((trial, 3), (trial, 4), (one_chunk, 1)):
        parts = [
            sums_table(
                trial_expected_fracture_sums(cohort.select(rows), design, design.params, MONTH)
            )
            for rows in io.shard_blocks(cohort.patient_id, n_shards)
        ]
        table = expected_fractures_from_sums(parts, design, MONTH)
        assert table.to_arrow().equals(whole.to_arrow()), n_shards
    schedule = trial.schedule.until(MONTH)
    results = {
        name: simulate_strata(
            event_free(cohort.select(cohort.arm == name)),
            arm,
            trial.strata,
            trial.seed,
            trial.params,
            schedule,
            record_pk=False,
        )
        for name, arm in trial.arms.items()
    }
    months = (schedule.visit_months, schedule.imaging_months)
    direct = pl.DataFrame(fracture_rows(results, trial.params, trial.control_arm, *months))
    assert direct.select("table", "arm", "endpoint", "time", "statistic").equals(
        whole.select("table", "arm", "endpoint", "time", "statistic")
    )
    np.testing.assert_allclose(whole["value"], direct["value"], rtol=1e-12, atol=0.0)


def test_a_shard_without_an_arm_and_a_trial_without_targets(frame_small):
    """A shard holding one arm only adds nothing to the other; no targets: empty tables."""
    trial, cohort = frame_small
    placebo = cohort.arm == trial.control_arm
    sums = trial_expected_fracture_sums(cohort.select(placebo), trial, trial.params, MONTH)
    assert {arm for arm, _, _ in sums} == {trial.control_arm}
    rest = trial_expected_fracture_sums(cohort.select(~placebo), trial, trial.params, MONTH)
    tables = [sums_table(sums), sums_table(rest)]
    whole = trial_expected_fractures(cohort, trial, trial.params, MONTH)
    assert expected_fractures_from_sums(tables, trial, MONTH).to_arrow().equals(whole.to_arrow())
    assert trial_expected_fracture_sums(cohort, trial, trial.params, 0.0) == {}
    assert expected_fractures_from_sums([], trial, 0.0).height == 0


@pytest.fixture(scope="module")
def glucocorticoid_small():
    """The glucocorticoid trial (strata, glucocorticoid exposure) at 20 per arm."""
    return small_trial("glucocorticoid", 20)


@pytest.fixture(scope="module")
def frame_eventful(frame_small):
    """FRAME at 30 per arm with every threshold a hundredth: nearly every woman fractures (and
    many die) early, so the event-free hazards part from the trial's own."""
    trial, cohort = frame_small
    low = {
        field.name: getattr(cohort, field.name) * 0.01
        for field in dataclasses.fields(cohort)
        if field.name.startswith("threshold_")
    }
    return trial, dataclasses.replace(cohort, **low)


@pytest.mark.parametrize("design", ["frame_small", "frame_eventful", "glucocorticoid_small"])
def test_the_trial_pass_writes_the_event_free_sums_exactly(design, request, tmp_path):
    """simulate_shard's sums from the event-free hazards of the trial's own pass are the very
    integers of a second, event-free simulation, and its simulation file is unchanged (FRAME;
    a trial with strata and a glucocorticoid exposure)."""
    trial, cohort = request.getfixturevalue(design)
    shard = "s000-of-001"
    for arm in trial.arms:
        plain, folded, sums = (tmp_path / f"{arm}_{k}.parquet" for k in ("plain", "folded", "sums"))
        simulate_shard(trial, cohort, arm, trial.params, "randomized", plain, shard)
        simulate_shard(trial, cohort, arm, trial.params, "randomized", folded, shard, sums, MONTH)
        assert pq.read_table(folded).equals(pq.read_table(plain))
        mine = cohort.select(cohort.arm == arm)
        again = trial_expected_fracture_sums(mine, trial, trial.params, MONTH)
        assert table_sums([pq.read_table(sums)]) == again
        if design == "frame_eventful":  # most of the trial's own women had an event by month 12
            table = pq.read_table(plain)  # a row per woman and record day; nan (null): none
            columns = ("death_day", "vertebral_fracture_day_1", "nonvertebral_fracture_day_1")
            first = np.fmin.reduce([table.column(c).to_numpy() for c in columns])
            assert np.mean(first < 365.25) > 0.5
    empty = tmp_path / "empty.parquet"
    simulate_shard(trial, cohort, arm, trial.params, "randomized", plain, shard, empty, 0.0)
    assert pq.read_table(empty).num_rows == 0


def test_event_free_hazards_beyond_the_trial_are_refused(frame_small):
    trial, cohort = frame_small
    arm = trial.arms[trial.control_arm]
    with pytest.raises(ValueError, match="last fracture target must lie within"):
        simulate_arm(
            cohort.select(np.arange(2)),
            arm,
            trial.params,
            trial.schedule,
            False,
            event_free_months=999.0,
        )
