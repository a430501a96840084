"""Shared fixtures: a unique Redis key prefix per test, settings, seeded data."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from augur.common.logs import JsonFormatter
from augur.common.settings import ServerSettings, load_settings
from augur.training.data.synthetic import SyntheticConfig, generate

REDIS_URL = os.environ.get("AUGUR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


IN_PROCESS_LOG = "in-process.log"


# the fixtures of the integration and system lanes (Redis-backed stacks, PostgreSQL for
# MLflow, Prometheus); defined once, for every lane
pytest_plugins = ["tests.stack_fixtures"]

LANES = ("unit", "integration", "system")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its lane, the folder it lives in (``-m unit`` selects the
    fast lane); tests marked ``last`` (the scan of every log the suite wrote) run after all
    others."""
    root = Path(__file__).parent
    for item in items:
        lane = item.path.relative_to(root).parts[0] if item.path.is_relative_to(root) else ""
        if lane in LANES:
            item.add_marker(getattr(pytest.mark, lane))
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


@pytest.fixture(scope="session")
def suite_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's logs are: every process a test starts writes under the session's
    temp directory, and the records of in-process servers go to ``in-process.log`` there."""
    return tmp_path_factory.getbasetemp()


@pytest.fixture(autouse=True)
def _in_process_log(suite_logs: Path) -> Iterator[None]:
    """Every log record of in-process code, at INFO as a service writes it, kept in a file."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "augur_suite", False)), None)
    if handler is None:  # added again when something replaced the root handlers
        handler = logging.FileHandler(suite_logs / IN_PROCESS_LOG)
        handler.setFormatter(JsonFormatter("tests"))
        handler.augur_suite = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    level = root.level
    root.setLevel(min(level, logging.INFO) or logging.INFO)
    yield
    root.setLevel(level)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"integration tests need Redis at {REDIS_URL} (make test starts one)")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix no other test or run uses; its keys are deleted afterwards."""
    value = f"augurtest-{uuid.uuid4().hex[:12]}"
    yield value
    keys = list(redis_client.scan_iter(match=f"{value}:*", count=1000))
    for start in range(0, len(keys), 1000):
        redis_client.unlink(*keys[start : start + 1000])


@pytest.fixture
def settings(prefix: str, tmp_path: Path) -> ServerSettings:
    return load_settings(
        ServerSettings,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        grpc_port=0,
        metrics_port=0,
        grace_seconds=5.0,
        state_dir=tmp_path / "state",
        consumer_block_ms=50,
    )


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small seeded synthetic data set (CSV), generated once per test session."""
    path = tmp_path_factory.mktemp("data")
    generate(path, SyntheticConfig(customers=300, items=120, days=200, seed=11))
    return path


@pytest.fixture(scope="session")
def shop_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo-size seeded shop (2,000 customers, one year), generated once per session."""
    path = tmp_path_factory.mktemp("shop")
    generate(path, SyntheticConfig(customers=2000, items=500, days=365, seed=7))
    return path


@pytest.fixture(scope="session")
def churn_trained(shop_data: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A churn model trained once per session into a temp sqlite MLflow store:
    (tracking uri, state dir, report)."""
    from augur.training.churn.train import train_churn

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    return uri, root, train_churn(shop_data, uri, root, progress=False)


@pytest.fixture(scope="session")
def recommend_trained(shop_data: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A recommender trained once per session into a temp sqlite MLflow store:
    (tracking uri, state dir, report)."""
    from augur.training.recommend.pipeline import train_recommend

    root = tmp_path_factory.mktemp("mlflow-recommend")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    return uri, root, train_recommend(shop_data, uri, root, progress=False)


@pytest.fixture(scope="session")
def contact_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded shop whose business contacts customers three times as often as the demo shop
    (enough answered contacts per customer to see personal channel and hour preferences)."""
    path = tmp_path_factory.mktemp("contact-shop")
    generate(path, SyntheticConfig(customers=3000, items=300, days=365, seed=5, contact_rate=3.0))
    return path


@pytest.fixture(scope="session")
def contact_trained(contact_data: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The response model trained once per session into a temp sqlite MLflow store:
    (tracking uri, state dir, report)."""
    from augur.training.contact.pipeline import train_contact

    root = tmp_path_factory.mktemp("mlflow-contact")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    return uri, root, train_contact(contact_data, uri, root, progress=False)
