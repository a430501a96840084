"""A customer's contact engagement profile, and the response model's features.

Defined once, used three ways: training rebuilds each customer's profile as it
stood just before every logged contact; ``augur features materialise`` writes
the profiles as of the end of the data to Redis; the contact service keeps them
current (``RecordContact`` counts a send, ``RecordOutcome`` an open) and builds
the same feature rows for every (channel, send time) candidate.

The profile is plain counts, so batch and online values are equal by
construction: sends and opens in total, per channel, per local hour of day
(the hour the message was sent, in the customer's own zone) and per day type
(weekday / weekend), plus the last contact and the last open (time, local
hour, channel). An open is counted on the slot of the contact it answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from augur.features.definitions import CHANNELS

PURPOSES = ("retention", "promotion", "service")
N_CHANNELS = len(CHANNELS)

# counter layout: totals, per channel, per (day type, local hour) slot
SENT, OPENED = 0, 1
SENT_CHANNEL = 2
OPENED_CHANNEL = SENT_CHANNEL + N_CHANNELS
SENT_SLOT = OPENED_CHANNEL + N_CHANNELS  # 48 slots: day type (0 weekday, 1 weekend) x 24 + hour
OPENED_SLOT = SENT_SLOT + 48
N_COUNTERS = OPENED_SLOT + 48
COUNTER_NAMES: tuple[str, ...] = (
    "n",
    "o",
    *(f"sc{c}" for c in range(N_CHANNELS)),
    *(f"oc{c}" for c in range(N_CHANNELS)),
    *(f"s{d}h{h}" for d in range(2) for h in range(24)),
    *(f"o{d}h{h}" for d in range(2) for h in range(24)),
)
LAST_NAMES = ("lc", "lo", "loh", "loc")  # last contact (s), last open (s), its hour, channel
_FIELD = {name: i for i, name in enumerate(COUNTER_NAMES)}
_LAST = {name: i for i, name in enumerate(LAST_NAMES)}

SMOOTHING = 3.0  # pseudo-sends of the prior in every smoothed rate
DAYTYPE_SMOOTHING = 10.0  # weekend slots see 2/7 of the sends: shrink harder (winner's curse)
HOUR_BANDWIDTH = 1.5  # hours: an open at 18:00 also says something about 17:00 and 19:00
_d = np.abs(np.arange(24)[:, None] - np.arange(24)[None, :])
HOUR_KERNEL = np.exp(-(np.minimum(_d, 24 - _d) ** 2) / (2 * HOUR_BANDWIDTH**2))

FEATURES: tuple[str, ...] = (
    "channel",
    "local_hour",
    "day_of_week",
    "purpose",
    "days_since_last_contact",
    "contacts_7d",
    "sends_total",
    "open_rate",
    "channel_sends",
    "channel_open_rate",
    "hour_sends",
    "hour_open_rate",
    "daytype_open_rate",
    "days_since_last_open",
    "last_open_hour_distance",
    "is_last_open_channel",
    "channel_lift",
    "hour_lift",
    "daytype_lift",
    "daytype_hour_open_rate",
    "personal_estimate",
)
CATEGORICAL = ("channel", "purpose")


def weekend(dow: np.ndarray) -> np.ndarray:
    return (np.asarray(dow) >= 5).astype(np.int64)


def slot(hour: np.ndarray, dow: np.ndarray) -> np.ndarray:
    """Profile slot of a local (hour, day of week): day type x 24 + hour."""
    return weekend(dow) * 24 + np.asarray(hour)


def send_columns(channel: int, hour: int, dow: int) -> tuple[str, ...]:
    """Counter fields a send on that slot increments (the outcome script increments the
    matching open counters from the contact record)."""
    return ("n", f"sc{channel}", f"s{int(dow >= 5)}h{hour}")


@dataclass
class Profile:
    """One customer's profile: counters and the last-contact / last-open facts."""

    counts: np.ndarray  # (N_COUNTERS,)
    last: np.ndarray  # (4,) lc, lo (Unix s), loh, loc; NaN when unknown

    @property
    def sends(self) -> float:
        return float(self.counts[SENT])

    @classmethod
    def empty(cls) -> Profile:
        return cls(np.zeros(N_COUNTERS), np.full(len(LAST_NAMES), np.nan))

    @classmethod
    def from_hash(cls, raw: Mapping[bytes, bytes]) -> Profile:
        """From the Redis hash (field -> decimal string)."""
        out = cls.empty()
        for key, value in raw.items():
            name = key.decode()
            i = _FIELD.get(name)
            if i is not None:
                out.counts[i] = float(value)
            elif name in _LAST:
                out.last[_LAST[name]] = float(value)
        return out

    def to_hash(self) -> dict[str, str]:
        """Non-zero counters and known last facts, as the Redis hash stores them."""
        out = {n: str(int(v)) for n, v in zip(COUNTER_NAMES, self.counts, strict=True) if v}
        for n, v in zip(LAST_NAMES, self.last, strict=True):
            if np.isfinite(v):
                out[n] = repr(float(v)) if n in ("lc", "lo") else str(int(v))
        return out


@dataclass(frozen=True)
class Priors:
    """Population response rates the smoothed rates shrink towards (from training)."""

    channel: np.ndarray  # (4,)
    overall: float


def feature_rows(
    counts: np.ndarray,
    last: np.ndarray,
    channel: np.ndarray,
    hour: np.ndarray,
    dow: np.ndarray,
    purpose: np.ndarray,
    send_time: np.ndarray,
    last_contact: np.ndarray,
    contacts_7d: np.ndarray,
    priors: Priors,
) -> np.ndarray:
    """The model's input, one row per (profile, channel, send time). ``counts``/``last`` are
    one row per profile (training), or one profile for every row (serving: computed through
    per-channel and per-slot tables, equal to the general path). ``last_contact`` is the
    latest contact before the send time (NaN when none), ``contacts_7d`` the contacts in the
    7 days before it."""
    rows = len(channel)
    r = np.arange(rows)
    k = SMOOTHING
    wk = weekend(dow)
    if counts.ndim == 1:
        # one profile for every row (serving): per-channel and per-slot tables, then gathers
        s_slots = counts[SENT_SLOT : SENT_SLOT + 48].reshape(2, 24)
        o_slots = counts[OPENED_SLOT : OPENED_SLOT + 48].reshape(2, 24)
        ch_sent = counts[SENT_CHANNEL:OPENED_CHANNEL][channel]
        ch_open = counts[OPENED_CHANNEL:SENT_SLOT][channel]
        h_sent = (HOUR_KERNEL @ (s_slots[0] + s_slots[1]))[hour]
        h_open = (HOUR_KERNEL @ (o_slots[0] + o_slots[1]))[hour]
        dh_sent = (s_slots @ HOUR_KERNEL)[wk, hour]
        dh_open = (o_slots @ HOUR_KERNEL)[wk, hour]
        d_sent = s_slots.sum(1)[wk]
        d_open = o_slots.sum(1)[wk]
        sent = np.full(rows, counts[SENT])
        opened = np.full(rows, counts[OPENED])
        last = np.broadcast_to(last, (rows, len(LAST_NAMES)))
    else:
        s_all = counts[:, SENT_SLOT : SENT_SLOT + 48].reshape(rows, 2, 24)
        o_all = counts[:, OPENED_SLOT : OPENED_SLOT + 48].reshape(rows, 2, 24)
        ch_sent = counts[r, SENT_CHANNEL + channel]
        ch_open = counts[r, OPENED_CHANNEL + channel]
        kern = HOUR_KERNEL[hour]
        h_sent = ((s_all[:, 0] + s_all[:, 1]) * kern).sum(1)
        h_open = ((o_all[:, 0] + o_all[:, 1]) * kern).sum(1)
        dh_sent = (s_all[r, wk] * kern).sum(1)  # same day type, around the hour
        dh_open = (o_all[r, wk] * kern).sum(1)
        d_sent = s_all[r, wk].sum(1)
        d_open = o_all[r, wk].sum(1)
        sent, opened = counts[:, SENT], counts[:, OPENED]
    ch_prior = priors.channel[channel]
    overall = (opened + k * priors.overall) / (sent + k)
    dist = np.abs(hour - last[:, 2])
    out = np.empty((rows, len(FEATURES)))
    out[:, 0] = channel
    out[:, 1] = hour
    out[:, 2] = dow
    out[:, 3] = purpose
    out[:, 4] = (send_time - last_contact) / 86400.0
    out[:, 5] = contacts_7d
    out[:, 6] = sent
    out[:, 7] = overall
    out[:, 8] = ch_sent
    out[:, 9] = (ch_open + k * ch_prior) / (ch_sent + k)
    out[:, 10] = h_sent
    out[:, 11] = (h_open + k * overall) / (h_sent + k)
    out[:, 12] = (d_open + DAYTYPE_SMOOTHING * overall) / (d_sent + DAYTYPE_SMOOTHING)
    out[:, 13] = (send_time - last[:, 1]) / 86400.0
    out[:, 14] = np.minimum(dist, 24 - dist)
    out[:, 15] = np.where(np.isnan(last[:, 3]), np.nan, (last[:, 3] == channel).astype(float))
    # lifts relative to the customer's own rate: the response surface factorises as
    # channel x hour x day type, and their product is the customer's own estimate
    out[:, 16] = out[:, 9] / ch_prior
    out[:, 17] = out[:, 11] / overall
    out[:, 18] = out[:, 12] / overall
    out[:, 19] = (dh_open + DAYTYPE_SMOOTHING * out[:, 11]) / (dh_sent + DAYTYPE_SMOOTHING)
    out[:, 20] = out[:, 9] * out[:, 19] / overall
    return out


def probe_rows(priors: Priors, seed: int = 0) -> np.ndarray:
    """Varied feature rows (random profiles, every channel and hour) to check a compiled
    model against the booster it came from."""
    rng = np.random.default_rng(seed)
    rows = 4 * 24 * 4
    counts = rng.poisson(3.0, (rows, N_COUNTERS)).astype(float)
    counts[:, SENT] = counts[:, SENT_CHANNEL : SENT_CHANNEL + N_CHANNELS].sum(1)
    counts[:, OPENED] = np.minimum(counts[:, OPENED], counts[:, SENT])
    last = np.column_stack(
        [
            rng.uniform(0, 1e9, rows),
            rng.uniform(0, 1e9, rows),
            rng.integers(0, 24, rows),
            rng.integers(0, 4, rows),
        ]
    ).astype(float)
    last[::7] = np.nan
    t = rng.uniform(1e9, 2e9, rows)
    return feature_rows(
        counts,
        last,
        np.tile(np.arange(N_CHANNELS), rows // N_CHANNELS),
        rng.integers(0, 24, rows),
        rng.integers(0, 7, rows),
        rng.integers(0, len(PURPOSES), rows),
        t,
        t - rng.uniform(0, 30 * 86400, rows),
        rng.integers(0, 5, rows).astype(float),
        priors,
    )
