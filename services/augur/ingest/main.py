"""Wiring of the features service and of the ingestion consumer process."""

from __future__ import annotations

import logging
import signal
import threading

from grpc import aio
from prometheus_client import CollectorRegistry

from augur.common.keys import Keys
from augur.common.logs import configure_logging
from augur.common.metrics import serve_metrics
from augur.common.server import ServiceSpec, run
from augur.common.settings import FeatureSettings, ServerSettings, load_settings
from augur.features.definitions import FEATURE_SET_VERSION
from augur.features.store import RedisFeatureStore, redis_client
from augur.features.v1 import features_pb2_grpc
from augur.ingest.consumer import Consumer
from augur.ingest.ingest import Ingestor
from augur.ingest.servicer import FeatureServicer

log = logging.getLogger("augur.features")


async def build_spec(
    settings: ServerSettings, registry: CollectorRegistry | None = None
) -> ServiceSpec:
    """The features service: its servicer, readiness (Redis answers) and clean-up."""
    client = redis_client(settings)
    store = RedisFeatureStore(
        client, Keys(settings.redis_prefix, FEATURE_SET_VERSION), settings.feature_ttl_seconds
    )
    servicer = FeatureServicer(Ingestor(client, settings), store, settings.ingest_shards)

    def register(server: aio.Server) -> None:
        features_pb2_grpc.add_FeatureServiceServicer_to_server(servicer, server)

    async def ready() -> bool:
        return store.ping()

    async def close() -> None:
        client.close()

    return ServiceSpec("features", ["augur.features.v1.FeatureService"], register, ready, close)


def serve() -> None:
    """Entry point of `augur serve features`."""
    run(load_settings(ServerSettings), build_spec, "features")


def consumer_client(settings: FeatureSettings):  # type: ignore[no-untyped-def]
    """A client whose timeout outlasts the consumer's blocking read."""
    longer = settings.model_copy(
        update={"redis_timeout_ms": settings.redis_timeout_ms + settings.consumer_block_ms}
    )
    return redis_client(longer)


def consume(shard: int, metrics_port: int | None = None) -> None:
    """Entry point of `augur consume`: run one shard's consumer until SIGTERM/SIGINT."""
    settings = load_settings(ServerSettings)
    configure_logging(f"consumer-{shard}", settings.log_level)
    registry = CollectorRegistry()
    port = settings.metrics_port if metrics_port is None else metrics_port
    bound = serve_metrics(registry, settings.grpc_host, port)
    consumer = Consumer(consumer_client(settings), settings, shard, registry)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("consuming", extra={"shard": shard, "metrics_port": bound})
    consumer.run(stop.is_set)
    log.info("stopped")
