"""Every Redis key Augur uses is built here, and only here.

Keys carry the deployment prefix and the feature-set version, and use Redis
Cluster hash tags so that the keys one request touches share a slot:
``{c:<customer>}`` for a customer's keys, ``{s<n>}`` for a stream shard and
its idempotency markers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


def shard_of(customer_id: str, shards: int) -> int:
    """Stream shard of a customer: all of a customer's events go to one shard, in order."""
    return zlib.crc32(customer_id.encode()) % shards if shards > 1 else 0


@dataclass(frozen=True)
class Keys:
    """Key builder for one deployment prefix and feature-set version (the feature library's
    ``FEATURE_SET_VERSION``, passed in so that the chassis does not depend on it)."""

    prefix: str
    version: int

    def features(self, customer_id: str) -> str:
        """A customer's online record: feature vector + accumulator (see ``codec``)."""
        return f"{self.prefix}:feat:v{self.version}:{{c:{customer_id}}}"

    def purchases(self, customer_id: str) -> str:
        """Hash of a customer's latest purchase days per item (``features.purchases``)."""
        return f"{self.prefix}:bought:{{c:{customer_id}}}"

    def cart(self, customer_id: str) -> str:
        """Sorted set of a customer's cart: item -> when it was added (``features.carts``)."""
        return f"{self.prefix}:cart:{{c:{customer_id}}}"

    def meta(self) -> str:
        """Hash describing the materialised feature set (names, version, time)."""
        return f"{self.prefix}:fmeta:v{self.version}"

    def stream(self, shard: int) -> str:
        """Event stream of one shard."""
        return f"{self.prefix}:events:{{s{shard}}}"

    def event_seen(self, shard: int, event_id: str) -> str:
        """Idempotency marker of an ingested event id."""
        return f"{self.prefix}:evid:{{s{shard}}}:{event_id}"

    def item_stock(self) -> str:
        """Hash item_id -> 1 (in stock) / 0 (out of stock)."""
        return f"{self.prefix}:items:stock"

    def item_stock_log(self) -> tuple[str, str]:
        """The stock's version counter and its changes stream (``features.stock``), tagged
        with the hash's own name: the same cluster slot as the hash, so one script writes all
        three."""
        tagged = f"{self.item_stock()}:{{{self.item_stock()}}}"
        return f"{tagged}:version", f"{tagged}:changes"

    def item_added(self) -> str:
        """Sorted set item id -> when an ItemEvent with a category first named it (s): the
        catalogue's additions, the latest ``augur.features.catalogue.KEPT``."""
        return f"{self.prefix}:item:added"

    def item_category(self) -> str:
        """Hash item_id -> category."""
        return f"{self.prefix}:items:category"

    def item_price(self) -> str:
        """Hash item_id -> current unit price."""
        return f"{self.prefix}:items:price"

    def churn_snapshot(self) -> str:
        """Hash describing the current at-risk snapshot (id, time, model)."""
        return f"{self.prefix}:churn:snapshot"

    def churn_rank(self, snapshot: str) -> str:
        """Sorted set of a snapshot: customer -> value at risk."""
        return f"{self.prefix}:churn:{{snap:{snapshot}}}:rank"

    def churn_probability(self, snapshot: str) -> str:
        """Sorted set of a snapshot: customer -> churn probability."""
        return f"{self.prefix}:churn:{{snap:{snapshot}}}:prob"

    def features_pattern(self) -> str:
        """SCAN pattern of every customer record of this feature-set version."""
        return f"{self.prefix}:feat:v{self.version}:*"

    # ------------------------------------------------------------ contact state
    def contact(self, customer_id: str, part: str) -> str:
        """A customer's contact state: ``consent`` (hash c0..c3 + tz + seg), ``profile`` (hash of
        engagement counters), ``activity`` (hash local hour of the week -> activities, plus
        the last stream id applied), ``sent`` (zset "channel|contact_id" -> send ms), ``ids``
        (set of contact ids), ``exp`` (hash experiment -> "arm|assigned ms")."""
        return f"{self.prefix}:contact:{{c:{customer_id}}}:{part}"

    def contact_record(self, customer_id: str, contact_id: str) -> str:
        """Hash of one recorded contact (channel, local slot, purpose, outcomes)."""
        return f"{self.prefix}:contact:{{c:{customer_id}}}:k:{contact_id}"

    def contact_owner(self, contact_id: str) -> str:
        """String contact_id -> customer id, so an outcome finds its contact."""
        return f"{self.prefix}:contact:kid:{contact_id}"

    def shop_activity(self) -> str:
        """Hash local hour of the week -> the shop's activities (the activity profiles' prior)."""
        return f"{self.prefix}:contact:activity"

    def contact_policy(self) -> str:
        """The contact policy in force (JSON)."""
        return f"{self.prefix}:contact:policy"

    def suppressed(self) -> str:
        """Set of SHA-256 hashes of erased / do-not-contact customer ids (never the ids)."""
        return f"{self.prefix}:contact:suppressed"

    def experiment(self, name: str, part: str) -> str:
        """An experiment's ``members`` (hash customer -> "arm|assigned ms"),
        ``out:<outcome>`` (hash customer -> first outcome time in s), ``orders`` (hash
        "customer|order id" -> "time|value", orders after assignment) and ``def`` (hash:
        registered holdout ``share``, ``created``)."""
        return f"{self.prefix}:contact:exp:{{x:{name}}}:{part}"

    # ------------------------------------------------------------ outreach
    def outreach_plan(self, campaign: str, day: str) -> str:
        """Hash of one campaign day's plan: ``_meta`` (JSON: status, request fingerprint,
        counts) and one field per customer (JSON row)."""
        return f"{self.prefix}:outreach:{{o:{campaign}}}:plan:{day}"

    def outreach_days(self, campaign: str) -> str:
        """Set of the days a campaign has a plan for."""
        return f"{self.prefix}:outreach:{{o:{campaign}}}:days"

    def outreach_lock(self, campaign: str, day: str) -> str:
        """Lock held while a campaign day is being planned."""
        return f"{self.prefix}:outreach:{{o:{campaign}}}:lock:{day}"

    def outreach(self, part: str) -> str:
        """Outreach queues and state shared by all campaigns: ``deliveries`` (zset id ->
        due time), ``inflight`` (zset id -> lease end), ``delivery`` (hash id -> JSON),
        ``dead`` (hash id -> JSON), ``triggers`` (stream), ``rules`` (hash campaign ->
        JSON trigger rule), ``lastp`` (hash customer -> last probability seen); one hash
        tag, so the queue's scripts touch one cluster slot."""
        return f"{self.prefix}:outreach:{{out}}:{part}"

    def outreach_cooldown(self, campaign: str, customer_id: str) -> str:
        """Set while a customer's trigger for a campaign is cooling down."""
        return f"{self.prefix}:outreach:cool:{{c:{customer_id}}}:{campaign}"

    def drift(self) -> str:
        """Hash feature -> population stability index (training vs serving) of the last
        drift report, ``score`` for the churn score, ``_at`` its time."""
        return f"{self.prefix}:drift:churn"

    def feature_updates(self) -> str:
        """Stream of customers whose online features the consumers just rewrote."""
        return f"{self.prefix}:feat:updates"

    def churn_pattern(self) -> str:
        """SCAN pattern of every at-risk snapshot key."""
        return f"{self.prefix}:churn:{{snap:*"

    def stream_pattern(self) -> str:
        """SCAN pattern of every event stream shard."""
        return f"{self.prefix}:events:{{s*}}"

    @staticmethod
    def customer_of(key: str) -> str:
        """The customer id inside a record key."""
        return key[key.index("{c:") + 3 : -1]
