"""Run snakemake quietly: one progress line per tenth of the jobs, the full log in a file.

``make run`` used to print about 100 KB of job blocks (and the whole config twice after a
config change). This wrapper runs the snakemake command it is given, writes everything
snakemake prints to ``--log`` (snakemake keeps its own copy in ``.snakemake/log/`` too), and
prints only:

- ``[  12/56  21%] simulate_arm`` lines: jobs done of total and the rule of the job that just
  finished, at most one per tenth of the jobs (on a terminal, one line kept up to date);
- on failure, the error blocks of the log and its path, and snakemake's exit status.

Usage: ``python tools/run_progress.py --log logs/frame/snakemake.log -- snakemake ...``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

DONE = re.compile(r"^(\d+) of (\d+) steps \((\d+)%\) done")
RULE = re.compile(r"^(?:local)?rule (\w+):")
FINISHED = re.compile(r"^Finished jobid: (\d+)(?: \(Rule: (\w+)\))?")
JOBID = re.compile(r"^\s*jobid: (\d+)")
NOTHING = "Nothing to be done"
ERROR_TAIL_LINES = 40


class Progress:
    """Follow snakemake's log lines; say when a tenth of the jobs more is done."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive
        self.rule_of_job: dict[str, str] = {}
        self.pending_rule = ""
        self.last_rule = ""
        self.last_tenth = -1

    def feed(self, line: str) -> str | None:
        """Return a progress line to print for this log line, or None."""
        if match := RULE.match(line):
            self.pending_rule = match.group(1)
        elif (match := JOBID.match(line)) and self.pending_rule:
            self.rule_of_job[match.group(1)] = self.pending_rule
        elif match := FINISHED.match(line):
            self.last_rule = match.group(2) or self.rule_of_job.get(match.group(1), "")
        elif match := DONE.match(line):
            done, total, percent = (int(g) for g in match.groups())
            tenth = 10 * done // max(total, 1)
            if self.interactive or tenth > self.last_tenth or done == total:
                self.last_tenth = tenth
                return f"[{done:4d}/{total}  {percent:3d}%] {self.last_rule}"
        elif line.startswith(NOTHING):
            return "nothing to be done: every output is up to date"
        return None


def error_blocks(lines: list[str]) -> list[str]:
    """Return the log's error blocks (from 'Error in rule' or 'Exception' on), else its tail."""
    starts = [i for i, line in enumerate(lines) if line.startswith(("Error", "Exception"))]
    chosen = lines[starts[0] :] if starts else lines
    return chosen[-ERROR_TAIL_LINES:]


def run(command: list[str], log_path: Path) -> int:
    """Run ``command``, log everything to ``log_path``, print progress; return its status."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    progress = Progress(interactive=sys.stdout.isatty())
    lines: list[str] = []
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert proc.stdout is not None
        for raw in proc.stdout:
            log.write(raw)
            line = raw.rstrip("\n")
            lines.append(line)
            shown = progress.feed(line)
            if shown and progress.interactive:
                print(f"\r{shown:<60}", end="", flush=True)
            elif shown:
                print(shown, flush=True)
        status = proc.wait()
    if progress.interactive:
        print()
    if status != 0:
        print("\n".join(error_blocks(lines)), file=sys.stderr)
        print(f"snakemake failed (exit {status}); full log: {log_path}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--log FILE -- COMMAND ...``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    return run(command, args.log)


if __name__ == "__main__":
    sys.exit(main())
