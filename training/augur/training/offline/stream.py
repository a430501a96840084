"""Batch features that stream over the event log: memory bounded by the chunk size and the
number of customers, not by the number of events.

Tables are read in validated chunks (``augur.training.data.loader.iter_table``), turned into
canonical events by the same per-table functions as the in-memory path
(``augur.training.offline.batch``), and folded into per-customer accumulators, which merge
order-free. Several cutoffs are served by one pass: events are bucketed by the interval
between consecutive cutoffs, each bucket folded into its own accumulators, and the
accumulators as of cutoff k are the merge of buckets 0..k. The orders table is read twice:
once to summarise orders (an order's lines may span chunks; the last order also fixes the
data's end, from which the cutoffs are planned), once for its lines.

Alongside the features, each cutoff gets every customer's first order after it (churn
labels need nothing else from the future).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from augur.features.definitions import (
    A_FIRST_EVENT,
    CanonicalEvents,
    EventKind,
    accumulate,
    empty_acc,
    finalize,
    merge,
)
from augur.training.data.loader import (
    CHUNK_ROWS,
    Dataset,
    empty_table,
    iter_table,
    load_table,
    table_files,
)
from augur.training.data.schema import TABLES
from augur.training.offline.batch import (
    FeatureFrame,
    Part,
    combine_orders,
    contact_parts,
    events_of,
    interaction_part,
    item_slots,
    line_part,
    order_parts,
    order_summary,
    order_times,
    part_customers,
    signup_part,
    utc_seconds,
)

Source = Path | Dataset  # a data directory (streamed) or a data set already in memory


@dataclass
class Streamed:
    """Features as of each cutoff (ascending), with each row's first order after it."""

    frames: list[FeatureFrame]
    next_order: list[np.ndarray]  # per frame, per row: first order after the cutoff (inf: none)
    data_end: float  # last order line, Unix s
    data_start: float  # first order line, Unix s
    events: int
    seconds: float


class CustomerCodes:
    """Customer id -> dense index, growing as chunks bring new customers."""

    def __init__(self) -> None:
        self.index = pd.Index([], dtype=object)

    def __len__(self) -> int:
        return len(self.index)

    def codes(self, ids: np.ndarray) -> np.ndarray:
        keys = pd.Index(ids, dtype=object)
        codes = self.index.get_indexer(keys)
        new = codes < 0
        if new.any():
            self.index = self.index.append(pd.Index(pd.unique(ids[new]), dtype=object))
            codes[new] = self.index.get_indexer(keys[new])
        return codes.astype(np.int64)


class _Buckets:
    """Accumulators of the events between consecutive cutoffs, and first orders after each."""

    def __init__(self, cutoffs: Sequence[float]) -> None:
        self.cutoffs = np.asarray(cutoffs, dtype=np.float64)
        self.delta = [empty_acc(0) for _ in self.cutoffs]
        self.next_order = [np.zeros(0) for _ in self.cutoffs]
        self.events = 0

    def _grow(self, n: int) -> None:
        have = len(self.delta[0]) if len(self.delta) else n
        if n <= have:
            return
        size = max(n, 2 * have)
        for k in range(len(self.cutoffs)):
            self.delta[k] = np.concatenate([self.delta[k], empty_acc(size - have)])
            self.next_order[k] = np.concatenate([self.next_order[k], np.full(size - have, np.inf)])

    def add(self, codes: CustomerCodes, parts: list[Part]) -> None:
        events = events_of(parts, codes.codes(part_customers(parts)))
        self.events += len(events)
        self._grow(len(codes))
        bucket = np.searchsorted(self.cutoffs, events.ts, side="left")  # ts <= c0 -> 0
        for k in range(len(self.cutoffs)):
            _fold(self.delta[k], events.select(bucket == k))
        orders = events.kind == EventKind.ORDER
        for k, cutoff in enumerate(self.cutoffs):
            later = orders & (events.ts > cutoff)
            np.minimum.at(self.next_order[k], events.customer[later], events.ts[later])

    def result(self, codes: CustomerCodes) -> tuple[list[FeatureFrame], list[np.ndarray]]:
        self._grow(len(codes))
        ids = codes.index
        order = np.argsort(ids.to_numpy(dtype=object), kind="stable")
        sorted_ids = pd.Index(ids[order], name="customer_id")
        frames, after = [], []
        acc = empty_acc(len(ids))
        for k, cutoff in enumerate(self.cutoffs):
            acc = merge(acc, self.delta[k][: len(ids)])
            mine = acc[order]
            known = np.isfinite(mine[:, A_FIRST_EVENT])
            rows = mine[known]
            frames.append(
                FeatureFrame(sorted_ids[known], rows, finalize(rows, float(cutoff)), float(cutoff))
            )
            after.append(self.next_order[k][: len(ids)][order][known])
        return frames, after


def _fold(acc: np.ndarray, events: CanonicalEvents) -> None:
    """Merge the events into ``acc`` in place, touching only their customers' rows."""
    if not len(events):
        return
    touched, local = np.unique(events.customer, return_inverse=True)
    events.customer = local.astype(np.int64)
    acc[touched] = merge(acc[touched], accumulate(events, len(touched)))


class _Tables:
    """The tables of a source: a data set in memory, or a directory's files (found once,
    which also refuses a bad layout before any work)."""

    def __init__(self, source: Source) -> None:
        self.dataset = source if isinstance(source, Dataset) else None
        self.files = table_files(source) if not isinstance(source, Dataset) else {}

    def chunks(self, name: str, rows: int) -> Iterator[pd.DataFrame]:
        if self.dataset is not None:
            frame = self.dataset.table(name)
            if len(frame):
                yield frame
            return
        file = self.files[name]
        if file is not None:
            yield from iter_table(file, name, rows)

    def whole(self, name: str) -> pd.DataFrame:
        if self.dataset is not None:
            return self.dataset.table(name)
        file = self.files[name]
        return load_table(file, name) if file is not None else empty_table(TABLES[name])


def stream_features(
    source: Source,
    cutoffs: Callable[[float, float], Sequence[float]],
    rows: int = CHUNK_ROWS,
    progress: bool = False,
) -> Streamed:
    """Features of every customer known at each cutoff; ``cutoffs`` maps the data's start and
    end (first and last order line) to the cutoffs wanted."""
    started = time.perf_counter()
    tables = _Tables(source)
    bar = tqdm(desc="features (streamed)", unit=" events", unit_scale=True, disable=not progress)
    partials: list[pd.DataFrame] = []
    data_start, data_end = np.inf, -np.inf
    for chunk in tables.chunks("orders", rows):
        if len(chunk):
            partials.append(order_summary(chunk))
            seconds = utc_seconds(chunk["timestamp"])
            data_start = min(data_start, float(np.nanmin(seconds)))
            data_end = max(data_end, float(np.nanmax(seconds)))
    summary = combine_orders(partials) if partials else None
    buckets = _Buckets(sorted(cutoffs(data_start, data_end)))
    codes = CustomerCodes()

    def add(parts: list[Part]) -> None:
        before = buckets.events
        buckets.add(codes, parts)
        bar.update(buckets.events - before)

    if summary is not None:
        add(order_parts(summary))
        times, slots = order_times(summary), item_slots(tables.whole("items"))
        del summary, partials
        for chunk in tables.chunks("orders", rows):
            add([line_part(chunk, times, slots)])
        del times
    for chunk in tables.chunks("interactions", rows):
        add([interaction_part(chunk)])
    for chunk in tables.chunks("contacts", rows):
        add(contact_parts(chunk))
    customers = tables.whole("customers")
    if len(customers):
        add([signup_part(customers)])
    bar.close()
    frames, after = buckets.result(codes)
    return Streamed(
        frames, after, data_end, data_start, buckets.events, time.perf_counter() - started
    )


def compute_features(
    source: Source, as_of: pd.Timestamp | float | None = None, rows: int = CHUNK_ROWS
) -> FeatureFrame:
    """Features of every customer known at ``as_of`` (default: the data's last order line)."""
    t = (
        None
        if as_of is None
        else float(pd.Timestamp(as_of).timestamp())
        if not isinstance(as_of, float)
        else as_of
    )
    return stream_features(source, lambda _, end: [end if t is None else t], rows).frames[0]
