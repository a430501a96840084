"""IngestEvents: validate a batch, then append it to the event stream atomically.

One Lua script per stream shard checks the idempotency marker of each event
and appends the new ones, so an event is either both marked and appended or
neither: a retried batch never loses or doubles an event. The stream is
never trimmed past unacknowledged entries (the consumer trims what it has
applied); when a shard holds more than ``ingest_stream_maxlen`` entries the
call is refused with RESOURCE_EXHAUSTED instead of dropping data.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from augur.common.errors import ResourceExhausted, Unavailable
from augur.common.keys import Keys, shard_of
from augur.common.settings import FeatureSettings
from augur.features.definitions import FEATURE_SET_VERSION
from augur.features.v1 import features_pb2
from augur.ingest.events import validate_batch

APPEND_SCRIPT = """
local stream = KEYS[1]
local maxlen = tonumber(ARGV[1])
local ttl = ARGV[2]
local now = ARGV[3]
if redis.call('XLEN', stream) >= maxlen then return {-1} end
local out = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ttl) then
    redis.call('XADD', stream, '*', 'e', ARGV[i + 2], 't', now)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""


@dataclass
class IngestResult:
    """Per event, in request order: True = accepted, False = duplicate."""

    accepted: list[bool]


class Ingestor:
    """The transport-agnostic core of IngestEvents."""

    def __init__(self, client: redis.Redis, settings: FeatureSettings) -> None:
        self.client = client
        self.keys = Keys(settings.redis_prefix, FEATURE_SET_VERSION)
        self.settings = settings
        self._append = client.register_script(APPEND_SCRIPT)

    def ingest(self, events: Sequence[features_pb2.Event]) -> IngestResult:
        now = time.time()
        validate_batch(events, now, self.settings.ingest_max_future_seconds)
        shards: dict[int, list[int]] = defaultdict(list)
        for i, event in enumerate(events):
            # item events have no customer: route them by item id
            key = event.customer_id or event.item.item_id
            shards[shard_of(key, self.settings.ingest_shards)].append(i)
        accepted = [False] * len(events)
        for shard, positions in shards.items():
            keys = [self.keys.stream(shard)]
            keys += [self.keys.event_seen(shard, events[i].event_id) for i in positions]
            args: list[bytes | str | int | float] = [
                self.settings.ingest_stream_maxlen,
                self.settings.ingest_dedup_ttl_seconds,
                repr(now),
            ]
            args += [events[i].SerializeToString() for i in positions]
            try:
                flags = self._append(keys=keys, args=args)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                raise Unavailable(
                    "the event stream (Redis) is unreachable; the batch may be retried as is "
                    "(event ids make it idempotent)"
                ) from None
            if flags and flags[0] == -1:
                raise ResourceExhausted(
                    f"event stream shard {shard} holds {self.settings.ingest_stream_maxlen} "
                    "unprocessed entries; the consumer is behind, retry later"
                )
            for i, flag in zip(positions, flags, strict=True):
                accepted[i] = bool(flag)
        return IngestResult(accepted)
