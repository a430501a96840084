"""TLS at the gateway: clients must present a certificate (mutual TLS) on gRPC and HTTPS, and
the gateway talks mutual TLS to a backend that accepts no one else."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest

from augur.churn.main import build_spec as build_churn
from augur.churn.v1 import churn_pb2, churn_pb2_grpc
from augur.common.server import AugurServer
from augur.common.settings import ChurnSettings, GatewaySettings, ServerSettings, load_settings
from augur.features.store import RedisFeatureStore
from augur.gateway.keys import KeyStore
from augur.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from augur.training.data.loader import load_dataset
from augur.training.offline.batch import materialise
from augur.training.offline.stream import compute_features
from tests.integration.gateway_stack import running_gateway, wait_serving


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(root: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and two client certificates."""
    ca_key, ca = root / "ca.key", root / "ca.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=augur-test-ca", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    out = {"ca": ca}
    ext = root / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "gateway-client", "app-client"):
        key, csr, cert = root / f"{name}.key", root / f"{name}.csr", root / f"{name}.pem"
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(key), "-out", str(csr))  # fmt: skip
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-days", "2", "-extfile", str(ext),
                 "-out", str(cert))  # fmt: skip
        out[f"{name}.key"], out[f"{name}.pem"] = key, cert
    return out


async def test_mutual_tls_for_clients_and_to_the_backend(
    settings: ServerSettings, tmp_path: Path, shop_data: Path, churn_trained: Any
) -> None:
    pki = make_pki(tmp_path)
    ds = load_dataset(shop_data)
    materialise(
        compute_features(ds, ds.orders["timestamp"].max()),
        RedisFeatureStore.from_settings(settings),
    )
    customer = sorted(set(ds.orders["customer_id"]))[0]
    cs = load_settings(
        ChurnSettings,
        **{
            **settings.model_dump(),
            "mlflow_tracking_uri": churn_trained[0],
            "state_dir": tmp_path / "churn",
            "tls_cert_file": str(pki["server.pem"]),
            "tls_key_file": str(pki["server.key"]),
            "tls_client_ca_file": str(pki["ca"]),
        },
    )
    backend = AugurServer(cs, await build_churn(cs), readiness_interval=0.05)
    bport = await backend.start(serve_metrics_endpoint=False)
    ca = pki["ca"].read_bytes()
    app = grpc.ssl_channel_credentials(
        ca, pki["app-client.key"].read_bytes(), pki["app-client.pem"].read_bytes()
    )
    await wait_serving(bport, credentials=app)
    # the backend itself refuses a client without a certificate
    async with grpc.aio.secure_channel(
        f"127.0.0.1:{bport}", grpc.ssl_channel_credentials(ca)
    ) as bare:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await churn_pb2_grpc.ChurnServiceStub(bare).Score(
                churn_pb2.ScoreRequest(customer_id=customer), timeout=3
            )
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    gs = load_settings(
        GatewaySettings,
        **{
            **settings.model_dump(),
            "grpc_port": 0,
            "gateway_http_port": 0,
            # nginx checks a backend certificate by DNS name (not by IP address)
            "gateway_backends": f"churn=localhost:{bport}",
            "tls_cert_file": str(pki["server.pem"]),
            "tls_key_file": str(pki["server.key"]),
            "tls_client_ca_file": str(pki["ca"]),
            "gateway_backend_ca_file": str(pki["ca"]),
            "gateway_backend_cert_file": str(pki["gateway-client.pem"]),
            "gateway_backend_key_file": str(pki["gateway-client.key"]),
        },
    )
    _, token = KeyStore(RedisFeatureStore.from_settings(gs)).create("crm", ["churn", "gateway"])
    md = (("x-api-key", token),)
    async with running_gateway(gs, credentials=app) as gw:
        address = f"127.0.0.1:{gw.ports.grpc}"
        async with grpc.aio.secure_channel(address, app) as channel:
            reply = await churn_pb2_grpc.ChurnServiceStub(channel).Score(
                churn_pb2.ScoreRequest(customer_id=customer), metadata=md, timeout=5
            )
            assert reply.customer_id == customer and 0 <= reply.probability <= 1
            # composition: the gateway's own call to the backend over mutual TLS
            insight = await gateway_pb2_grpc.GatewayServiceStub(channel).CustomerInsight(
                gateway_pb2.CustomerInsightRequest(customer_id=customer), metadata=md, timeout=5
            )
            assert insight.churn.customer_id == customer
            assert {m.part for m in insight.missing} == {"recommendations", "contact"}
        # no client certificate, or no TLS at all: refused
        for channel in (
            grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(ca)),
            grpc.aio.insecure_channel(address),
        ):
            async with channel:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await churn_pb2_grpc.ChurnServiceStub(channel).Score(
                        churn_pb2.ScoreRequest(customer_id=customer), metadata=md, timeout=3
                    )
                assert err.value.code() in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.UNKNOWN,
                    grpc.StatusCode.INTERNAL,
                )
        # REST over HTTPS with the client certificate
        context = ssl.create_default_context(cafile=str(pki["ca"]))
        context.load_cert_chain(str(pki["app-client.pem"]), str(pki["app-client.key"]))
        request = urllib.request.Request(
            f"https://127.0.0.1:{gw.ports.http}/v1/churn/Score",
            data=json.dumps({"customerId": customer}).encode(),
            headers={"x-api-key": token, "Content-Type": "application/json"},
        )

        def fetch() -> dict[str, Any]:
            with urllib.request.urlopen(request, context=context, timeout=10) as r:
                return dict(json.loads(r.read()))

        assert (await asyncio.to_thread(fetch))["customerId"] == customer
    await backend.stop(0)
