"""Campaign measurement: treated vs holdout re-purchase and revenue, overall and by segment.

Population: every customer enrolled in the campaign's experiment (plans and triggers; the
arm stored by the contact service). A customer is *retained* when they ordered within
``window_days`` after enrolment (orders arrive through ingestion and are marked on the
experiment by the consumer); *revenue* is the value of those orders. Segments come from the
stored plans: the channel next-best-contact chose before assignment (so holdout customers
have one too, and per-channel comparisons are like for like) and the risk band at planning
time; customers enrolled by a trigger have channel TRIGGER.

Re-purchase uplift uses Newcombe's hybrid score interval (``contact.experiments.uplift``);
revenue uplift a Welch normal interval on the difference of means. Cost per retained
customer = planned contact cost / (absolute uplift x treated customers), given only when the
interval of the uplift lies above zero.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import redis

from augur.churn.v1 import churn_pb2
from augur.common.errors import InvalidArgument, NotFound
from augur.common.keys import Keys
from augur.common.v1 import common_pb2
from augur.contact.experiments import uplift
from augur.contact.v1 import contact_pb2
from augur.gateway.v1 import gateway_pb2

DAY = 86400.0


@dataclass
class Member:
    arm: str
    assigned: float
    channel: str = "TRIGGER"
    band: str = "UNKNOWN"
    cost: float = 0.0
    retained: bool = False
    revenue: float = 0.0


def _members(client: redis.Redis, keys: Keys, campaign: str) -> dict[str, Member]:
    raw: Any = client.hgetall(keys.experiment(campaign, "members"))
    out = {}
    for customer, value in raw.items():
        arm, ms = value.decode().split("|", 1)
        out[customer.decode()] = Member(arm, int(ms) / 1000.0)
    return out


def _plans(client: redis.Redis, keys: Keys, campaign: str, members: dict[str, Member]) -> int:
    days: Any = client.smembers(keys.outreach_days(campaign))
    planned = 0
    for day in sorted(d.decode() for d in days):
        rows: Any = client.hgetall(keys.outreach_plan(campaign, day))
        rows.pop(b"_meta", None)
        for customer, blob in rows.items():
            m = members.get(customer.decode())
            if m is None:
                continue
            row = gateway_pb2.ScheduledContact.FromString(blob)
            m.channel = common_pb2.Channel.Name(row.eligible_channel).removeprefix("CHANNEL_")
            m.band = churn_pb2.RiskBand.Name(row.risk_band).removeprefix("RISK_BAND_")
            m.cost = row.cost if row.arm == contact_pb2.ARM_TREATMENT else 0.0
            planned += 1
    return planned


def _outcomes(
    client: redis.Redis, keys: Keys, campaign: str, members: dict[str, Member], window: float
) -> None:
    orders: Any = client.hgetall(keys.experiment(campaign, "orders"))
    for field, value in orders.items():
        customer = field.decode().rsplit("|", 1)[0]
        m = members.get(customer)
        if m is None:
            continue
        at, amount = (float(x) for x in value.decode().split("|"))
        if 0 <= at - m.assigned <= window:
            m.retained = True
            m.revenue += amount
    firsts: Any = client.hgetall(keys.experiment(campaign, "out:ordered"))
    for customer, at in firsts.items():  # orders ingested before order values were kept
        m = members.get(customer.decode())
        if m is not None and 0 <= float(at) - m.assigned <= window:
            m.retained = True


def _revenue(treated: list[Member], holdout: list[Member], z: float) -> dict[str, float | None]:
    a = np.array([m.revenue for m in treated])
    b = np.array([m.revenue for m in holdout])
    if len(a) < 2 or len(b) < 2:
        return {
            "treated_mean": None,
            "holdout_mean": None,
            "uplift": None,
            "low": None,
            "high": None,
        }
    diff = float(a.mean() - b.mean())
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return {
        "treated_mean": float(a.mean()),
        "holdout_mean": float(b.mean()),
        "uplift": diff,
        "low": diff - z * se,
        "high": diff + z * se,
    }


def _group(name: str, members: list[Member], confidence: float) -> dict[str, Any]:
    treated = [m for m in members if m.arm == "treatment"]
    holdout = [m for m in members if m.arm == "holdout"]
    u = uplift(
        len(treated),
        sum(m.retained for m in treated),
        len(holdout),
        sum(m.retained for m in holdout),
        confidence,
    )
    cost = sum(m.cost for m in treated)
    per_retained = None
    if u.conclusive and u.low > 0 and treated:
        per_retained = cost / (u.absolute * len(treated)) if cost else 0.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return {
        "group": name,
        "treated": {
            "customers": u.treated_n,
            "retained": u.treated_successes,
            "rate": u.treated_rate,
        },
        "holdout": {
            "customers": u.holdout_n,
            "retained": u.holdout_successes,
            "rate": u.holdout_rate,
        },
        "absolute_uplift": u.absolute,
        "ci_low": u.low,
        "ci_high": u.high,
        "relative_uplift": None if math.isnan(u.relative) else u.relative,
        "conclusive": u.conclusive,
        "note": u.note,
        "revenue_per_customer": _revenue(treated, holdout, z),
        "cost": cost,
        "cost_per_retained_customer": per_retained,
    }


def campaign_report(
    client: redis.Redis,
    keys: Keys,
    campaign: str,
    window_days: int = 30,
    confidence: float = 0.95,
    now: float | None = None,
) -> dict[str, Any]:
    if not 1 <= window_days <= 365:
        raise InvalidArgument(f"window_days must be 1..365 (got {window_days})")
    if not 0.5 <= confidence <= 0.999:
        raise InvalidArgument(f"confidence must be 0.5..0.999 (got {confidence})")
    now = time.time() if now is None else now
    members = _members(client, keys, campaign)
    if not members:
        raise NotFound(f"no customer was ever enrolled in campaign '{campaign}'")
    planned = _plans(client, keys, campaign, members)
    window = window_days * DAY
    _outcomes(client, keys, campaign, members, window)
    everyone = list(members.values())
    groups = [_group("overall", everyone, confidence)]
    for attr in ("channel", "band"):
        split: dict[str, list[Member]] = defaultdict(list)
        for m in everyone:
            split[getattr(m, attr)].append(m)
        for value in sorted(split):
            groups.append(_group(f"{attr}={value}", split[value], confidence))
    open_windows = sum(m.assigned + window > now for m in everyone)
    notes = []
    if open_windows:
        notes.append(
            f"{open_windows} of {len(everyone)} customers were enrolled less than {window_days} "
            "days ago: their window is still open and the rates may still rise"
        )
    return {
        "campaign": campaign,
        "window_days": window_days,
        "confidence": confidence,
        "customers": len(everyone),
        "from_plans": planned,
        "generated_at": now,
        "notes": notes,
        "groups": groups,
    }


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """``<campaign>-report.json`` and ``<campaign>-uplift.png`` in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{report['campaign']}"
    json_path = stem.with_name(stem.name + "-report.json")
    tmp = json_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(json_path)
    groups = report["groups"]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(groups) + 1.6))
    ys = np.arange(len(groups))[::-1]
    for y, g in zip(ys, groups, strict=True):
        colour = "tab:green" if g["conclusive"] and g["ci_low"] > 0 else "tab:gray"
        ax.errorbar(
            100 * g["absolute_uplift"],
            y,
            xerr=[
                [100 * (g["absolute_uplift"] - g["ci_low"])],
                [100 * (g["ci_high"] - g["absolute_uplift"])],
            ],
            fmt="o",
            color=colour,
            capsize=4,
        )
        n = g["treated"]["customers"] + g["holdout"]["customers"]
        label = f"{g['group']}  (n={n})" + ("" if g["conclusive"] else "  too few")
        ax.text(1.01, y, label, transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks([])
    ax.set_xlabel(
        f"re-purchase uplift within {report['window_days']} days, percentage points "
        f"({report['confidence']:.0%} interval)"
    )
    ax.set_title(f"Campaign {report['campaign']}: treated minus holdout")
    fig.tight_layout()
    png = stem.with_name(stem.name + "-uplift.png")
    fig.savefig(png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return json_path, png
