"""Contact rules without a server: local time across zones and daylight-saving changes,
exact rolling-window caps, holdout assignment, uplift intervals, policy validation."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augur.common.errors import InvalidArgument
from augur.contact.caps import ALL_CHANNELS, Cap, allowed, window_max
from augur.contact.experiments import in_holdout, uplift
from augur.contact.localtime import hourly_grid, in_quiet_hours, zone
from augur.contact.policy import Policy

UTC = dt.UTC


def _t(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    ("tz", "start", "days"),
    [
        ("Europe/Paris", "2026-03-28T12:00:00+00:00", 2),  # spring forward: no 02:00 local
        ("America/New_York", "2026-10-31T12:00:00+00:00", 2),  # fall back: 01:00 twice
        ("Australia/Sydney", "2026-04-04T00:00:00+00:00", 2),  # southern autumn change
        ("Asia/Kolkata", "2026-06-01T00:10:00+00:00", 1),  # half-hour offset
        ("UTC", "2026-06-01T00:00:00+00:00", 7),
    ],
)
def test_candidates_are_the_whole_local_hours_with_true_offsets(
    tz: str, start: str, days: int
) -> None:
    t0 = _t(start)
    grid = hourly_grid(zone(tz), t0, t0 + days * 86400)
    assert grid.times[0] == t0  # the window's start itself is a candidate
    zi = zoneinfo.ZoneInfo(tz)
    for i in range(len(grid)):
        local = dt.datetime.fromtimestamp(grid.times[i], tz=zi)
        assert grid.hour[i] == local.hour
        assert grid.dow[i] == local.weekday()
        assert grid.offsets[i] == local.utcoffset().total_seconds()  # type: ignore[union-attr]
        shown = dt.datetime.fromisoformat(grid.local_iso(i))
        assert shown.timestamp() == grid.times[i] and shown.hour == local.hour
        if i > 0:
            assert local.minute == 0 and local.second == 0
        if i > 1:
            assert grid.times[i] - grid.times[i - 1] == 3600  # every real hour, once
    hours = [dt.datetime.fromtimestamp(t, tz=zi).strftime("%m-%d %H") for t in grid.times[1:]]
    if tz == "Europe/Paris":
        assert "03-29 02" not in hours and "03-29 03" in hours
    if tz == "America/New_York":
        assert hours.count("11-01 01") == 2


def test_quiet_hours_wrap_past_midnight() -> None:
    hours = np.arange(24)
    quiet = in_quiet_hours(hours, 21, 8)
    assert list(hours[~quiet]) == list(range(8, 21))
    assert not in_quiet_hours(hours, 5, 5).any()
    assert list(hours[in_quiet_hours(hours, 1, 4)]) == [1, 2, 3]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 200), max_size=25),
    st.integers(0, 200),
    st.integers(1, 60),
)
def test_window_max_is_the_fullest_window_containing_the_new_contact(
    recorded: list[int], t: int, window: int
) -> None:
    got = window_max(np.array([float(t)]), np.array(sorted(recorded), dtype=float), window)[0]
    windows = [
        sum(1 for q in recorded if a <= q < a + window)
        for a in range(t - window + 1, t + 1)  # integer starts suffice for integer points
    ]
    assert got == max(windows, default=0)
    # allowed() agrees with adding the contact and checking every window by brute force
    ok = allowed(
        np.array([float(t)]),
        [0],
        np.array(recorded, dtype=float),
        np.zeros(len(recorded), dtype=np.int64),
        [Cap(ALL_CHANNELS, 3, window)],
    )[0, 0]
    with_t = [*recorded, t]
    assert ok == all(
        sum(1 for q in with_t if a <= q < a + window) <= 3 for a in range(t - window + 1, t + 1)
    )


def test_holdout_assignment_is_stable_and_close_to_the_share() -> None:
    ids = [f"C{i:06d}" for i in range(20_000)]
    first = [in_holdout("spring-retention", c, 0.1) for c in ids]
    again = [in_holdout("spring-retention", c, 0.1) for c in ids]
    assert first == again
    assert abs(np.mean(first) - 0.1) < 0.01
    other = [in_holdout("autumn-promo", c, 0.1) for c in ids]
    assert abs(np.mean(other) - 0.1) < 0.01
    # experiments are independent: overlap close to 1 %
    assert abs(np.mean(np.array(first) & np.array(other)) - 0.01) < 0.004


def test_uplift_interval_covers_the_planted_uplift_at_its_level() -> None:
    rng = np.random.default_rng(3)
    covered = 0
    runs = 400
    for _ in range(runs):
        t = rng.binomial(800, 0.30)
        h = rng.binomial(800, 0.20)
        u = uplift(800, int(t), 800, int(h), 0.95)
        covered += u.low <= 0.10 <= u.high
        assert u.conclusive
    assert 0.92 <= covered / runs <= 0.98
    small = uplift(12, 4, 10, 1)
    assert not small.conclusive and "too few" in small.note


def test_policy_validation_names_every_problem() -> None:
    bad = Policy(
        caps=(Cap(ALL_CHANNELS, 0, 24), Cap(1, 2, 9000)),
        quiet_start=25,
        min_expected_response=1.5,
        fallback_local_hour=22,
        default_timezone="Mars/Olympus",
    )
    with pytest.raises(InvalidArgument) as err:
        bad.validate()
    text = err.value.message
    for part in (
        "caps[0].max_contacts",
        "caps[1].window_hours",
        "quiet_hours.start_hour",
        "min_expected_response",
        "default_timezone",
    ):
        assert part in text, text
    assert Policy().validate() == Policy.from_json(Policy().to_json())


def test_one_profile_fast_path_equals_the_general_feature_rows() -> None:
    from augur.contact.profile import LAST_NAMES, N_COUNTERS, Priors, feature_rows

    rng = np.random.default_rng(4)
    priors = Priors(np.array([0.1, 0.2, 0.05, 0.3]), 0.12)
    for _ in range(20):
        counts = rng.poisson(2.0, N_COUNTERS).astype(float)
        last = np.array([1.7e9, 1.69e9, rng.integers(0, 24), rng.integers(0, 4)], dtype=float)
        if rng.random() < 0.3:
            last[:] = np.nan
        n = 4 * 169
        args = (
            np.repeat(np.arange(4), 169),
            rng.integers(0, 24, n),
            rng.integers(0, 7, n),
            np.full(n, 1),
            rng.uniform(1.7e9, 1.71e9, n),
            np.full(n, 1.69e9),
            rng.integers(0, 4, n).astype(float),
            priors,
        )
        fast = feature_rows(counts, last, *args)
        general = feature_rows(
            np.tile(counts, (n, 1)), np.tile(last, (n, 1)).reshape(n, len(LAST_NAMES)), *args
        )
        np.testing.assert_allclose(fast, general, rtol=1e-12, equal_nan=True)
