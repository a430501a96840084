"""The outreach planner as the gateway hosts it: its calls go through the gateway's backend
channels (deadlines, retries, circuit breakers), so the planner itself knows no transport."""

from __future__ import annotations

from augur.features.store import RedisFeatureStore
from augur.gateway.backends import Backends
from augur.gateway.routes import ROUTES
from augur.outreach.plan import Planner


def planner_over(backends: Backends, store: RedisFeatureStore) -> Planner:
    """A planner that reaches the services through ``backends``."""
    return Planner(
        lambda rpc, request, seconds: backends.unary(ROUTES[rpc], request, seconds),
        lambda rpc, request, seconds: backends.stream(ROUTES[rpc], request, seconds),
        store.client,
        store.keys,
    )
