"""Wiring of the outreach worker (`augur serve outreach`): real-time triggers and webhook
delivery, with health and metrics from the service chassis (it serves no RPC of its own)."""

from __future__ import annotations

import asyncio
import logging
import time

from grpc import aio
from prometheus_client import CollectorRegistry

from augur.churn.model import ChurnModel
from augur.common.models import ModelWatcher
from augur.common.server import ServiceSpec, run
from augur.common.settings import OutreachSettings, ServerSettings, load_settings
from augur.contact.state import ContactState
from augur.features.store import RedisFeatureStore
from augur.outreach.delivery import Claimed, Deliverer, DeliveryQueue, Outcome
from augur.outreach.triggers import TriggerWorker

log = logging.getLogger("augur.outreach")
MODEL_NAME = "augur-churn"


def delivery_outcomes(contact: ContactState) -> Outcome:
    """Delivery results as contact outcomes (DELIVERED / FAILED) of planned contacts."""

    def record(item: Claimed, ok: bool, error: str) -> None:
        if item.record.get("kind") != "contact":
            return
        owner = contact.owner(item.id)
        if owner is not None:
            contact.record_outcome(
                owner, item.id, "delivered" if ok else "failed", time.time(), False
            )

    return record


def deliverer_for(
    settings: OutreachSettings, store: RedisFeatureStore, registry: CollectorRegistry | None
) -> Deliverer:
    return Deliverer(
        DeliveryQueue(store.client, store.keys),
        settings.outreach_webhook_url,
        settings.outreach_webhook_secret,
        attempts=settings.outreach_delivery_attempts,
        backoff=settings.outreach_backoff_seconds,
        backoff_max=settings.outreach_backoff_max_seconds,
        timeout=settings.outreach_webhook_timeout_seconds,
        concurrency=settings.outreach_delivery_concurrency,
        on_result=delivery_outcomes(ContactState(store)),
        registry=registry,
    )


async def build_spec(
    settings: ServerSettings, registry: CollectorRegistry | None = None
) -> ServiceSpec:
    assert isinstance(settings, OutreachSettings)
    store = RedisFeatureStore.from_settings(settings)
    watcher = ModelWatcher.for_service(MODEL_NAME, ChurnModel.load, settings, "outreach", registry)
    await watcher.refresh()
    triggers = TriggerWorker(store, watcher, settings.contact_holdout_share, registry)
    stopping = False

    async def run_triggers() -> None:
        await asyncio.to_thread(triggers.run, lambda: stopping)

    background = [watcher.watch, run_triggers]
    if settings.outreach_webhook_url:
        deliverer = deliverer_for(settings, store, registry)

        async def run_deliveries() -> None:
            await deliverer.run(stop=lambda: stopping)

        background.append(run_deliveries)
    else:
        log.info("no outreach_webhook_url: queued deliveries wait")

    async def ready() -> bool:
        return watcher.current is not None and store.ping()

    async def close() -> None:
        nonlocal stopping
        stopping = True
        store.close()

    def register(server: aio.Server) -> None:
        return None

    return ServiceSpec("outreach", [], register, ready, close, background=background)


def serve() -> None:
    """Entry point of `augur serve outreach`."""
    run(load_settings(OutreachSettings), build_spec, "outreach")
