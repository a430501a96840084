"""The campaign report on a campaign with a planted treatment effect: the interval contains
the planted uplift (re-purchase and revenue); a small campaign says it is too small; the
chart and JSON are written; `augur outreach report` prints the table."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from augur.churn.v1 import churn_pb2
from augur.cli.main import main
from augur.common.settings import ServerSettings
from augur.common.v1 import common_pb2
from augur.contact.experiment_store import ExperimentStore
from augur.contact.v1 import contact_pb2
from augur.features.store import RedisFeatureStore
from augur.gateway.v1 import gateway_pb2
from augur.outreach.report import campaign_report, write_report

DAY = 86400.0
BASE, EFFECT, VALUE = 0.20, 0.10, 50.0


def _plant(settings: ServerSettings, campaign: str, n: int, seed: int) -> None:
    """n customers, a third held out, enrolled 60 days ago; holdout customers re-purchase
    within 30 days with probability BASE, treated ones BASE + EFFECT; one order of VALUE
    each; plus orders after the window that must not count."""
    store = RedisFeatureStore.from_settings(settings)
    state = ExperimentStore(store)
    rng = np.random.default_rng(seed)
    now = time.time()
    enrolled = now - 60 * DAY
    ids = [f"{campaign}-{i:05d}" for i in range(n)]
    holdout = rng.random(n) < 1 / 3
    state.register_share(campaign, 1 / 3, enrolled)
    state.enroll(campaign, list(zip(ids, holdout.tolist(), strict=True)), enrolled, write=True)
    rows = {}
    for i, c in enumerate(ids):
        channel = (common_pb2.CHANNEL_EMAIL, common_pb2.CHANNEL_SMS)[i % 2]
        row = gateway_pb2.ScheduledContact(
            customer_id=c,
            campaign=campaign,
            arm=contact_pb2.ARM_HOLDOUT if holdout[i] else contact_pb2.ARM_TREATMENT,
            risk_band=(churn_pb2.RISK_BAND_MEDIUM, churn_pb2.RISK_BAND_HIGH)[i % 3 == 0],
            eligible_channel=channel,
            cost=0.0 if holdout[i] else 0.05,
        )
        rows[c] = row.SerializeToString()
    day = "2026-01-01"
    store.client.hset(store.keys.outreach_plan(campaign, day), mapping=rows)
    store.client.sadd(store.keys.outreach_days(campaign), day)
    rate = np.where(holdout, BASE, BASE + EFFECT)
    bought = rng.random(n) < rate
    orders = [
        (c, enrolled + rng.uniform(0.1, 29.9) * DAY, f"o-{c}", VALUE)
        for c, b in zip(ids, bought, strict=True)
        if b
    ]
    orders += [(c, enrolled + 45 * DAY, f"late-{c}", VALUE) for c in ids[::4]]
    state.record_orders(orders)


def test_the_interval_contains_the_planted_uplift(settings: ServerSettings, tmp_path: Path) -> None:
    _plant(settings, "planted", 6000, seed=4)
    store = RedisFeatureStore.from_settings(settings)
    report = campaign_report(store.client, store.keys, "planted", window_days=30)
    overall = report["groups"][0]
    assert overall["group"] == "overall" and overall["conclusive"]
    assert overall["ci_low"] <= EFFECT <= overall["ci_high"]
    assert overall["ci_low"] > 0
    assert overall["relative_uplift"] == pytest.approx(
        overall["absolute_uplift"] / overall["holdout"]["rate"]
    )
    revenue = overall["revenue_per_customer"]
    assert revenue["low"] <= EFFECT * VALUE <= revenue["high"]
    treated = overall["treated"]["customers"]
    assert overall["cost"] == pytest.approx(0.05 * treated)
    assert overall["cost_per_retained_customer"] == pytest.approx(
        overall["cost"] / (overall["absolute_uplift"] * treated)
    )
    names = [g["group"] for g in report["groups"]]
    assert names == ["overall", "channel=EMAIL", "channel=SMS", "band=HIGH", "band=MEDIUM"]
    for g in report["groups"][1:]:
        assert g["ci_low"] <= EFFECT <= g["ci_high"]
    json_path, png = write_report(report, tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(json_path.read_text())["groups"][0]["group"] == "overall"


def test_a_small_campaign_says_it_is_too_small(
    settings: ServerSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _plant(settings, "tiny", 40, seed=1)
    store = RedisFeatureStore.from_settings(settings)
    report = campaign_report(store.client, store.keys, "tiny", window_days=30)
    assert not report["groups"][0]["conclusive"]
    assert "too few" in report["groups"][0]["note"]
    assert report["groups"][0]["cost_per_retained_customer"] is None
    monkeypatch.setenv("AUGUR_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("AUGUR_REDIS_PREFIX", settings.redis_prefix)
    assert main(["outreach", "report", "tiny", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "too few customers" in out and "tiny-uplift.png" in out
    assert main(["outreach", "report", "nobody", "--out", str(tmp_path)]) == 2
    assert "no customer was ever enrolled" in capsys.readouterr().err
