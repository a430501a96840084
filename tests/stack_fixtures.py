"""Fixtures shared by the integration tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from augur.common.net import free_port
from augur.common.settings import ServerSettings
from tests.integration.gateway_stack import Stack, create_keys, start_backends

POSTGRES = os.environ.get("AUGUR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture
def mlflow_database() -> Any:
    """A fresh PostgreSQL database for an MLflow tracking server (dropped afterwards), as a
    SQLAlchemy URI."""
    psycopg2 = pytest.importorskip("psycopg2")
    database = f"augur_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(f"{POSTGRES}/postgres")
    except psycopg2.OperationalError as exc:
        pytest.fail(f"these tests need PostgreSQL at {POSTGRES}: {exc}")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"{POSTGRES.replace('postgresql://', 'postgresql+psycopg2://')}/{database}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


async def start_prometheus(config: dict[str, Any], directory: Path) -> tuple[Any, int]:
    """A real Prometheus (Debian's package) on a free port with this configuration."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: `make install` installs Debian's package")
    port = free_port()
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return proc, port


async def wait_http(url: str, within: float, proc: Any, log: Path) -> None:
    """Until ``url`` answers; fails naming ``log`` when ``proc`` exits or time runs out."""
    deadline = time.monotonic() + within
    while True:
        try:
            await asyncio.to_thread(urllib.request.urlopen, url, None, 2)
            return
        except OSError:
            if time.monotonic() > deadline or proc.returncode is not None:
                pytest.fail(f"{url} did not answer; see {log}")
            await asyncio.sleep(0.5)


@pytest.fixture
async def stack(
    settings: ServerSettings,
    tmp_path: Path,
    shop_data: Path,
    churn_trained: Any,
    recommend_trained: Any,
    contact_trained: Any,
) -> AsyncIterator[Stack]:
    s = await start_backends(
        settings, tmp_path, shop_data, churn_trained[0], recommend_trained[0], contact_trained[0]
    )
    s.tokens = create_keys(settings)
    yield s
    for server in s.backends.values():
        await server.stop(0)
