"""The response model's value gate: a policy significantly below the better simple rule is
refused; when the paired interval says nothing the champion stays; the paired bootstrap
sees a difference that two separate intervals would hide."""

from __future__ import annotations

import numpy as np

from augur.training.contact.pipeline import value_verdict
from augur.training.contact.train import PolicyValue, value_gap


def _gap(gap: float, low: float, high: float, rule: int = 0) -> dict[str, float]:
    return {
        "policy_gap": gap,
        "policy_gap_low": low,
        "policy_gap_high": high,
        "policy_gap_rule": float(rule),
    }


def test_a_policy_losing_to_the_best_global_hour_is_refused_with_or_without_a_champion() -> None:
    for champion in (False, True):
        refusal, words = value_verdict(_gap(-0.010, -0.018, -0.002), champion)
        assert words == refusal  # refused: the verdict is the reason
        assert refusal is not None and "significantly below" in refusal
        assert "global_best_hour" in refusal and "-0.0180 to -0.0020" in refusal


def test_an_inconclusive_interval_keeps_the_champion_and_says_so() -> None:
    refusal, words = value_verdict(_gap(-0.004, -0.012, 0.006, rule=1), has_champion=True)
    assert refusal is not None and "say nothing" in refusal and "champion stays" in refusal
    assert "last_engagement_hour" in words
    first, words = value_verdict(_gap(-0.004, -0.012, 0.006), has_champion=False)
    assert first is None and "say nothing" in words  # a first model serves on its AUC


def test_a_policy_above_the_rule_passes() -> None:
    refusal, words = value_verdict(_gap(0.012, 0.003, 0.020), has_champion=True)
    assert refusal is None and "above" in words


def test_the_gap_is_paired_on_the_same_resamples() -> None:
    rng = np.random.default_rng(3)
    common = rng.normal(0.05, 0.02, 400)  # resample noise shared by both policies
    draws = {
        "model": common - 0.004,
        "global_best_hour": common,
        "last_engagement_hour": common - 0.03,
    }
    values = {name: PolicyValue(float(d.mean()), 0.0, 0.0, 100) for name, d in draws.items()}
    gap = value_gap(draws, values)
    assert gap["policy_gap_rule"] == 0.0  # the better rule: global best hour
    # separately the two intervals overlap widely; paired, the difference is certain
    assert gap["policy_gap_high"] < 0 and np.isclose(gap["policy_gap"], -0.004)
