"""What outreach holds of a customer, erased on ForgetCustomer: plan rows, campaign orders,
trigger state and entries, queued and dead deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import redis

from augur.common.erasure import Known, glob_escape, stream_entries
from augur.common.keys import Keys


@dataclass(frozen=True)
class OutreachEraser:
    kind: ClassVar[str] = "outreach"

    client: redis.Redis
    keys: Keys

    def forget(self, known: Known) -> int:
        k, c, experiments = self.keys, known.customer_id, known.experiments
        pipe = self.client.pipeline(transaction=False)
        for e in experiments:
            pipe.smembers(k.outreach_days(e))
        days = pipe.execute()
        pipe = self.client.pipeline(transaction=False)
        for e, plan_days in zip(experiments, days, strict=True):
            for day in plan_days:
                pipe.hdel(k.outreach_plan(e, day.decode()), c)
            pipe.delete(k.outreach_cooldown(e, c))
        pipe.hdel(k.outreach("lastp"), c)
        deliveries = list(known.contact_ids)
        for e in experiments:
            for field in self.client.hscan_iter(
                k.experiment(e, "orders"), match=glob_escape(c) + "|*", count=1000
            ):
                pipe.hdel(k.experiment(e, "orders"), field[0])
        for entry_id, fields in stream_entries(self.client, k.outreach("triggers")):
            if fields.get(b"customer_id") == c.encode():
                pipe.xdel(k.outreach("triggers"), entry_id)
                campaign = fields.get(b"campaign", b"").decode()
                deliveries.append(f"t-{campaign}-{entry_id.decode()}")
        # batches not yet read by the trigger worker name the customer
        for entry_id, fields in stream_entries(self.client, k.feature_updates()):
            if c.encode() in fields.get(b"c", b"").split(b"\n"):
                pipe.xdel(k.feature_updates(), entry_id)
        for delivery_id in deliveries:
            pipe.hdel(k.outreach("delivery"), delivery_id)
            pipe.hdel(k.outreach("dead"), delivery_id)
            pipe.zrem(k.outreach("deliveries"), delivery_id)
            pipe.zrem(k.outreach("inflight"), delivery_id)
        return sum(int(bool(r)) for r in pipe.execute())
