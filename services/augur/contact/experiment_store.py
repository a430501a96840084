"""Experiments in Redis: who was assigned to which arm and when, the registered holdout share,
the first time each member had each outcome, and the orders that count for revenue uplift.
Written by decisions and enrolments (contact service), outcomes (contact service), orders
(the ingestion consumer) and real-time triggers (outreach); read by UpliftReport."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from augur.features.store import RedisFeatureStore

ARMS = ("treatment", "holdout")
OUTCOMES = ("opened", "clicked", "converted", "unsubscribed", "ordered")


class ExperimentStore:
    def __init__(self, store: RedisFeatureStore) -> None:
        self.store = store
        self.client = store.client
        self.keys = store.keys

    def _run(self, pipe: Any) -> list[Any]:
        result: list[Any] = self.store._call(pipe.execute)  # type: ignore[assignment]
        return result

    def _exchange(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        return self.store.exchange(commands)

    def mark_outcome(self, experiment: str, customer_id: str, outcome: str, at: float) -> None:
        """Keep the first time the customer had the outcome (for uplift)."""
        key = self.keys.experiment(experiment, f"out:{outcome}")
        self.store._call(_set_min, self.client, key, customer_id, at)

    def assign(self, customer_id: str, experiment: str, holdout: bool, now: float) -> None:
        """Record the first assignment of a customer to an experiment (both arms)."""
        value = f"{ARMS[int(holdout)]}|{int(now * 1000)}"
        pipe = self.client.pipeline(transaction=False)
        pipe.hsetnx(self.keys.experiment(experiment, "members"), customer_id, value)
        pipe.hsetnx(self.keys.contact(customer_id, "exp"), experiment, value)
        self._run(pipe)

    def arm_of(self, experiment: str, customer_id: str) -> tuple[str | None, float | None]:
        """(stored arm or None, the experiment's registered share or None)."""
        arm, share = self._exchange(
            [
                ("HGET", self.keys.contact(customer_id, "exp"), experiment),
                ("HGET", self.keys.experiment(experiment, "def"), "share"),
            ]
        )
        return (
            arm.split(b"|", 1)[0].decode() if arm else None,
            float(share) if share else None,
        )

    def registered_share(self, experiment: str) -> float | None:
        """The holdout share the experiment registered, or None."""
        raw: Any = self.store._call(
            self.client.hget, self.keys.experiment(experiment, "def"), "share"
        )
        return float(raw) if raw else None

    def register_share(self, experiment: str, share: float, now: float) -> float:
        """The experiment's holdout share: registered by the first caller, returned after."""
        key = self.keys.experiment(experiment, "def")
        _, _, stored = self._exchange(
            [
                ("HSETNX", key, "share", repr(share)),
                ("HSETNX", key, "created", repr(now)),
                ("HGET", key, "share"),
            ]
        )
        return float(stored)

    def enroll(
        self, experiment: str, entries: Sequence[tuple[str, bool]], now: float, write: bool
    ) -> list[tuple[str | None, bool]]:
        """(stored arm or None, enrolled now) per (customer, holdout) entry; the first
        enrolment of a customer wins."""
        value_of = {False: f"treatment|{int(now * 1000)}", True: f"holdout|{int(now * 1000)}"}
        members = self.keys.experiment(experiment, "members")
        pipe = self.client.pipeline(transaction=False)
        if write:
            for customer, holdout in entries:
                pipe.hsetnx(members, customer, value_of[holdout])
                pipe.hsetnx(self.keys.contact(customer, "exp"), experiment, value_of[holdout])
        for start in range(0, len(entries), 1000):
            pipe.hmget(members, [c for c, _ in entries[start : start + 1000]])
        replies = self._run(pipe)
        new = replies[0 : 2 * len(entries) : 2] if write else [0] * len(entries)
        stored = [v for chunk in replies[2 * len(entries) if write else 0 :] for v in chunk]
        return [
            (v.split(b"|", 1)[0].decode() if v else None, bool(n))
            for v, n in zip(stored, new, strict=True)
        ]

    def record_orders(self, orders: Sequence[tuple[str, float, str, float]]) -> int:
        """ORDERED outcomes: for each (customer, order time, order id, order value), mark
        every experiment the customer was assigned to before the order, and keep the
        order's value for revenue uplift (idempotent per order). Returns outcomes marked."""
        if not orders:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for customer, *_ in orders:
            pipe.hgetall(self.keys.contact(customer, "exp"))
        memberships = self._run(pipe)
        marked = 0
        pipe = self.client.pipeline(transaction=False)
        for (customer, at, order_id, value), exps in zip(orders, memberships, strict=True):
            for name, raw in exps.items():
                assigned = int(raw.split(b"|", 1)[1]) / 1000.0
                if at >= assigned:
                    exp = name.decode()
                    _set_min(pipe, self.keys.experiment(exp, "out:ordered"), customer, at)
                    pipe.hset(
                        self.keys.experiment(exp, "orders"),
                        f"{customer}|{order_id}",
                        f"{at!r}|{value!r}",
                    )
                    marked += 1
        if marked:
            self._run(pipe)
        return marked

    def experiment_counts(
        self, experiment: str, outcome: str, window_days: int
    ) -> tuple[int, int, int, int] | None:
        """(treated, treated with outcome, holdout, holdout with outcome), or None."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.experiment(experiment, "members"))
        pipe.hgetall(self.keys.experiment(experiment, f"out:{outcome}"))
        members, outcomes = self._run(pipe)
        if not members:
            return None
        n = [0, 0]
        s = [0, 0]
        window = window_days * 86400.0
        for customer, value in members.items():
            arm_raw, ms = value.split(b"|", 1)
            arm = int(arm_raw == b"holdout")
            n[arm] += 1
            at = outcomes.get(customer)
            if at is not None:
                delay = float(at) - int(ms) / 1000.0
                if 0 <= delay <= window:
                    s[arm] += 1
        return n[0], s[0], n[1], s[1]


def _set_min(client: Any, key: str, field: str, value: float) -> Any:
    """Keep the earlier of the stored and the given time, in one script call so concurrent
    writers cannot lose the earliest."""
    return client.eval(
        "local v = redis.call('HGET', KEYS[1], ARGV[1]) "
        "if (not v) or tonumber(v) > tonumber(ARGV[2]) then "
        "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0",
        1,
        key,
        field,
        repr(value),
    )
