"""The catalogue of public RPCs behind the gateway, read from the protobuf descriptors.

Every route is one RPC: its gRPC path (``/augur.churn.v1.ChurnService/Score``), its REST
path (``/v1/churn/Score``), its request and response classes, whether the server streams,
and whether it is an idempotent read (the only calls the gateway ever retries).
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

# importing the generated modules registers every Augur service in the descriptor pool
from augur.churn.v1 import churn_pb2  # noqa: F401  # isort: skip
from augur.contact.v1 import contact_pb2  # noqa: F401  # isort: skip
from augur.features.v1 import features_pb2  # noqa: F401  # isort: skip
from augur.gateway.v1 import gateway_pb2  # noqa: F401  # isort: skip
from augur.recommend.v1 import recommend_pb2  # noqa: F401  # isort: skip

SERVICES = {
    "churn": "augur.churn.v1.ChurnService",
    "recommend": "augur.recommend.v1.RecommendService",
    "contact": "augur.contact.v1.ContactService",
    "features": "augur.features.v1.FeatureService",
    "gateway": "augur.gateway.v1.GatewayService",
}
BACKENDS = ("churn", "recommend", "contact", "features")
"""Services answered by their own process; ``gateway`` is answered by the gateway itself."""

READS = frozenset(
    {
        "churn.Score",
        "churn.ScoreBatch",
        "churn.ListAtRisk",
        "recommend.Recommend",
        "recommend.SimilarItems",
        "recommend.AnticipateNext",
        "recommend.BatchRecommend",
        "contact.NextBestContact",  # records a first-time holdout assignment, idempotently
        "contact.GetContactPolicy",
        "contact.UpliftReport",
        "features.GetFeatures",
        "features.GetIngestionStatus",
        "gateway.CustomerInsight",
        "gateway.NextBestAction",
    }
)


@dataclass(frozen=True)
class Route:
    service: str
    """Short name: churn, recommend, contact, features, gateway."""
    method: MethodDescriptor
    request: type[Message]
    response: type[Message]

    @property
    def rpc(self) -> str:
        """``churn.Score``: the name scopes and metrics use."""
        return f"{self.service}.{self.method.name}"

    @property
    def grpc_path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def rest_path(self) -> str:
        return f"/v1/{self.service}/{self.method.name}"

    @property
    def streaming(self) -> bool:
        return bool(self.method.server_streaming)

    @property
    def read(self) -> bool:
        return self.rpc in READS


def _routes() -> dict[str, Route]:
    pool = descriptor_pool.Default()
    out = {}
    for short, full in SERVICES.items():
        for method in pool.FindServiceByName(full).methods:
            route = Route(
                short,
                method,
                message_factory.GetMessageClass(method.input_type),
                message_factory.GetMessageClass(method.output_type),
            )
            out[route.rpc] = route
    return out


ROUTES = _routes()
"""Every public RPC by ``service.Rpc``."""
BY_GRPC_PATH = {r.grpc_path: r for r in ROUTES.values()}
BY_REST_PATH = {r.rest_path: r for r in ROUTES.values()}
