"""Models served from the MLflow registry by alias, swapped in memory without restarts.

A ``ModelWatcher`` resolves ``models:/<name>@<alias>`` every few seconds; when
the alias points to a new version it downloads the artifacts into a local
cache, loads them in a worker thread and swaps one reference. Requests read
that reference once, so an in-flight request finishes on the model it
started with and no request ever sees a half-loaded model. When the registry
is unreachable the loaded model keeps serving; at start-up the watcher falls
back to the last version it cached locally.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge

from augur.common.errors import Unavailable
from augur.common.settings import ModelServiceSettings

log = logging.getLogger("augur.models")
M = TypeVar("M")


REGISTRY_CALL_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",  # an integer for MLflow
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}


def fail_fast_registry_calls() -> None:
    """A serving process asks the registry with one retry and a 5 s timeout (unless these
    MLflow variables are set): MLflow's client otherwise retries a refused connection with
    exponential back-off for minutes, and a service starting while the registry is down would
    wait that long before serving its cached model."""
    for name, value in REGISTRY_CALL_DEFAULTS.items():
        os.environ.setdefault(name, value)


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A loaded model and where it came from."""

    model: M
    name: str
    version: str
    alias: str
    loaded_at: float
    source: str  # "registry" or "cache"


class ServedModel(Protocol[M]):
    """What a core needs of the model it serves: the loaded one, or UNAVAILABLE."""

    def require(self) -> Loaded[M]: ...


class FixedModel(Generic[M]):
    """A model that never changes (unit tests of a core, one-off tools)."""

    def __init__(self, loaded: Loaded[M]) -> None:
        self.current = loaded

    def require(self) -> Loaded[M]:
        return self.current


_DOWNLOADING = threading.Lock()


def download_version(tracking_uri: str, name: str, version: str, cache: Path) -> Path:
    """A registered version's artifacts in the local cache (downloaded once, then reused)."""
    import mlflow

    target = cache / name / version
    # a progress bar per download on stderr helps nobody reading a service log or a report
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # mlflow resolves models:/ URIs with its process-wide registry URI (whatever is passed):
    # set it, one download at a time, so services sharing a process never mix their stores
    with _DOWNLOADING:
        if (target / ".complete").exists():
            return target
        target.mkdir(parents=True, exist_ok=True)
        mlflow.set_registry_uri(tracking_uri)
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}",
            dst_path=str(target),
            tracking_uri=tracking_uri,
            registry_uri=tracking_uri,
        )
        (target / ".complete").touch()
    return target


class ModelMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.info = Gauge(
            "augur_model_info",
            "1 for the model version being served.",
            ["service", "name", "version"],
            registry=registry,
        )
        self.reloads = Counter(
            "augur_model_reloads_total",
            "Model reload attempts by outcome.",
            ["service", "outcome"],
            registry=registry,
        )
        self.loaded_at = Gauge(
            "augur_model_loaded_timestamp_seconds",
            "When the served model was loaded (Unix time).",
            ["service"],
            registry=registry,
        )


class ModelWatcher(Generic[M]):
    """Keeps the model of one registered name and alias loaded and current."""

    def __init__(
        self,
        name: str,
        alias: str,
        loader: Callable[[Path], M],
        tracking_uri: str,
        cache_dir: Path,
        metrics: ModelMetrics,
        interval: float = 10.0,
    ) -> None:
        self.name = name
        self.alias = alias
        self.loader = loader
        self.tracking_uri = tracking_uri
        self.cache_dir = cache_dir
        self.metrics = metrics
        self.interval = interval
        self.current: Loaded[M] | None = None
        self._said = ""  # the last "no model" state logged

    @classmethod
    def for_service(
        cls,
        name: str,
        loader: Callable[[Path], M],
        settings: ModelServiceSettings,
        service: str,
        registry: CollectorRegistry | None = None,
    ) -> ModelWatcher[M]:
        """The watcher of a model service, configured from its settings."""
        fail_fast_registry_calls()
        return cls(
            name,
            settings.model_alias,
            loader,
            settings.mlflow_tracking_uri,
            settings.state_dir / "models",
            ModelMetrics(registry or CollectorRegistry(), service),
            settings.model_poll_seconds,
        )

    def require(self) -> Loaded[M]:
        current = self.current
        if current is None:
            raise Unavailable(f"no model loaded yet for {self.name}@{self.alias}")
        return current

    # ---------------------------------------------------------------- registry
    def _resolve(self) -> str:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return str(client.get_model_version_by_alias(self.name, self.alias).version)

    def _download(self, version: str) -> Path:
        target = download_version(self.tracking_uri, self.name, version, self.cache_dir)
        (self.cache_dir / self.name / "current.json").write_text(json.dumps({"version": version}))
        return target / "artifacts" / "model"

    def _load(self, version: str, path: Path, source: str) -> Loaded[M]:
        return Loaded(self.loader(path), self.name, version, self.alias, time.time(), source)

    async def refresh(self) -> bool:
        """Swap in the alias's version if it moved; True when a new model is served."""
        try:
            version = await asyncio.to_thread(self._resolve)
        except Exception as exc:
            if self.current is None:
                return await self._from_cache(exc)
            self.metrics.reloads.labels(self.metrics.service, "registry_unreachable").inc()
            log.warning(
                "registry unreachable; still serving",
                extra={
                    "model": self.name,
                    "version": self.current.version,
                    "error": type(exc).__name__,
                },
            )
            return False
        if self.current is not None and self.current.version == version:
            return False
        try:
            path = await asyncio.to_thread(self._download, version)
            loaded = await asyncio.to_thread(self._load, version, path, "registry")
        except Exception:
            self.metrics.reloads.labels(self.metrics.service, "failed").inc()
            log.exception("model load failed", extra={"model": self.name, "version": version})
            return False
        self._swap(loaded)
        return True

    async def _from_cache(self, exc: Exception) -> bool:
        pointer = self.cache_dir / self.name / "current.json"
        if not pointer.exists():
            # said once per state, not at every poll: a service that serves without a model
            # (next-best-contact) would otherwise log it every few seconds
            missing = getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"
            said = "no model registered yet" if missing else "registry unreachable"
            if said != self._said:
                self._said = said
                log.warning(
                    f"{said} and no cached model",
                    extra={"model": self.name, "alias": self.alias, "error": type(exc).__name__},
                )
            return False
        version = json.loads(pointer.read_text())["version"]
        path = self.cache_dir / self.name / version / "artifacts" / "model"
        loaded = await asyncio.to_thread(self._load, version, path, "cache")
        self._swap(loaded)
        return True

    def _swap(self, loaded: Loaded[M]) -> None:
        previous = self.current
        self.current = loaded  # one reference assignment: atomic for every reader
        # a model is long-lived: keep it out of the cycle collector's scans (tail latency)
        gc.collect()
        gc.freeze()
        if previous is not None:
            self.metrics.info.remove(self.metrics.service, self.name, previous.version)
        self.metrics.info.labels(self.metrics.service, self.name, loaded.version).set(1)
        self.metrics.loaded_at.labels(self.metrics.service).set(loaded.loaded_at)
        self.metrics.reloads.labels(self.metrics.service, "swapped").inc()
        log.info(
            "model swapped in",
            extra={
                "model": self.name,
                "version": loaded.version,
                "source": loaded.source,
                "previous": previous.version if previous else None,
            },
        )

    async def watch(self) -> None:
        """Poll the alias forever (a server background task)."""
        while True:
            await asyncio.sleep(self.interval)
            await self.refresh()
