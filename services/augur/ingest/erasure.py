"""What ingestion holds of a customer, erased on ForgetCustomer: its events still in a stream
shard (not yet trimmed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import redis

from augur.common.erasure import KEY_SCAN, STREAM_SCAN, Known, stream_entries
from augur.common.keys import Keys
from augur.features.v1 import features_pb2


@dataclass(frozen=True)
class StreamEraser:
    kind: ClassVar[str] = "event-stream"

    client: redis.Redis
    keys: Keys

    def forget(self, known: Known) -> int:
        removed = 0
        customer_id = known.customer_id
        wanted = customer_id.encode()
        for key in list(self.client.scan_iter(self.keys.stream_pattern(), count=KEY_SCAN)):
            # a byte search first: only the events holding the id are decoded
            mine = [
                entry_id
                for entry_id, fields in stream_entries(self.client, key)
                if wanted in fields.get(b"e", b"")
                and features_pb2.Event.FromString(fields[b"e"]).customer_id == customer_id
            ]
            for start in range(0, len(mine), STREAM_SCAN):
                removed += int(self.client.xdel(key, *mine[start : start + STREAM_SCAN]))
        return removed
