"""Fit the response model and judge it: AUC per channel, and the value of the
(channel, hour) policy it induces, estimated off-policy from the logged contacts.

Off-policy value: for each logged test contact the policy picks a (channel,
local hour) on the contact's own local day among the channels the customer
had consented to and the hours the business actually sends at; the value is
the self-normalised inverse-propensity estimate (SNIPS) over the contacts whose
logged action matches the pick, with the logging propensity
P(channel | consented set) x P(hour) estimated on the training contacts, and a
bootstrap interval. Baselines judged the same way: "the best global hour per
channel" and "the customer's last engagement (channel, hour)".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score

from augur.contact.model import ContactModel
from augur.contact.profile import CATEGORICAL, FEATURES, Priors, feature_rows
from augur.features.definitions import CHANNELS
from augur.training.contact.dataset import ContactLog

HOUR_SUPPORT_SHARE = 0.005
MONOTONE = (
    "channel_open_rate",
    "hour_open_rate",
    "daytype_hour_open_rate",
    "personal_estimate",
    "channel_lift",
    "hour_lift",
)  # hours the logging policy uses less than this are out of support


@dataclass
class ContactConfig:
    test_days: int = 60
    valid_days: int = 30
    num_leaves: int = 31
    learning_rate: float = 0.05
    max_rounds: int = 600
    min_child_samples: int = 40
    early_stopping: int = 40
    min_history: int = 5
    bootstrap: int = 200
    policy_sample: int = 100_000  # test contacts the off-policy values are estimated on (seeded)
    gate_tolerance: float = 0.01  # AUC
    seed: int = 7
    dask: str = ""  # "" single machine; "local:N" or a scheduler address: LightGBM on Dask


def priors_of(log: ContactLog) -> Priors:
    rate = float(log.opened.mean()) if len(log) else 0.1
    channel = np.array(
        [
            (log.opened[log.channel == c].sum() + 10 * rate) / ((log.channel == c).sum() + 10)
            for c in range(len(CHANNELS))
        ]
    )
    return Priors(channel, rate)


def features(log: ContactLog, priors: Priors) -> np.ndarray:
    return feature_rows(
        log.counts,
        log.last,
        log.channel,
        log.hour,
        log.dow,
        log.purpose,
        log.time,
        log.last[:, 0],
        log.contacts_7d,
        priors,
    )


def _params(cfg: ContactConfig) -> dict[str, object]:
    return {
        "objective": "binary",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_child_samples": cfg.min_child_samples,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.9,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": cfg.seed,
        "deterministic": True,
        "num_threads": 2,
        "verbose": -1,
        # a higher personal response rate never lowers the prediction: keeps the ranking of
        # one customer's candidates faithful to their own history
        "monotone_constraints": [int(f in MONOTONE) for f in FEATURES],
        "monotone_constraints_method": "advanced",
    }


def fit(log: ContactLog, cfg: ContactConfig, rounds: int = 0) -> tuple[ContactModel, int]:
    """Boosting rounds chosen by early stopping on the last ``valid_days`` (time split),
    then refit with that many rounds on all of ``log``; ``rounds`` > 0 skips the search."""
    priors = priors_of(log)
    X, y = features(log, priors), log.opened.astype(float)
    split = log.time.max() - cfg.valid_days * 86400.0
    early = log.time <= split
    cats = [FEATURES.index(c) for c in CATEGORICAL]
    params = _params(cfg)
    search = not rounds and early.sum() > 1000 and (~early).sum() > 200
    rounds = rounds or cfg.max_rounds
    if cfg.dask:
        from augur.training.distributed import fit_booster

        if search:
            probe = fit_booster(
                cfg.dask,
                params,
                X[early],
                y[early],
                cfg.max_rounds,
                stop=(X[~early], y[~early]),
                categorical=cats,
            )
            rounds = max(probe.current_iteration(), 20)
        booster = fit_booster(cfg.dask, params, X, y, rounds, categorical=cats)
        return ContactModel(booster, priors, cfg.min_history), rounds
    if search:
        train = lgb.Dataset(X[early], y[early], categorical_feature=cats, free_raw_data=False)
        valid = lgb.Dataset(X[~early], y[~early], reference=train, categorical_feature=cats)
        probe = lgb.train(
            params,
            train,
            cfg.max_rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(cfg.early_stopping, verbose=False)],
        )
        rounds = max(probe.best_iteration, 20)
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=cats), rounds)
    return ContactModel(booster, priors, cfg.min_history), rounds


# ---------------------------------------------------------------- evaluation


@dataclass
class Propensity:
    """The logging policy, estimated: P(channel | consented set) and P(local hour)."""

    channel: np.ndarray  # (16, 4) per consent bitmask
    hour: np.ndarray  # (24,)

    @classmethod
    def estimate(cls, log: ContactLog) -> Propensity:
        mask = _bitmask(log.allowed)
        counts = np.zeros((16, len(CHANNELS)))
        np.add.at(counts, (mask, log.channel), 1)
        allowed_of = (np.arange(16)[:, None] >> np.arange(len(CHANNELS))[None, :]) & 1
        smoothed = (counts + 0.5) * allowed_of
        channel = smoothed / np.maximum(smoothed.sum(1, keepdims=True), 1e-12)
        hour = np.bincount(log.hour, minlength=24) / max(len(log), 1)
        return cls(channel, hour)

    def support(self) -> np.ndarray:
        return np.flatnonzero(self.hour >= HOUR_SUPPORT_SHARE)

    def of(self, log: ContactLog) -> np.ndarray:
        return self.channel[_bitmask(log.allowed), log.channel] * self.hour[log.hour]


def _bitmask(allowed: np.ndarray) -> np.ndarray:
    return (allowed.astype(np.int64) << np.arange(allowed.shape[1])).sum(1)


BULK_THREADS = 2
CHOICE_BLOCK = 8192  # contacts scored per block: (block x channels x hours) feature rows


def model_choice(model: ContactModel, log: ContactLog, hours: np.ndarray) -> np.ndarray:
    """(n, 2) channel and hour the model would pick for each logged contact's day, scored in
    blocks of contacts so memory stays bounded on large logs."""
    out = np.empty((len(log), 2), dtype=np.int64)
    for start in range(0, len(log), CHOICE_BLOCK):
        rows = np.arange(start, min(start + CHOICE_BLOCK, len(log)))
        out[rows] = _block_choice(model, log, rows, hours)
    return out


def _block_choice(
    model: ContactModel, log: ContactLog, rows: np.ndarray, hours: np.ndarray
) -> np.ndarray:
    n, C, H = len(rows), len(CHANNELS), len(hours)
    row = np.repeat(rows, C * H)
    ch = np.tile(np.repeat(np.arange(C), H), n)
    hr = np.tile(hours, n * C)
    day_start = log.time - ((log.time + log.offset) % 86400.0)
    send = day_start[row] + hr * 3600.0
    X = feature_rows(
        log.counts[row],
        log.last[row],
        ch,
        hr,
        log.dow[row],
        log.purpose[row],
        send,
        log.last[row, 0],
        log.contacts_7d[row],
        model.priors,
    )
    score = model.predict(X, threads=BULK_THREADS).reshape(n, C, H)
    score = np.where(log.allowed[rows][:, :, None], score, -np.inf)
    flat = score.reshape(n, -1).argmax(1)
    return np.column_stack([flat // H, hours[flat % H]])


def slot_rates(train: ContactLog) -> np.ndarray:
    """(channel, local hour) response rates of the training contacts, lightly smoothed."""
    sent = np.zeros((len(CHANNELS), 24))
    opened = np.zeros((len(CHANNELS), 24))
    np.add.at(sent, (train.channel, train.hour), 1)
    np.add.at(opened, (train.channel, train.hour), train.opened)
    return (opened + 1) / (sent + 10)


def global_choice(train: ContactLog, log: ContactLog, hours: np.ndarray) -> np.ndarray:
    """Best global (channel, hour) by training response rate, among consented channels."""
    rate = slot_rates(train)[:, hours]
    best_hour = hours[rate.argmax(1)]
    channel_rate = np.where(log.allowed, rate.max(1)[None, :], -np.inf)
    ch = channel_rate.argmax(1)
    return np.column_stack([ch, best_hour[ch]])


def last_engagement_choice(train: ContactLog, log: ContactLog, hours: np.ndarray) -> np.ndarray:
    """The channel and local hour of the customer's last open; the global best otherwise."""
    out = global_choice(train, log, hours)
    loh, loc = log.last[:, 2], log.last[:, 3]
    known = ~np.isnan(loc)
    ok = known.copy()
    ok[known] = log.allowed[np.flatnonzero(known), loc[known].astype(int)]
    out[ok, 0] = loc[ok].astype(int)
    out[ok, 1] = loh[ok].astype(int)
    return out


@dataclass
class PolicyValue:
    value: float
    low: float
    high: float
    matched: int


def policy_values(
    choices: dict[str, np.ndarray], log: ContactLog, propensity: np.ndarray, boot: int, seed: int
) -> tuple[dict[str, PolicyValue], dict[str, np.ndarray]]:
    """SNIPS estimate of the response rate each policy would get, with a bootstrap 90 % CI;
    every policy on the same resamples, so their differences can be judged paired (the
    draws are returned too, NaN where a resample matched nothing)."""
    r = log.opened.astype(float)
    rng = np.random.default_rng(seed)
    resamples = [rng.integers(0, len(log), len(log)) for _ in range(boot)]
    values: dict[str, PolicyValue] = {}
    draws: dict[str, np.ndarray] = {}
    for name, choice in choices.items():
        match = (choice[:, 0] == log.channel) & (choice[:, 1] == log.hour)
        w = np.where(match, 1.0 / np.maximum(propensity, 1e-6), 0.0)

        def snips(idx: np.ndarray, w: np.ndarray = w) -> float:
            den = w[idx].sum()
            return float((w[idx] * r[idx]).sum() / den) if den > 0 else float("nan")

        drawn = np.array([snips(idx) for idx in resamples])
        finite = drawn[np.isfinite(drawn)]
        low, high = np.quantile(finite, [0.05, 0.95]) if len(finite) else (np.nan, np.nan)
        values[name] = PolicyValue(
            snips(np.arange(len(log))), float(low), float(high), int(match.sum())
        )
        draws[name] = drawn
    return values, draws


def value_gap(draws: dict[str, np.ndarray], values: dict[str, PolicyValue]) -> dict[str, float]:
    """The model's policy against the better simple rule on the same contacts: the rule, the
    difference of values and its paired bootstrap 90 % interval (metrics)."""
    rules = [p for p in POLICIES if p != "model"]
    best = max(rules, key=lambda p: np.nan_to_num(values[p].value, nan=-1.0))
    diff = draws["model"] - draws[best]
    diff = diff[np.isfinite(diff)]
    low, high = np.quantile(diff, [0.05, 0.95]) if len(diff) else (np.nan, np.nan)
    return {
        "policy_gap": values["model"].value - values[best].value,
        "policy_gap_low": float(low),
        "policy_gap_high": float(high),
        "policy_gap_rule": float(rules.index(best)),
    }


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


@dataclass
class Evaluation:
    metrics: dict[str, float] = field(default_factory=dict)
    roc: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    policies: dict[str, PolicyValue] = field(default_factory=dict)


POLICIES = ("model", "global_best_hour", "last_engagement_hour")


def evaluate(
    model: ContactModel, train: ContactLog, test: ContactLog, cfg: ContactConfig
) -> Evaluation:
    from sklearn.metrics import roc_curve

    out = Evaluation()
    X = features(test, model.priors)
    p = model.predict(X, threads=BULK_THREADS)
    y = test.opened
    out.metrics["auc"] = _auc(y, p)
    # the baseline scorers the gate compares with, on the same contacts
    out.metrics["auc_baseline_channel_rate"] = _auc(y, X[:, FEATURES.index("channel_open_rate")])
    out.metrics["auc_baseline_global_slot"] = _auc(y, slot_rates(train)[test.channel, test.hour])
    out.metrics["test_contacts"] = float(len(test))
    out.metrics["test_response_rate"] = float(y.mean()) if len(y) else float("nan")
    for c, name in enumerate(CHANNELS):
        rows = test.channel == c
        yc = y[rows]
        if 0 < yc.sum() < len(yc):
            out.metrics[f"auc_{name}"] = float(roc_auc_score(yc, p[rows]))
            fpr, tpr, _ = roc_curve(yc, p[rows])
            out.roc[name] = (fpr, tpr)
        out.metrics[f"contacts_{name}"] = float(rows.sum())
    prop = Propensity.estimate(train)
    hours = prop.support()
    if len(test) > cfg.policy_sample:  # the model scores every (channel, hour) of a contact
        picked = np.random.default_rng(cfg.seed).choice(len(test), cfg.policy_sample, replace=False)
        test = test.select(np.isin(np.arange(len(test)), picked))
    out.metrics["policy_contacts"] = float(len(test))
    logged = prop.of(test)
    choices = {
        "model": model_choice(model, test, hours),
        "global_best_hour": global_choice(train, test, hours),
        "last_engagement_hour": last_engagement_choice(train, test, hours),
    }
    values, draws = policy_values(choices, test, logged, cfg.bootstrap, cfg.seed)
    for name, v in values.items():
        out.policies[name] = v
        out.metrics[f"policy_{name}"] = v.value
        out.metrics[f"policy_{name}_low"] = v.low
        out.metrics[f"policy_{name}_high"] = v.high
        out.metrics[f"policy_{name}_matched"] = float(v.matched)
    out.metrics.update(value_gap(draws, values))
    out.metrics["policy_logged"] = out.metrics["test_response_rate"]
    return out
