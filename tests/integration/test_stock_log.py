"""The versioned stock state on a real Redis: a reader's mirror follows every write from the
changes log, and reloads the whole state when the log cannot tell it (a trimmed log, a
restarted Redis, a bulk write)."""

from __future__ import annotations

import numpy as np
import redis

from augur.common.keys import Keys
from augur.features import stock
from augur.features.definitions import FEATURE_SET_VERSION
from augur.features.stock import StockMirror
from augur.features.store import RedisFeatureStore


def _follow(store: RedisFeatureStore, mirror: StockMirror) -> stock.StockChanges:
    """One hot-path read, applied; returns what it read."""
    _, changes, _ = store.live_state([], mirror.version)
    mirror.update(changes, store.stock_snapshot)
    return changes


def test_a_mirror_follows_the_log_and_reloads_when_it_must(
    redis_client: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix, FEATURE_SET_VERSION)
    store = RedisFeatureStore(redis_client, keys)
    store.write_items(["a", "b", "c"], ["x", "x", "y"], [1.0, 2.0, 3.0], [True, False, True])
    mirror = StockMirror()
    assert not _follow(store, mirror).complete  # the first read loads the whole state
    catalogue = {"a": 0, "b": 1, "c": 2, "d": 3}
    assert mirror.out == {"b"} and mirror.mask(catalogue).tolist() == [True, False, True, True]
    assert _follow(store, mirror).changed == {} and mirror.version == 1  # nothing new: no reload

    def write(*items: tuple[str, bool]) -> None:
        pipe = redis_client.pipeline(transaction=False)
        store.write_stock(items, pipe)
        pipe.execute()

    write(("a", False))
    write(("b", True), ("d", False))
    changes = _follow(store, mirror)
    assert changes.complete and changes.changed == {"a": False, "b": True, "d": False}
    assert mirror.version == 3 and mirror.out == {"a", "d"}
    assert mirror.mask(catalogue).tolist() == [False, True, True, False]  # kept up to date
    # the log trimmed past the reader: the count of entries does not add up, so it reloads
    write(("c", False))
    redis_client.xtrim(keys.item_stock_log()[1], maxlen=0)
    write(("a", True))
    assert not _follow(store, mirror).complete
    assert mirror.version == 5 and mirror.out == {"c", "d"}
    # a bulk write is logged as one "reload" entry, not one entry per item
    many = [f"i{k}" for k in range(stock.MAX_LOGGED + 1)]
    store.write_items(many, ["x"] * len(many), [1.0] * len(many), [False] * len(many))
    assert redis_client.xrevrange(keys.item_stock_log()[1], count=1)[0][1] == {b"*": b"1"}
    assert not _follow(store, mirror).complete and len(mirror.out) == len(many) + 2
    # Redis lost its state (a restart without persistence): the version went back, reload
    redis_client.delete(keys.item_stock(), *keys.item_stock_log())
    write(("a", False))
    assert not _follow(store, mirror).complete
    assert mirror.version == 1 and mirror.out == {"a"}
    assert np.array_equal(mirror.mask(catalogue), [False, True, True, True])
