"""`augur train contact`: fit on all but the last ``test_days``, judge on them, refit on
everything, register, gate.

Gate: the response AUC on the test contacts must beat both baseline scorers
(the customer's own smoothed response rate on the channel, and the training
response rate of the (channel, local hour)) and must not be worse than the
current champion's AUC on the same test by more than ``gate_tolerance``; and
the off-policy value of the model's (channel, hour) policy must not be
significantly below the better of the two simple rules (best global hour per
channel, the customer's last engagement hour) on the same contacts: the
paired bootstrap 90 % interval of the difference entirely below zero refuses
the model. When that interval straddles zero the data cannot tell the policies
apart: the report says so, and an existing champion stays (a first model may
still serve on its AUC). The champion is judged by its artefact when it was
trained before the test window, otherwise by its recipe refitted on the same
training window.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm import tqdm

from augur.contact.model import ContactModel
from augur.contact.profile import FEATURES
from augur.training import registry
from augur.training.contact.dataset import ContactLog, build_log
from augur.training.contact.train import (
    POLICIES,
    ContactConfig,
    Evaluation,
    evaluate,
    features,
    fit,
)
from augur.training.data.loader import DataError, load_dataset

KIND = "contact"
DAY = 86400.0
MIN_CONTACTS = 500
BASELINES = ("channel_rate", "global_slot")  # scorers the response AUC must beat


def _champion_value(
    train: ContactLog, test: ContactLog, cutoff: float, state_dir: Path, cfg: ContactConfig
) -> tuple[float | None, str]:
    champion = registry.champion_artefact(KIND, state_dir)
    if champion is None:
        return None, "none"
    _, path = champion
    try:
        old = ContactModel.load(path)
    except ValueError:  # another format or feature layout: judge its recipe instead
        old = None
    if old is not None and float(old.extra.get("trained_until", np.inf)) <= cutoff:
        model, how = old, "artefact"
    else:
        recipe = old.extra.get("recipe", {}) if old is not None else {}
        known = {k: v for k, v in recipe.items() if k in ContactConfig.__dataclass_fields__}
        model, _ = fit(train, ContactConfig(**known))
        how = "recipe refit"
    return evaluate(model, train, test, cfg).metrics["auc"], how


def value_verdict(metrics: dict[str, float], has_champion: bool) -> tuple[str | None, str]:
    """(why the policy's value refuses the model, or None; the verdict in words) from the
    paired difference against the better simple rule (``train.value_gap``)."""
    rule = POLICIES[1 + int(metrics["policy_gap_rule"])]
    gap, low, high = (metrics[f"policy_gap{s}"] for s in ("", "_low", "_high"))
    span = f"model - {rule} {gap:+.4f} (90% CI {low:+.4f} to {high:+.4f})"
    if not np.isfinite(low) or not np.isfinite(high):
        words = f"policy value: too few matched contacts to compare with {rule}"
        return (words + "; the champion stays" if has_champion else None), words
    if high < 0:
        words = f"policy value significantly below the best simple rule: {span}"
        return words, words
    if low > 0:
        return None, f"policy value above the best simple rule: {span}"
    words = f"policy value: the intervals say nothing against {rule}: {span}"
    return (words + "; the champion stays" if has_champion else None), words


def _plots(ev: Evaluation, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (fpr, tpr) in ev.roc.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {ev.metrics[f'auc_{name}']:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Response model ROC per channel (test window)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    roc = directory / "roc_per_channel.png"
    fig.savefig(roc, dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    names = [*POLICIES, "logged"]
    values = [ev.metrics[f"policy_{n}"] for n in names]
    low = [
        ev.policies[n].low if n in ev.policies else v for n, v in zip(names, values, strict=True)
    ]
    high = [
        ev.policies[n].high if n in ev.policies else v for n, v in zip(names, values, strict=True)
    ]
    err = np.array([np.subtract(values, low), np.subtract(high, values)])
    ax.bar(names, values, yerr=np.maximum(err, 0), capsize=4)
    ax.set_ylabel("response rate (off-policy, SNIPS)")
    ax.set_title("Value of each (channel, hour) policy on the test contacts, 90 % CI")
    fig.tight_layout()
    pol = directory / "policy_value.png"
    fig.savefig(pol, dpi=90)
    plt.close(fig)
    return [roc, pol]


def train_contact(
    data: Path,
    tracking_uri: str,
    state_dir: Path,
    cfg: ContactConfig | None = None,
    progress: bool = True,
) -> registry.TrainReport:
    """Evaluate, refit on everything, log, register; promote when the gate passes."""
    cfg = cfg or ContactConfig()
    started = time.perf_counter()
    steps = tqdm(total=4, desc="contact", disable=not progress)
    ds = load_dataset(data, only=("contacts", "customers"))  # all the response model reads
    if len(ds.contacts) < MIN_CONTACTS:
        raise DataError(
            Path(data) / "contacts",
            f"{len(ds.contacts)} contacts; the response model needs at least {MIN_CONTACTS}",
        )
    steps.set_postfix_str("profiles before every contact")
    log = build_log(ds)
    data_end = float(log.time.max())
    cutoff = data_end - cfg.test_days * DAY
    train, test = log.select(log.time <= cutoff), log.select(log.time > cutoff)
    steps.update()
    steps.set_postfix_str("fit and judge on the test window")
    model, rounds_eval = fit(train, cfg)
    ev = evaluate(model, train, test, cfg)
    metrics = dict(ev.metrics)
    steps.update()
    registry.configure(tracking_uri, state_dir, "augur-contact")
    steps.set_postfix_str("champion on the same test")
    champion, how = _champion_value(train, test, cutoff, state_dir, cfg)
    if champion is not None:
        metrics["champion_auc_same_test"] = champion
    steps.update()
    steps.set_postfix_str("refit on all data")
    final, rounds = fit(log, cfg, rounds=rounds_eval)  # the rounds found on the test split
    final.extra = {"trained_until": data_end, "recipe": asdict(cfg), "rounds": rounds}
    steps.update()
    steps.close()
    best = max(BASELINES, key=lambda b: metrics[f"auc_baseline_{b}"])
    refusal, verdict = value_verdict(metrics, champion is not None)
    example = pd.DataFrame(
        features(log.select(np.arange(len(log)) < 2), final.priors), columns=list(FEATURES)
    )
    return registry.publish(
        registry.Candidate(
            kind=KIND,
            gate_metric="response AUC",
            value=metrics["auc"],
            baseline=metrics[f"auc_baseline_{best}"],
            champion=champion,
            tolerance=cfg.gate_tolerance,
            params={
                **asdict(cfg),
                "rounds_eval": rounds_eval,
                "rounds": rounds,
                "test_cutoff": str(pd.Timestamp(cutoff, unit="s", tz="UTC").date()),
                "trained_until": str(pd.Timestamp(data_end, unit="s", tz="UTC")),
                "champion_judged_by": how,
                "strongest_baseline": best,
                "value_verdict": verdict,
            },
            metrics=metrics,
            tags=registry.data_tags(data),
            rows={
                "contacts": len(log),
                "customers": len(log.customer_ids),
                "train_contacts": len(train),
                "test_contacts": len(test),
                "rounds": rounds,
            },
            pyfunc=Path(__file__).with_name("pyfunc.py"),
            save=final.save,
            plots=lambda directory: _plots(ev, directory),
            example=example,
            output=pd.DataFrame({"expected_response": final.predict(example.to_numpy())}),
            refusal=refusal,
        ),
        started,
    )
