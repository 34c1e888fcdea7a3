"""make run's quiet progress (tools/run_progress.py): jobs done of total with the rule, a line
per tenth of the jobs, the full log in a file, the error blocks on failure."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import run_progress  # noqa: E402

LOG = """Building DAG of jobs...
Job stats:
job              count
simulate_arm         8
localrule sample_cohort:
    jobid: 3
    reason: Params have changed since last execution: {'model': {...}}
Finished jobid: 3 (Rule: sample_cohort)
1 of 20 steps (5%) done
rule simulate_arm:
    jobid: 7
Finished jobid: 7 (Rule: simulate_arm)
2 of 20 steps (10%) done
Finished jobid: 8 (Rule: simulate_arm)
3 of 20 steps (15%) done
Finished jobid: 1 (Rule: report)
20 of 20 steps (100%) done
"""


def test_progress_prints_a_line_per_tenth_with_the_rule():
    progress = run_progress.Progress(interactive=False)
    shown = [s for line in LOG.splitlines() if (s := progress.feed(line))]
    assert shown == [
        "[   1/20    5%] sample_cohort",
        "[   2/20   10%] simulate_arm",
        "[  20/20  100%] report",
    ]


def test_a_run_logs_everything_and_prints_little(tmp_path, capsys):
    script = tmp_path / "fake.py"
    script.write_text(f"print({LOG!r})")
    log = tmp_path / "logs" / "run.log"
    assert run_progress.main(["--log", str(log), "--", sys.executable, str(script)]) == 0
    assert "reason: Params have changed" in log.read_text()
    out = capsys.readouterr().out
    assert "reason" not in out and len(out.splitlines()) == 3


def test_a_failure_prints_the_error_block_and_the_log_path(tmp_path, capsys):
    script = tmp_path / "fail.py"
    script.write_text(
        "print('1 of 4 steps (25%) done')\n"
        "print('Error in rule simulate_arm:\\n    jobid: 4\\n    log: logs/x.log')\n"
        "raise SystemExit(1)\n"
    )
    log = tmp_path / "run.log"
    assert run_progress.main(["--log", str(log), "--", sys.executable, str(script)]) == 1
    err = capsys.readouterr().err
    assert "Error in rule simulate_arm" in err and str(log) in err and "exit 1" in err
