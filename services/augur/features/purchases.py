"""What each customer bought lately, item by item, for the recommender's live read.

The recommendation model knows purchases up to its training cutoff; the ingestion consumer
records every order line it folds here as well, so that a purchase reaches the next
``Recommend`` / ``AnticipateNext`` answer at once (the repeat clock restarts, a new item
becomes a repeat candidate) instead of at the next retraining.

One Redis hash per customer (``Keys.purchases``): item id -> its distinct purchase days (UTC
days since the Unix epoch, ascending, the latest ``DAYS_KEPT``). Adding a day is a set union
done by a script on the one key, so a replayed stream entry changes nothing (the consumer's
exactly-once rule holds here too) and two consumers never lose each other's days. The hash
expires ``TTL_DAYS`` after the customer's last recorded purchase; any model trained since
already holds those purchases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

DAY = 86400.0
DAYS_KEPT = 16
TTL_DAYS = 400

# KEYS[1] the customer's hash; ARGV[1] ttl seconds, ARGV[2] days kept, then item, days pairs
# (days comma-separated ascending integers). Union, sort, keep the latest, write back.
RECORD_LUA = """
local keep = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  local seen, days = {}, {}
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  for part in string.gmatch((old or '') .. ',' .. ARGV[i + 1], '[^,]+') do
    local d = tonumber(part)
    if d and not seen[d] then seen[d] = true; days[#days + 1] = d end
  end
  table.sort(days)
  local first = math.max(1, #days - keep + 1)
  local out = {}
  for j = first, #days do out[#out + 1] = string.format('%d', days[j]) end
  redis.call('HSET', KEYS[1], ARGV[i], table.concat(out, ','))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


def day_of(seconds: float) -> int:
    return int(np.floor(seconds / DAY))


def record_args(items: Mapping[str, Iterable[int]]) -> list[str]:
    """The script's ARGV after the first two: item, "d1,d2" pairs."""
    out: list[str] = []
    for item, days in sorted(items.items()):
        out += [item, ",".join(str(d) for d in sorted(set(days)))]
    return out


def decode(raw: Mapping[bytes, bytes] | Iterable[bytes]) -> dict[str, np.ndarray]:
    """A hash as read (a mapping, or the flat field/value list of a raw HGETALL reply) ->
    item id -> its purchase days (float array, ascending)."""
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        flat = list(raw)
        pairs = list(zip(flat[0::2], flat[1::2], strict=True))
    out: dict[str, np.ndarray] = {}
    for field, value in pairs:
        days = [float(d) for d in value.split(b",") if d]
        if days:
            out[field.decode()] = np.asarray(days)
    return out
