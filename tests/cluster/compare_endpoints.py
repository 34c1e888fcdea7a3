"""Compare the endpoint tables of two run directories: identical bytes, else identical content.

Usage: python tests/cluster/compare_endpoints.py REFERENCE_DIR OTHER_DIR [TRIAL]
Exit status 1 if any table is missing or differs in content.
"""

import sys
from pathlib import Path

import pyarrow.parquet as pq

from osteotrial.io import ENDPOINT_TABLES


def main(reference: Path, other: Path, trial: str = "frame") -> int:
    failed = 0
    for name in ENDPOINT_TABLES:
        relative = Path("results") / trial / "endpoints" / f"{name}.parquet"
        a, b = reference / relative, other / relative
        if not b.exists():
            print(f"{name:12s} MISSING in {other}")
            failed += 1
        elif a.read_bytes() == b.read_bytes():
            print(f"{name:12s} identical bytes ({a.stat().st_size} B)")
        elif pq.read_table(a).equals(pq.read_table(b)):
            print(f"{name:12s} identical content (bytes differ: metadata)")
        else:
            print(f"{name:12s} DIFFERENT content")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:]))
