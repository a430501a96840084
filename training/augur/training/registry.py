"""MLflow tracking and registry: experiments, aliases, the quality gate, rollback.

Every Augur model is registered as ``augur-<kind>`` and served by alias:
``champion`` is what services load. Promotions append to the registered
model's ``champion_history`` tag, so ``rollback`` can move the alias back.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from augur.common.models import download_version

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"


def model_name(kind: str) -> str:
    return f"augur-{kind}"


# what MLflow prints on its own while registering, which Augur's report already says better
_CHATTER = (
    re.compile(r"^Successfully registered model '"),
    re.compile(r"^Created version '\d+' of model '"),
    re.compile(r"^Registered model '.*' already exists"),
)


def quiet_mlflow() -> None:
    """Keep MLflow's progress bars and INFO lines out of Augur's reports (warnings stay)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


@contextlib.contextmanager
def _without_chatter() -> Iterator[None]:
    """MLflow's registration messages dropped, anything else it writes to stderr (a warning,
    an error) passed on unchanged."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            yield
    finally:
        kept = [
            line
            for line in captured.getvalue().splitlines(keepends=True)
            if not any(p.match(line) for p in _CHATTER)
        ]
        sys.stderr.write("".join(kept))


def configure(tracking_uri: str, state_dir: Path, experiment: str) -> str:
    """Point MLflow at the store; the experiment keeps artifacts under the state dir."""
    quiet_mlflow()
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None and tracking_uri.startswith(("http://", "https://")):
        # a tracking server keeps the artifacts itself (--artifacts-destination)
        exp_id = client.create_experiment(experiment)
    elif found is None:
        artifacts = (state_dir / "mlflow" / "artifacts").resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        exp_id = client.create_experiment(experiment, artifact_location=artifacts.as_uri())
    else:
        exp_id = found.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return str(exp_id)


def data_fingerprint(directory: Path) -> str:
    """SHA-256 over the data files (names and bytes), to tie a run to its data."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def champion_version(name: str) -> str | None:
    return alias_version(name, CHAMPION)


def alias_version(name: str, alias: str) -> str | None:
    """The version an alias of the registered model points to (always a str), or None."""
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def download(name: str, version: str, cache: Path) -> Path:
    """Artifacts of a registered version in the local cache of the configured store."""
    return download_version(mlflow.get_tracking_uri(), name, version, cache)


def _history(client: MlflowClient, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags
    raw = tags.get(HISTORY_TAG, "")
    return [v for v in raw.split(",") if v]


def promote(name: str, version: str) -> str | None:
    """Make ``version`` the champion; returns the previous champion version."""
    client = MlflowClient()
    previous = champion_version(name)
    if previous == version:
        return previous
    client.set_registered_model_alias(name, CHAMPION, version)
    history = [*_history(client, name), version][-50:]
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(history))
    return previous


def rollback(name: str) -> tuple[str, str]:
    """Move the champion back to the version promoted before it: (from, to)."""
    client = MlflowClient()
    history = _history(client, name)
    current = champion_version(name)
    if current is None or len(history) < 2:
        raise ValueError(f"{name} has no earlier champion to roll back to")
    if history[-1] != current:
        history.append(current)
    history.pop()
    target = history[-1]
    client.set_registered_model_alias(name, CHAMPION, target)
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(history))
    return current, target


@dataclass
class GateDecision:
    """Whether a new version may become champion, and why."""

    promote: bool
    reason: str


def quality_gate(
    metric: str, new: float, baseline: float, champion: float | None, tolerance: float
) -> GateDecision:
    """New must beat the baseline and not be worse than the champion beyond the tolerance."""
    if not new > baseline:
        return GateDecision(
            False, f"{metric} {new:.4f} does not beat the baseline ({baseline:.4f})"
        )
    if champion is not None and new < champion - tolerance:
        return GateDecision(
            False,
            f"{metric} {new:.4f} is worse than the champion's {champion:.4f} on the same test "
            f"by more than the tolerance {tolerance}",
        )
    versus = "no champion yet" if champion is None else f"champion {champion:.4f}"
    return GateDecision(True, f"{metric} {new:.4f} beats the baseline {baseline:.4f} ({versus})")


@dataclass
class Registered:
    run_id: str
    version: str


@dataclass
class TrainReport:
    """What a training run registered, the gate's verdict, and its figures."""

    run_id: str
    version: str
    promoted: bool
    gate_reason: str
    metrics: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def champion_artefact(kind: str, state_dir: Path) -> tuple[str, Path] | None:
    """(version, local model folder) of the current champion of ``augur-<kind>``, or None."""
    name = model_name(kind)
    version = champion_version(name)
    if version is None:
        return None
    return version, download(name, version, state_dir / "models") / "artifacts" / "model"


@dataclass
class Candidate:
    """A trained model ready to be judged and registered: the last steps every trainer shares
    (gate against the baseline and the champion on the same test, one MLflow run with the
    model, register, promote or keep as challenger) read everything from here."""

    kind: str
    gate_metric: str
    """The metric the gate decides on, as the report names it (e.g. "roc_auc")."""
    value: float
    baseline: float
    """The strongest baseline's value of that metric on the same test."""
    champion: float | None
    """The champion's value on the same test (None: no champion, or not comparable)."""
    tolerance: float
    params: dict[str, object]
    metrics: dict[str, float]
    tags: dict[str, str]
    rows: dict[str, int]
    pyfunc: Path
    save: Callable[[Path], object]
    """Writes the model's native files into the folder given."""
    plots: Callable[[Path], list[Path]]
    """Draws the run's plots into the folder given; returns their files."""
    example: Any
    output: Any
    """An input example and the matching output, for the model's signature."""
    refusal: str | None = None
    """Why the model must not serve whatever its metrics (a degenerate model), or None."""


def publish(candidate: Candidate, started: float) -> TrainReport:
    """Gate, log, register and report a trained model (the shared end of every trainer)."""
    from mlflow.models import infer_signature

    c = candidate
    decision = quality_gate(c.gate_metric, c.value, c.baseline, c.champion, c.tolerance)
    if c.refusal:  # refused whatever the metric says; both reasons when both refuse
        reason = c.refusal if decision.promote else f"{decision.reason}; {c.refusal}"
        decision = GateDecision(False, reason)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        c.save(model_dir)
        registered = log_and_register(
            c.kind,
            c.params,
            c.metrics,
            c.tags,
            c.plots(Path(tmp) / "plots"),
            model_dir,
            c.pyfunc,
            decision,
            signature=infer_signature(c.example, c.output),
            input_example=c.example,
        )
    return report(registered, decision, c.metrics, c.rows, started)


def report(
    registered: Registered,
    decision: GateDecision,
    metrics: dict[str, float],
    rows: dict[str, int],
    started: float,
) -> TrainReport:
    """The report of a run that began at ``started`` (``time.perf_counter()``)."""
    return TrainReport(
        registered.run_id,
        registered.version,
        decision.promote,
        decision.reason,
        metrics,
        rows,
        time.perf_counter() - started,
    )


def data_tags(data: Path) -> dict[str, str]:
    """The tags tying a run to its data."""
    return {"data_fingerprint": data_fingerprint(Path(data)), "data_path": str(data)}


def log_and_register(
    kind: str,
    params: dict[str, object],
    metrics: dict[str, float],
    tags: dict[str, str],
    plots: list[Path],
    model_dir: Path,
    pyfunc: Path,
    decision: GateDecision,
    signature: object = None,
    input_example: object = None,
) -> Registered:
    """One MLflow run with everything about a trained model, the model registered as a new
    version of ``augur-<kind>``; the version becomes champion when the gate passed,
    otherwise the challenger (the gate's reason is tagged on the version either way)."""
    import pandas as pd

    name = model_name(kind)
    with mlflow.start_run(run_name=f"{kind}-{pd.Timestamp.now(tz='UTC'):%Y%m%d-%H%M%S}") as run:
        mlflow.log_params(params)
        mlflow.log_metrics({k.replace("@", "_at_"): v for k, v in metrics.items()})
        mlflow.set_tags({**tags, "gate": decision.reason})
        for path in plots:
            mlflow.log_artifact(str(path), "plots")
        with _without_chatter():
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(pyfunc),
                artifacts={"model": str(model_dir)},
                signature=signature,
                input_example=input_example,
                registered_model_name=name,
            )
        version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_model_version_tag(name, version, "gate", decision.reason)
    if decision.promote:
        promote(name, version)
    else:
        client.set_registered_model_alias(name, CHALLENGER, version)
    return Registered(run.info.run_id, version)
