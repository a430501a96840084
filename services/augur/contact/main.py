"""Wiring of the next-best-contact service."""

from __future__ import annotations

from pathlib import Path

from grpc import aio
from prometheus_client import CollectorRegistry

from augur.churn.snapshot import RedisSnapshots
from augur.common.erasure import Eraser
from augur.common.models import ModelWatcher
from augur.common.server import ServiceSpec, run
from augur.common.settings import ContactSettings, ServerSettings, load_settings
from augur.contact.core import ContactCore
from augur.contact.model import ContactModel
from augur.contact.profile import probe_rows
from augur.contact.servicer import ContactServicer
from augur.contact.state import ContactState
from augur.contact.v1 import contact_pb2_grpc
from augur.features.store import RedisFeatureStore
from augur.ingest.erasure import StreamEraser
from augur.outreach.erasure import OutreachEraser

MODEL_NAME = "augur-contact"


def load_model(path: Path) -> ContactModel:
    """A registered model's artefact, compiled to native code for serving."""
    model = ContactModel.load(path)
    model.compile(path, probe_rows(model.priors))
    return model


def erasers(store: RedisFeatureStore) -> list[Eraser]:
    """Every other owner of customer data, asked by ForgetCustomer to erase what it holds."""
    return [
        RedisSnapshots(store.client, store.keys),
        StreamEraser(store.client, store.keys),
        OutreachEraser(store.client, store.keys),
    ]


async def build_spec(
    settings: ServerSettings, registry: CollectorRegistry | None = None
) -> ServiceSpec:
    assert isinstance(settings, ContactSettings)
    store = RedisFeatureStore.from_settings(settings)
    state = ContactState(store, settings.contact_retention_days)
    watcher = ModelWatcher.for_service(MODEL_NAME, load_model, settings, "contact", registry)
    await watcher.refresh()
    servicer = ContactServicer(ContactCore(state, watcher, settings, erasers(store)), watcher)

    def register(server: aio.Server) -> None:
        contact_pb2_grpc.add_ContactServiceServicer_to_server(servicer, server)

    async def ready() -> bool:
        return store.ping()  # without a model the activity profiles time the decisions

    async def close() -> None:
        store.close()

    return ServiceSpec(
        "contact",
        ["augur.contact.v1.ContactService"],
        register,
        ready,
        close,
        background=[watcher.watch],
    )


def serve() -> None:
    """Entry point of `augur serve contact`."""
    run(load_settings(ContactSettings), build_spec, "contact")
