"""What a Parquet file held when it was written: row count, patient count, a data checksum.

A writer records, in the file's key-value metadata (keys ``INTEGRITY_KEYS``, kept apart from
the provenance keys of ``io.provenance``), the number of rows, the number of distinct patients
and a BLAKE2b digest of every byte before the footer (the data pages and their headers). The
digest is taken as the bytes go to disk (``HashingSink``), so writing costs no second pass, and
checking a file (``verify_file``) reads its bytes once without decompressing them: a changed
byte in any data page, a truncated or rewritten file, or a file with patients removed (even a
valid Parquet file) no longer matches what was recorded.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import pyarrow.parquet as pq

ROWS_KEY, PATIENTS_KEY, DIGEST_KEY = "integrity_rows", "integrity_patients", "integrity_blake2b"
INTEGRITY_KEYS: tuple[str, ...] = (ROWS_KEY, PATIENTS_KEY, DIGEST_KEY)
DIGEST_BYTES = 16
READ_BYTES = 1 << 22  # 4 MiB per read when checking a file


def new_digest() -> hashlib.blake2b:
    """Return the hash every integrity digest uses (BLAKE2b, 16 bytes: fast, in hashlib)."""
    return hashlib.blake2b(digest_size=DIGEST_BYTES)


class HashingSink(io.RawIOBase):
    """A writable file that hashes every byte it passes on to ``raw``.

    Hand it to ``pq.ParquetWriter``: before ``close`` the writer has written the magic bytes and
    every row group, so ``hexdigest()`` is the digest of everything before the footer.
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._digest = new_digest()

    def writable(self) -> bool:
        """Return True: the sink is written to, never read."""
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        """Hash ``data`` and write it to the underlying file."""
        self._digest.update(data)
        return self._raw.write(data)

    def hexdigest(self) -> str:
        """Return the digest of every byte written so far."""
        return self._digest.hexdigest()


def integrity_metadata(rows: int, patients: int | None, digest: str) -> dict[str, str]:
    """Return the key-value metadata that records a file's content (``patients`` may be None
    for tables without patients, such as the endpoint tables)."""
    meta = {ROWS_KEY: str(rows), DIGEST_KEY: digest}
    if patients is not None:
        meta[PATIENTS_KEY] = str(patients)
    return meta


def data_digest(path: str | Path, data_bytes: int) -> str:
    """Return the digest of the first ``data_bytes`` bytes of ``path`` (read once, in blocks)."""
    digest = new_digest()
    with open(path, "rb") as handle:
        left = data_bytes
        while left > 0:
            block = handle.read(min(READ_BYTES, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def footer_offset(path: str | Path) -> int:
    """Return where the footer of a Parquet file starts: its data is every byte before."""
    with open(path, "rb") as handle:
        handle.seek(-8, io.SEEK_END)
        tail = handle.read(8)
        size = handle.tell()
    if tail[4:] != b"PAR1":
        raise ValueError("no Parquet footer at the end of the file")
    (footer_length,) = struct.unpack("<I", tail[:4])
    return size - 8 - footer_length


def recorded(path: str | Path) -> tuple[int, dict[str, str]]:
    """Return the footer's row count and key-value metadata (str -> str) of a Parquet file."""
    meta = pq.read_metadata(path)
    raw = meta.metadata or {}
    return meta.num_rows, {k.decode(): v.decode() for k, v in raw.items() if k != b"ARROW:schema"}


def verify_file(path: str | Path, metadata: Mapping[str, str], num_rows: int) -> str | None:
    """Return what is wrong with the data of ``path`` (None if nothing): no record, another
    row count than recorded, or data bytes whose digest is not the recorded one.

    ``metadata`` and ``num_rows`` are the file's footer (``recorded``).
    """
    missing = [key for key in (ROWS_KEY, DIGEST_KEY) if key not in metadata]
    if missing:
        return (
            f"records no {' or '.join(missing)} (written by an osteotrial older than its "
            "integrity records, or rewritten by another tool), so its content cannot be checked"
        )
    if int(metadata[ROWS_KEY]) != num_rows:
        return f"holds {num_rows} rows, but {metadata[ROWS_KEY]} were written"
    if data_digest(path, footer_offset(path)) != metadata[DIGEST_KEY]:
        return "its data bytes changed after it was written (checksum mismatch: corrupt on disk)"
    return None
