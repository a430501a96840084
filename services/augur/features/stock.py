"""Item stock, versioned: each write bumps a counter and logs what changed, so a reader keeps
a copy and asks only "what changed since version v" on its hot path.

A recommendation must not list an item marked out of stock a moment ago, so the stock used to
be read per request, one HMGET of every item the answer might be drawn from (~370 items for a
request with a session: ~600 us on the 2-core machine, as much as the ranking itself). Now
every stock write runs ``WRITE_LUA``: the hash as before, INCR of the version and one entry in
a capped changes stream whose id is the new version. A reader holds a ``StockMirror`` (the
out-of-stock ids as of its version) and reads, in the same round trip as the customer's
purchases, GET version + XRANGE of the entries after its own: nearly always an empty reply. On a
gap (the stream was trimmed past it, Redis restarted, a bulk write logged as "reload") it
reloads the whole hash once. An item marked out of stock through IngestEvents is therefore gone
from the very next answer, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CHANGES_KEPT = 10_000  # entries of the changes stream (approximate trimming)
MAX_LOGGED = 1_000  # a write of more items logs one "reload" entry instead of every item
READ_CHANGES = 1_000  # entries a reader takes per read; more means it reloads
RELOAD = "*"  # the field of a "reload" entry

# KEYS: stock hash, version counter, changes stream. ARGV: item, flag (1 in stock, 0 out), ...
WRITE_LUA = f"""
local n = #ARGV
for i = 1, n, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local v = redis.call('INCR', KEYS[2])
if n / 2 > {MAX_LOGGED} then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', {CHANGES_KEPT}, v .. '-1', '{RELOAD}', '1')
else
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', {CHANGES_KEPT}, v .. '-1', unpack(ARGV))
end
return v
"""


def write_args(items: Iterable[tuple[str, bool]]) -> list[Any]:
    """``WRITE_LUA``'s arguments for (item, in stock) pairs."""
    out: list[Any] = []
    for item, in_stock in items:
        out += [item, 1 if in_stock else 0]
    return out


def read_commands(keys: tuple[str, str], version: int) -> list[tuple[Any, ...]]:
    """What a reader at ``version`` sends: GET of the version, XRANGE of the later entries."""
    counter, changes = keys
    start = f"({version}-1" if version >= 0 else "-"
    return [("GET", counter), ("XRANGE", changes, start, "+", "COUNT", READ_CHANGES)]


@dataclass(frozen=True)
class StockChanges:
    """What changed since a reader's version: ``changed`` (item -> in stock) when ``complete``;
    otherwise the reader reloads the whole state."""

    version: int
    changed: dict[str, bool] = field(default_factory=dict)
    complete: bool = True


def parse_changes(version: int, raw_version: Any, entries: Sequence[Any]) -> StockChanges:
    """The replies of ``read_commands`` for a reader at ``version``."""
    now = int(raw_version) if raw_version else 0
    if now == version:
        return StockChanges(now)
    if now < version or len(entries) != now - version:  # a restart, a trimmed log, many changes
        return StockChanges(now, complete=False)
    changed: dict[str, bool] = {}
    for _, fields in entries:
        flat = list(fields.items()) if isinstance(fields, Mapping) else _pairs(fields)
        for item, flag in flat:
            name = item.decode() if isinstance(item, bytes) else str(item)
            if name == RELOAD:
                return StockChanges(now, complete=False)
            changed[name] = flag not in (b"0", "0", 0)
    return StockChanges(now, changed)


def _pairs(flat: Sequence[Any]) -> list[tuple[Any, Any]]:
    return list(zip(flat[0::2], flat[1::2], strict=True))


class StockMirror:
    """A reader's copy of the stock state, and the in-stock mask of a model's catalogue kept
    up to date with it (one model at a time: the served one)."""

    def __init__(self) -> None:
        self.version = -1  # nothing read yet: the first read reloads
        self.out: set[str] = set()
        self._lock = threading.Lock()
        self._catalogue: Any = None  # the item_pos mapping the mask is for
        self._mask = np.zeros(0, dtype=bool)

    def update(self, changes: StockChanges, reload: Callable[[], tuple[int, set[str]]]) -> None:
        """Apply what a read returned; ``reload`` gives (version, out-of-stock ids) of the
        whole state when the changes are not complete."""
        if changes.version == self.version and changes.complete:
            return
        if not changes.complete or self.version < 0:
            version, out = reload()
            with self._lock:
                self.version, self.out, self._catalogue = version, out, None
            return
        with self._lock:
            for item, in_stock in changes.changed.items():
                if in_stock:
                    self.out.discard(item)
                else:
                    self.out.add(item)
                j = self._catalogue.get(item) if self._catalogue is not None else None
                if j is not None:
                    self._mask[j] = in_stock
            self.version = changes.version

    def mask(self, item_pos: dict[str, int]) -> np.ndarray:
        """In-stock flag per catalogue index of ``item_pos`` (an item with no stock state is
        in stock)."""
        with self._lock:
            if self._catalogue is not item_pos:
                mask = np.ones(len(item_pos), dtype=bool)
                gone = [item_pos[i] for i in self.out if i in item_pos]
                mask[gone] = False
                self._catalogue, self._mask = item_pos, mask
            return self._mask
