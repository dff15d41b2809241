"""A batch's points as stored between the web and the worker: a binary COPY stream of (series_id, ts, value).

The web encodes it when it accepts the batch (payload_encode); the worker COPYs it into a temporary table as is.
"""

from __future__ import annotations

import numpy as np

# PostgreSQL's binary COPY: a signature, flags and header length, then per row the field count and each field
# as a 4-byte length and big-endian bytes; timestamptz is microseconds since 2000-01-01 UTC.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("series_len", ">i4"),
        ("series_id", ">i8"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
    ]
)
PG_EPOCH_US = 946_684_800_000_000


def payload_encode(*, series_ids: np.ndarray, ts_us: list[int], values: list[float]) -> bytes:
    """The batch's points as a binary COPY stream for (series_id, ts, value), built without a Python loop.

    The rows come out sorted by (series_id, ts) with one row per pair, the one posted last: the worker's single
    INSERT … ON CONFLICT may not meet a key twice, and rows in key order go into the primary key's index fastest.
    Doing it here, in numpy, spares the worker a sort in SQL.
    """
    series_ids = np.asarray(series_ids, dtype=np.int64)
    ts = np.asarray(ts_us, dtype=np.int64)
    # lexsort: the last key is the primary one; the position breaks ties, so the last posted ends each run.
    order = np.lexsort((np.arange(len(ts)), ts, series_ids))
    series_ids, ts, value_column = series_ids[order], ts[order], np.asarray(values, dtype=np.float64)[order]
    last = np.ones(len(ts), dtype=bool)
    last[:-1] = (series_ids[1:] != series_ids[:-1]) | (ts[1:] != ts[:-1])
    rows = np.empty(int(last.sum()), dtype=COPY_ROW)
    rows["fields"] = 3
    rows["series_len"] = rows["ts_len"] = rows["value_len"] = 8
    rows["series_id"] = series_ids[last]
    rows["ts"] = ts[last] - PG_EPOCH_US
    rows["value"] = value_column[last]
    return COPY_HEADER + rows.tobytes() + COPY_TRAILER


def payload_rows(payload: bytes) -> int:
    """How many (series_id, ts, value) rows an encoded payload holds."""
    return (len(payload) - len(COPY_HEADER) - len(COPY_TRAILER)) // COPY_ROW.itemsize
