"""Next-best-contact without a contact log, over real gRPC, Redis and MLflow: the contact
service serves with no response model, timing each decision by the customer's activity
profile (the shop's until the customer has enough activity), the profile moves with orders
ingested through IngestEvents and with opens, a replayed batch counts nothing twice, the
materialise step builds the profiles from a data set, and erasure removes them."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import grpc
import numpy as np
import redis

from augur.common.server import AugurServer
from augur.common.settings import ContactSettings, ServerSettings, load_settings
from augur.contact.activity import SLOTS
from augur.contact.activity_store import ActivityStore
from augur.contact.main import build_spec
from augur.contact.state import ContactState
from augur.contact.v1 import contact_pb2, contact_pb2_grpc
from augur.features.store import RedisFeatureStore
from augur.features.v1 import features_pb2, features_pb2_grpc
from augur.ingest.consumer import Consumer
from augur.ingest.main import build_spec as build_features
from augur.training.contact.materialise import load_activity
from augur.training.data.loader import load_dataset
from tests.integration.test_contact_service import EMAIL, SMS, consent, ts

C = contact_pb2
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def _paris(day: int, hour: int) -> float:
    """Unix time of 2026-03-<day> <hour>:00 in Paris (winter time, UTC+1)."""
    return dt.datetime(2026, 3, day, hour, tzinfo=PARIS).timestamp()


def _order(customer: str, n: int, at: float) -> features_pb2.Event:
    return features_pb2.Event(
        event_id=f"{customer}-o{n}",
        customer_id=customer,
        occurred_at=ts(at),
        order=features_pb2.OrderEvent(
            order_id=f"{customer}-o{n}",
            lines=[features_pb2.OrderLine(item_id="i1", quantity=1, unit_price=4.0)],
        ),
    )


async def test_without_a_model_the_activity_profile_times_decisions_and_moves_live(
    settings: ServerSettings, tmp_path: Path
) -> None:
    cs = load_settings(
        ContactSettings,
        **{
            **settings.model_dump(),
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'empty.db'}",  # no model registered
            "state_dir": tmp_path / "state",
        },
    )
    store = RedisFeatureStore.from_settings(settings)
    contact = AugurServer(cs, await build_spec(cs), readiness_interval=0.05)
    port = await contact.start(serve_metrics_endpoint=False)
    features = AugurServer(settings, await build_features(settings))
    fport = await features.start(serve_metrics_endpoint=False)
    who = "act-1"
    now = _paris(2, 8)  # Monday 2 March 2026, 08:00 in Paris
    try:
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
            grpc.aio.insecure_channel(f"127.0.0.1:{fport}") as fchannel,
        ):
            stub = contact_pb2_grpc.ContactServiceStub(channel)
            ingest = features_pb2_grpc.FeatureServiceStub(fchannel)
            await consent(stub, who, [SMS, EMAIL], "Europe/Paris")
            ask = C.NextBestContactRequest(customer_id=who, now=ts(now), alternatives=2)

            # no activity of their own yet: the shop's hours (none either: the first whole hour)
            first = await stub.NextBestContact(ask)
            assert first.contact and first.timing_source == C.TIMING_SOURCE_SHOP_ACTIVITY
            assert not first.HasField("model") and "no response model" in first.reason_text
            assert first.best.channel == EMAIL  # none used yet: the channel order decides
            assert "channel: email (not used yet), consented also: sms" in first.reason_text

            # four evening orders (19:00 in Paris) on four days, through the ingestion path
            events = [_order(who, n, _paris(day, 19)) for n, day in enumerate((20, 21, 23, 24))]
            await ingest.IngestEvents(features_pb2.IngestEventsRequest(events=events[:3]))
            consumer = Consumer(redis.Redis.from_url(settings.redis_url), settings)
            consumer.drain()
            timed = await stub.NextBestContact(ask)
            assert timed.timing_source == C.TIMING_SOURCE_ACTIVITY_PROFILE
            local = dt.datetime.fromisoformat(timed.best.send_at_local)
            assert local.hour == 19 and local.utcoffset() == dt.timedelta(hours=1)
            assert "activity profile (3 orders, visits, opens and clicks)" in timed.reason_text
            assert len(timed.alternatives) == 2

            # a batch read again (a consumer restarted before it acknowledged) adds nothing
            activity = ActivityStore(store)
            key = store.keys.contact(who, "activity")
            before = redis.Redis.from_url(settings.redis_url).hgetall(key)
            stored_id = before[b"id"].decode().split("-")
            again = [(who, _paris(22, 9), (float(stored_id[0]), float(stored_id[1])))]
            assert activity.record(again) == 0
            assert redis.Redis.from_url(settings.redis_url).hgetall(key) == before

            # a fourth order and an open move the counts live
            await ingest.IngestEvents(features_pb2.IngestEventsRequest(events=events[3:]))
            consumer.drain()
            recorded = await stub.RecordContact(
                C.RecordContactRequest(
                    contact_id=f"{who}-k1", customer_id=who, channel=EMAIL, send_at=ts(now)
                )
            )
            assert recorded.reserved
            await stub.RecordOutcome(
                C.RecordOutcomeRequest(
                    contact_id=f"{who}-k1", outcome=1, occurred_at=ts(_paris(2, 12))
                )
            )
            state = ContactState(store).read(who, now - 86400, now + 86400)
            assert state.activity.sum() == 5
            assert state.activity[0 * 24 + 12] == 1  # the open: Monday 12:00 in Paris
            assert state.activity[4 * 24 + 19] == 1  # Friday 20 March 19:00

            # erasure takes the profile too
            forgotten = await stub.ForgetCustomer(C.ForgetCustomerRequest(customer_id=who))
            assert "activity-profile" in forgotten.removed_kinds
            assert not redis.Redis.from_url(settings.redis_url).exists(key)
    finally:
        await features.stop(0)
        await contact.stop(0)


def test_materialise_builds_every_customers_profile_and_the_shops(
    settings: ServerSettings, small_data: Path
) -> None:
    store = RedisFeatureStore.from_settings(settings)
    state = ContactState(store)
    ds = load_dataset(small_data)
    end = ds.orders["timestamp"].max().timestamp()
    written = load_activity(small_data, ds, state, end)
    baskets = ds.orders.drop_duplicates("order_id")
    active = set(baskets["customer_id"]) | set(ds.interactions["customer_id"])
    for column in ("opened_at", "clicked_at"):
        if len(ds.contacts) and column in ds.contacts:
            active |= set(ds.contacts.loc[ds.contacts[column].notna(), "customer_id"])
    assert written == len(active)
    one = str(baskets["customer_id"].iloc[0])
    profile = state.read(one, end - 86400, end).activity
    mine = baskets[baskets["customer_id"] == one]
    others = 0
    if len(ds.interactions):
        others += int((ds.interactions["customer_id"] == one).sum())
    opened = 0
    for column in ("opened_at", "clicked_at"):
        if len(ds.contacts) and column in ds.contacts:
            rows = ds.contacts[ds.contacts["customer_id"] == one]
            opened += int(rows[column].notna().sum())
    assert profile.sum() == len(mine) + others + opened
    shop = state.read(one, end - 86400, end).shop_activity
    assert shop.shape == (SLOTS,) and shop.sum() >= profile.sum() > 0
    assert np.all(shop >= profile)
