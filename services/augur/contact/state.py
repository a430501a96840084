"""The contact service's state in Redis: consent, profiles, sent logs, contact
records, experiments, the policy and the suppression list.

A decision reads everything it needs about a customer in one pipelined round
trip; a reservation is one script (caps checked and the contact written
atomically); erasure finds every key, field, member and stream entry that
names the customer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from augur.common.erasure import Eraser, Known
from augur.contact.activity import SLOTS
from augur.contact.activity_store import ActivityStore
from augur.contact.activity_store import decode as decode_activity
from augur.contact.caps import OUTCOME_LUA, RELEASE_LUA, RESERVE_LUA, Cap
from augur.contact.experiment_store import OUTCOMES, ExperimentStore
from augur.contact.policy import Policy
from augur.contact.profile import Profile
from augur.features.store import RedisFeatureStore

ZONE_CACHE = 200_000
SHOP_ACTIVITY_SECONDS = 60.0  # how long a process keeps the shop's activity profile


def tombstone(customer_id: str) -> str:
    """What the suppression list keeps: a hash of the id, never the id."""
    return hashlib.sha256(f"augur-suppress\x00{customer_id}".encode()).hexdigest()


@dataclass
class CustomerState:
    suppressed: bool
    consent: np.ndarray  # (4,) bool
    timezone: str | None
    profile: Profile
    sent_times: np.ndarray  # Unix s, sorted
    sent_channels: np.ndarray
    policy: Policy
    arm: str | None = None  # stored arm in the experiment asked about ("treatment"/"holdout")
    share: float | None = None  # that experiment's registered holdout share
    # activities per local hour of the week, the customer's and the shop's (``activity``)
    activity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(SLOTS))
    shop_activity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(SLOTS))


@dataclass
class Reservation:
    status: int  # 1 reserved, 2 duplicate, 0 refused, 3 zone differs, -1 id of another customer
    reason: int  # 1 no consent, 2 frequency cap
    zone: str = ""  # the stored zone, when status is 3


class ContactState:
    def __init__(self, store: RedisFeatureStore, retention_days: int = 400) -> None:
        self.store = store
        self.client = store.client
        self.keys = store.keys
        self.ttl = retention_days * 86400
        self._reserve = Script(RESERVE_LUA)
        self._outcome = Script(OUTCOME_LUA)
        self._release = Script(RELEASE_LUA)
        self._zones: dict[str, str] = {}
        self._shop, self._shop_read = np.zeros(SLOTS), -1e9  # the shop's activity, when read
        self._policy_read = -1e9
        self._policy: tuple[bytes | None, Policy] = (None, Policy())
        self.experiments = ExperimentStore(store)
        """Assignments and outcomes of experiments (the contact service owns them)."""
        self.activity = ActivityStore(store, retention_days)
        """The customers' activity profiles (``augur.contact.activity_store``)."""

    def _exchange(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """The hot path: raw commands in one write (no redis-py pipeline objects); scripts
        go by EVALSHA and are loaded on first use."""
        try:
            return self.store.exchange(commands)
        except redis.exceptions.NoScriptError:
            self.store.exchange(
                [("SCRIPT", "LOAD", s.text) for s in (self._reserve, self._outcome, self._release)]
            )
            return self.store.exchange(commands)

    def _run(self, pipe: Any) -> list[Any]:
        result: list[Any] = self.store._call(pipe.execute)  # type: ignore[assignment]
        return result

    def _policy_of(self, raw: bytes | None) -> Policy:
        cached = self._policy
        if raw != cached[0]:
            self._policy = cached = (raw, Policy.from_json(raw) if raw else Policy())
        return cached[1]

    # ------------------------------------------------------------ reads
    def read(self, customer_id: str, lo: float, hi: float, experiment: str = "") -> CustomerState:
        """Everything a decision needs, one round trip; contacts sent in [lo, hi] (s);
        with an experiment, the customer's stored arm in it and its registered share."""
        k = self.keys
        extra: list[tuple[Any, ...]] = []
        if experiment:
            extra = [
                ("HGET", k.contact(customer_id, "exp"), experiment),
                ("HGET", k.experiment(experiment, "def"), "share"),
            ]
        # the shop's activity (a prior, rewritten only by materialise): re-read every minute
        shop_due = time.monotonic() - self._shop_read > SHOP_ACTIVITY_SECONDS
        if shop_due:
            extra.append(("HGETALL", k.shop_activity()))
        (
            suppressed,
            consent_flat,
            profile_flat,
            activity_flat,
            sent,
            policy_raw,
            *exp,
        ) = self._exchange(
            [
                ("SISMEMBER", k.suppressed(), tombstone(customer_id)),
                ("HGETALL", k.contact(customer_id, "consent")),
                ("HGETALL", k.contact(customer_id, "profile")),
                ("HGETALL", k.contact(customer_id, "activity")),
                (
                    "ZRANGEBYSCORE",
                    k.contact(customer_id, "sent"),
                    int(lo * 1000),
                    int(hi * 1000) if np.isfinite(hi) else "+inf",
                    "WITHSCORES",
                ),
                ("GET", k.contact_policy()),
                *extra,
            ]
        )
        if shop_due:
            self._shop, self._shop_read = decode_activity(_pairs(exp.pop())), time.monotonic()
        arm, share = (exp[0], exp[1]) if exp else (None, None)
        consent_raw = _pairs(consent_flat)
        consent = np.array([consent_raw.get(f"c{c}".encode()) == b"1" for c in range(4)])
        tz = consent_raw.get(b"tz")
        scored = _scored(sent)
        times = np.array([score / 1000.0 for _, score in scored])
        channels = np.array([int(m.split(b"|", 1)[0]) for m, _ in scored], dtype=np.int64)
        return CustomerState(
            bool(suppressed),
            consent,
            tz.decode() if tz else None,
            Profile.from_hash(_pairs(profile_flat)),
            times,
            channels,
            self._policy_of(policy_raw),
            arm.split(b"|", 1)[0].decode() if arm else None,
            float(share) if share else None,
            decode_activity(_pairs(activity_flat)),
            self._shop,
        )

    def policy(self) -> Policy:
        raw: Any = self.store._call(self.client.get, self.keys.contact_policy())
        return self._policy_of(raw)

    def set_policy(self, policy: Policy) -> Policy:
        """Store the policy; this process applies it at once, the others within a second
        (``cached_policy``) for reservations and at once for decisions."""
        raw = policy.to_json()
        self.store._call(self.client.set, self.keys.contact_policy(), raw)
        self._policy = (raw.encode(), policy)
        self._policy_read = time.monotonic()
        return policy

    def owner(self, contact_id: str) -> str | None:
        raw: Any = self.store._call(self.client.get, self.keys.contact_owner(contact_id))
        return raw.decode() if raw else None

    def suppressed_mask(self, customer_ids: Sequence[str]) -> np.ndarray:
        """True for every customer on the suppression list (bulk loads skip them)."""
        out = np.zeros(len(customer_ids), dtype=bool)
        for start in range(0, len(customer_ids), 10_000):
            chunk = [tombstone(c) for c in customer_ids[start : start + 10_000]]
            if chunk:
                flags: Any = self.store._call(self.client.smismember, self.keys.suppressed(), chunk)
                out[start : start + len(chunk)] = np.asarray(flags, dtype=bool)
        return out

    def is_suppressed(self, customer_id: str) -> bool:
        return bool(
            self.store._call(self.client.sismember, self.keys.suppressed(), tombstone(customer_id))
        )

    # ------------------------------------------------------------ writes
    def set_consent(
        self, customer_id: str, consents: dict[int, bool], timezone: str | None
    ) -> tuple[np.ndarray, str | None]:
        key = self.keys.contact(customer_id, "consent")
        mapping: dict[Any, Any] = {f"c{c}": "1" if v else "0" for c, v in consents.items()}
        if timezone:
            mapping["tz"] = timezone
        pipe = self.client.pipeline(transaction=False)
        if mapping:
            pipe.hset(key, mapping=mapping)
        pipe.hgetall(key)
        raw = self._run(pipe)[-1]
        state = np.array([raw.get(f"c{c}".encode()) == b"1" for c in range(4)])
        tz = raw.get(b"tz")
        return state, tz.decode() if tz else None

    def load_customers(
        self,
        customer_ids: Sequence[str],
        consent: np.ndarray,
        timezones: Sequence[str],
        profiles: Sequence[dict[str, str]],
        segments: Sequence[str] | None = None,
    ) -> int:
        """Bulk load of consent, zone, segment and profile (``augur features materialise``)."""
        written = 0
        for start in range(0, len(customer_ids), 1000):
            pipe = self.client.pipeline(transaction=False)
            for i in range(start, min(start + 1000, len(customer_ids))):
                c = customer_ids[i]
                mapping: dict[Any, Any] = {
                    f"c{ch}": "1" if consent[i, ch] else "0" for ch in range(4)
                }
                if timezones[i]:
                    mapping["tz"] = timezones[i]
                if segments is not None and segments[i]:
                    mapping["seg"] = segments[i]
                pipe.hset(self.keys.contact(c, "consent"), mapping=mapping)
                pkey = self.keys.contact(c, "profile")
                pipe.delete(pkey)
                if profiles[i]:
                    pipe.hset(pkey, mapping=dict[Any, Any](profiles[i]))
                    if self.ttl:
                        pipe.expire(pkey, self.ttl)
                written += 1
            self._run(pipe)
        return written

    def reserve(
        self,
        customer_id: str,
        contact_id: str,
        channel: int,
        send_at: float,
        now: float,
        caps: Sequence[Cap],
        assumed_zone: str,
        record: dict[str, str],
        counters: Sequence[str],
    ) -> Reservation:
        """One round trip: claim the contact id for the customer and run the reservation
        script; a claim already held by another customer undoes the reservation."""
        k = self.keys
        args: list[Any] = [
            contact_id,
            channel,
            int(send_at * 1000),
            int((now - 366 * 86400) * 1000),
            self.ttl,
            assumed_zone,
            len(caps),
        ]
        for cap in caps:
            args += [cap.channel, cap.max_contacts, cap.window_hours * 3_600_000]
        for field, value in record.items():
            args += [field, value]
        args += ["--", *counters]
        keys = [
            k.contact(customer_id, "sent"),
            k.contact_record(customer_id, contact_id),
            k.contact(customer_id, "profile"),
            k.contact(customer_id, "consent"),
            k.contact(customer_id, "ids"),
        ]
        claim: tuple[Any, ...] = ("SET", k.contact_owner(contact_id), customer_id, "NX", "GET")
        if self.ttl:
            claim += ("EX", self.ttl)
        owner, (status, reason) = self._exchange([claim, self._reserve.command(keys, args)])
        if owner is not None and owner.decode() != customer_id:
            if int(status) == 1:
                release = [keys[0], keys[1], keys[2], keys[4]]
                self._exchange([self._release.command(release, [contact_id, channel, *counters])])
            return Reservation(-1, 0)
        if int(status) == 3:
            zone = reason.decode() if isinstance(reason, bytes) else str(reason)
            self._remember_zone(customer_id, zone)
            return Reservation(3, 0, zone)
        self._remember_zone(customer_id, assumed_zone)
        return Reservation(int(status), int(reason))

    def drop_claim(self, contact_id: str, customer_id: str) -> None:
        """Forget a contact id claimed by a refused reservation of an erased customer."""
        self.store._call(
            self.client.eval,
            "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end",
            1,
            self.keys.contact_owner(contact_id),
            customer_id,
        )

    def zone_hint(self, customer_id: str) -> str:
        """The zone last seen stored for the customer ("" = none), from this process's
        cache; the reservation script checks it and answers with the stored one if stale."""
        return self._zones.get(customer_id, "")

    def _remember_zone(self, customer_id: str, zone: str) -> None:
        if len(self._zones) >= ZONE_CACHE:
            self._zones.clear()
        self._zones[customer_id] = zone

    def cached_policy(self, max_age: float = 1.0) -> Policy:
        """The policy, re-read at most every ``max_age`` seconds (hot write path)."""
        if time.monotonic() - self._policy_read > max_age:
            self.policy()
            self._policy_read = time.monotonic()
        return self._policy[1]

    def record_outcome(
        self, customer_id: str, contact_id: str, outcome: str, at: float, engaged: bool
    ) -> tuple[int, bool, str | None]:
        """(status 0 unknown / 1 recorded / 2 duplicate, consent withdrawn, experiment)."""
        k = self.keys
        keys = [
            k.contact_record(customer_id, contact_id),
            k.contact(customer_id, "profile"),
            k.contact(customer_id, "consent"),
        ]
        (status, withdrawn), experiment = self._exchange(
            [
                self._outcome.command(keys, [outcome, repr(at), "1" if engaged else "0"]),
                ("HGET", k.contact_record(customer_id, contact_id), "exp"),
            ]
        )
        exp = experiment.decode() if experiment else None
        if int(status) == 1 and exp:
            self.experiments.mark_outcome(exp, customer_id, outcome, at)
        return int(status), bool(withdrawn), exp

    # ------------------------------------------------------------ erasure
    def forget(self, customer_id: str, others: Sequence[Eraser] = ()) -> tuple[int, list[str]]:
        """Remove everything of the contact service's that names the customer, keep a
        tombstone, then ask the ``others`` owners to erase theirs. (keys, kinds)."""
        k = self.keys
        c = customer_id
        pipe = self.client.pipeline(transaction=False)
        pipe.smembers(k.contact(c, "ids"))
        pipe.zrange(k.contact(c, "sent"), 0, -1)
        pipe.hkeys(k.contact(c, "exp"))
        ids_raw, sent_raw, exps_raw = self._run(pipe)
        ids = {i.decode() for i in ids_raw} | {m.split(b"|", 1)[1].decode() for m in sent_raw}
        experiments = [e.decode() for e in exps_raw]
        groups: dict[str, list[str]] = {
            "features": [k.features(c)],
            "purchases": [k.purchases(c)],
            "cart": [k.cart(c)],
            "consent": [k.contact(c, "consent")],
            "contact-profile": [k.contact(c, "profile")],
            "activity-profile": [k.contact(c, "activity")],
            "contact-counters": [k.contact(c, "sent"), k.contact(c, "ids")],
            "contact-records": [k.contact_record(c, i) for i in sorted(ids)]
            + [k.contact_owner(i) for i in sorted(ids)],
            "experiments": [k.contact(c, "exp")],
        }
        pipe = self.client.pipeline(transaction=False)
        order = []
        for kind, names in groups.items():
            for name in names:
                pipe.delete(name)
                order.append(kind)
        for e in experiments:
            pipe.hdel(k.experiment(e, "members"), c)
            order.append("experiment-membership")
            for o in OUTCOMES:
                pipe.hdel(k.experiment(e, f"out:{o}"), c)
                order.append("experiment-outcomes")
        pipe.sadd(k.suppressed(), tombstone(c))
        order.append("tombstone")
        results = self._run(pipe)
        removed = 0
        kinds: list[str] = []
        for kind, result in zip(order, results, strict=True):
            if kind == "tombstone" or not result:
                continue
            if kind not in ("experiment-membership", "experiment-outcomes"):
                removed += int(result)
            if kind not in kinds:
                kinds.append(kind)
        known = Known(c, experiments, sorted(ids))
        for eraser in others:  # every other owner erases what it holds
            if eraser.forget(known):
                kinds.append(eraser.kind)
        return removed, kinds


class Script:
    """A Lua script run by EVALSHA inside an ``exchange``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    def command(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


def _pairs(reply: Any) -> dict[bytes, bytes]:
    """A raw HGETALL reply as a dict (RESP3 gives a map, RESP2 a flat list)."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _scored(reply: Any) -> list[tuple[bytes, float]]:
    """A raw ZRANGE ... WITHSCORES reply as (member, score) pairs (RESP3 nests them)."""
    if reply and isinstance(reply[0], list):
        return [(m, float(v)) for m, v in reply]
    return [(m, float(v)) for m, v in zip(reply[::2], reply[1::2], strict=True)]
