"""The activity profiles in Redis: written by ``augur features materialise``, kept current
by the ingestion consumer (orders and browsing) and the contact service (opens and clicks),
read by the contact decision in its one round trip (``ContactState.read``).

A customer's profile is one hash on the customer's hash tag (``Keys.contact(c,
"activity")``): local hour of the week -> activities, and ``id``, the last stream entry
applied. The consumer adds a batch's activities of a customer with one script that first
compares the entry id with ``id``, so a batch replayed after a crash (the consumer re-reads
its pending entries) adds nothing twice. The local hour is taken in the customer's zone as
stored with their consent (``tz``), else the policy's default zone, at the time the activity
is recorded: a later change of zone does not move the hours already counted.

The shop's profile (``Keys.shop_activity``), the prior every customer's is shrunk towards,
is written by the materialise step from the whole history; live activity does not move it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from augur.contact.activity import SLOTS, slots_of
from augur.contact.policy import Policy
from augur.features.store import RedisFeatureStore

# KEYS[1] the customer's profile; ARGV[1] ms, ARGV[2] seq of the batch's last entry for the
# customer, ARGV[3] ttl seconds (0: none), then slot, count pairs
RECORD_LUA = """
local id = redis.call('HGET', KEYS[1], 'id')
local ms, seq = tonumber(ARGV[1]), tonumber(ARGV[2])
if id then
  local dash = string.find(id, '-', 1, true)
  local old_ms, old_seq = tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
  if ms < old_ms or (ms == old_ms and seq <= old_seq) then return 0 end
end
for i = 4, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'id', ARGV[1] .. '-' .. ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
"""


def decode(raw: dict[bytes, bytes]) -> np.ndarray:
    """SLOTS counts from a profile hash (``id`` and any other field ignored)."""
    out = np.zeros(SLOTS)
    pairs = {k: v for k, v in raw.items() if k.isdigit()}
    if pairs:
        slot = np.fromiter(map(int, pairs), dtype=np.int64, count=len(pairs))
        count = np.fromiter(map(float, pairs.values()), dtype=np.float64, count=len(pairs))
        keep = slot < SLOTS
        out[slot[keep]] = count[keep]
    return out


def _mapping(counts: np.ndarray) -> dict[str, int]:
    return {str(int(s)): int(counts[s]) for s in np.flatnonzero(counts)}


class ActivityStore:
    def __init__(self, store: RedisFeatureStore, retention_days: int = 400) -> None:
        self.store = store
        self.client = store.client
        self.keys = store.keys
        self.ttl = retention_days * 86400
        self._record = self.client.register_script(RECORD_LUA)

    def zones(self, customer_ids: Sequence[str]) -> list[str]:
        """Each customer's zone: the one stored with their consent, else the policy's."""
        pipe = self.client.pipeline(transaction=False)
        for c in customer_ids:
            pipe.hget(self.keys.contact(c, "consent"), "tz")
        pipe.get(self.keys.contact_policy())
        replies: list[Any] = self.store._call(pipe.execute)  # type: ignore[assignment]
        policy = replies.pop()
        default = (Policy.from_json(policy) if policy else Policy()).default_timezone
        return [z.decode() if z else default for z in replies]

    def record(self, activities: Sequence[tuple[str, float, tuple[float, float]]]) -> int:
        """Add activities (customer, Unix time, the stream id of the customer's last entry
        in the batch) to the profiles; the customers whose profile changed."""
        by_customer: dict[str, list[float]] = defaultdict(list)
        last: dict[str, tuple[float, float]] = {}
        for customer, at, entry in activities:
            by_customer[customer].append(at)
            last[customer] = max(last.get(customer, entry), entry)
        if not by_customer:
            return 0
        customers = list(by_customer)
        zones = self.zones(customers)
        by_zone: dict[str, list[int]] = defaultdict(list)
        for i, z in enumerate(zones):
            by_zone[z].append(i)
        counts: dict[str, np.ndarray] = {}
        for z, rows in by_zone.items():
            times = np.concatenate([np.asarray(by_customer[customers[i]]) for i in rows])
            slots = slots_of(times, z)
            at = 0
            for i in rows:
                n = len(by_customer[customers[i]])
                counts[customers[i]] = np.bincount(slots[at : at + n], minlength=SLOTS)
                at += n
        pipe = self.client.pipeline(transaction=False)
        for c in customers:
            ms, seq = last[c]
            args: list[Any] = [int(ms), int(seq), self.ttl]
            for slot, n in _mapping(counts[c]).items():
                args += [slot, n]
            self._record(keys=[self.keys.contact(c, "activity")], args=args, client=pipe)
        done: list[Any] = self.store._call(pipe.execute)  # type: ignore[assignment]
        return sum(int(d) for d in done)

    def add(self, customer_id: str, at: float) -> None:
        """One activity recorded outside the stream (an open or a click, which the contact
        service records itself and at most once per contact)."""
        slot = int(slots_of(np.array([at]), self.zones([customer_id])[0])[0])
        key = self.keys.contact(customer_id, "activity")
        pipe = self.client.pipeline(transaction=False)
        pipe.hincrby(key, str(slot), 1)
        pipe.expire(key, self.ttl)
        self.store._call(pipe.execute)

    def load(self, customer_ids: Sequence[str], counts: np.ndarray, shop: np.ndarray) -> int:
        """Bulk write (``augur features materialise``): each customer's profile replaced by
        ``counts`` (customers x SLOTS), the shop's by ``shop``."""
        for start in range(0, len(customer_ids), 1000):
            pipe = self.client.pipeline(transaction=False)
            for i in range(start, min(start + 1000, len(customer_ids))):
                key = self.keys.contact(customer_ids[i], "activity")
                pipe.delete(key)
                mapping = _mapping(counts[i])
                if mapping:
                    pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
                    pipe.expire(key, self.ttl)
            self.store._call(pipe.execute)
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(self.keys.shop_activity())
        if shop.any():
            pipe.hset(self.keys.shop_activity(), mapping=_mapping(shop))  # type: ignore[arg-type]
        self.store._call(pipe.execute)
        return len(customer_ids)
