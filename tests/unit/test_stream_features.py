"""Streamed batch features equal the in-memory computation; chunked reading keeps the data
contract (errors name the row of the whole file, duplicates are caught across chunks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from augur.features.definitions import EventKind, accumulate, finalize
from augur.training.data.loader import DataError, iter_table, load_dataset
from augur.training.offline.batch import canonical_events
from augur.training.offline.stream import stream_features


def in_memory(path: Path, as_of: float) -> pd.DataFrame:
    """Every event in memory at once, folded in one go: the reference."""
    events, ids = canonical_events(load_dataset(path))
    acc = accumulate(events.select(events.ts <= as_of), len(ids))
    known = np.isfinite(acc[:, 0])
    return pd.DataFrame(finalize(acc[known], as_of), index=ids[known])


@pytest.mark.parametrize("rows", [997, 50_000])
def test_streamed_features_equal_the_in_memory_ones_at_every_cutoff(
    small_data: Path, rows: int
) -> None:
    cutoffs = [
        pd.Timestamp(t).timestamp()
        for t in ("2025-03-01T00:00:00Z", "2025-05-01T00:00:00Z", "2025-07-01T00:00:00Z")
    ]
    streamed = stream_features(small_data, lambda _, end: cutoffs, rows=rows)
    ds = load_dataset(small_data)
    assert streamed.data_end == ds.orders["timestamp"].max().timestamp()
    events, _ = canonical_events(ds)
    assert streamed.events == len(events)
    orders = events.select(events.kind == EventKind.ORDER)
    for frame, after, cutoff in zip(streamed.frames, streamed.next_order, cutoffs, strict=True):
        expected = in_memory(small_data, cutoff)
        assert list(frame.customer_ids) == list(expected.index)
        np.testing.assert_allclose(
            frame.values, expected.to_numpy(), rtol=1e-9, atol=1e-6, equal_nan=True
        )
        # the first order after the cutoff, per customer
        later = orders.select(orders.ts > cutoff)
        first = pd.Series(later.ts).groupby(later.customer).min()
        _, ids = canonical_events(ds)
        want = first.rename(index=dict(enumerate(ids))).reindex(frame.customer_ids)
        np.testing.assert_array_equal(after, want.fillna(np.inf).to_numpy())


def test_chunked_errors_name_the_row_of_the_whole_file(tmp_path: Path) -> None:
    header = "customer_id,order_id,item_id,timestamp,quantity,unit_price\n"
    good = "".join(f"C{i},O{i},I1,2025-03-01T10:00:00Z,1,2.0\n" for i in range(25))
    bad = "C9,O9,I1,not-a-time,1,2.0\n"
    path = tmp_path / "orders.csv"
    path.write_text(header + good + bad)
    with pytest.raises(DataError) as err:
        list(iter_table(path, "orders", rows=10))
    assert err.value.row == 26 and err.value.column == "timestamp"
    assert "row 26" in str(err.value)


def test_duplicates_are_found_across_chunks_in_parquet(tmp_path: Path) -> None:
    ids = [f"K{i}" for i in range(30)] + ["K3"]
    table = pa.table(
        {
            "contact_id": ids,
            "customer_id": ["C1"] * len(ids),
            "channel": ["email"] * len(ids),
            "sent_at": pd.Series(
                pd.Timestamp("2025-03-01T10:00:00Z") + pd.to_timedelta(range(len(ids)), "min")
            ),
        }
    )
    path = tmp_path / "contacts.parquet"
    pq.write_table(table, path, row_group_size=8)
    with pytest.raises(DataError) as err:
        list(iter_table(path, "contacts", rows=8))
    assert err.value.row == 31 and err.value.column == "contact_id"
    assert "'K3'" in str(err.value)


def test_a_bad_line_in_a_later_chunk_stops_the_stream(small_data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(small_data, copy)
    lines = (copy / "interactions.csv").read_text().splitlines()
    row = len(lines) - 3  # a data row near the end: a late chunk
    parts = lines[row].split(",")
    parts[0] = ""
    lines[row] = ",".join(parts)
    (copy / "interactions.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        stream_features(copy, lambda _, end: [end], rows=1000)
    assert err.value.row == row and "interactions.csv" in str(err.value)
