"""Local time of a customer: candidate send times, hour of week, quiet hours.

Offsets come from the IANA database (``zoneinfo``) and follow daylight-saving
changes: a window that crosses a change is split where the offset changes, so
every candidate is a whole hour of the customer's own clock (no 02:00 on a
spring-forward night, two 01:00 on a fall-back night, both at their true UTC
instants).
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

HOUR = 3600.0
DAY = 86400.0
_UTC = dt.UTC


@lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone of that name; ``ValueError`` naming it when unknown."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone '{name}' (expected an IANA name, e.g. Europe/Paris)"
        ) from None


def offset_at(tz: zoneinfo.ZoneInfo, t: float) -> float:
    """UTC offset in seconds of the zone at Unix time t."""
    off = dt.datetime.fromtimestamp(t, tz=tz).utcoffset()
    return off.total_seconds() if off is not None else 0.0


def _change_after(tz: zoneinfo.ZoneInfo, a: float, b: float, off_a: float) -> float:
    """First whole second in (a, b] whose offset differs from off_a (zone changes happen on
    whole seconds): bisection down to one second."""
    while b - a > 1.0:
        mid = (a + b) / 2
        if offset_at(tz, mid) == off_a:
            a = mid
        else:
            b = mid
    change = float(math.floor(b))
    return change if offset_at(tz, change) != off_a else change + 1.0


@dataclass
class Grid:
    """Candidate send times (UTC seconds) with their local clock fields."""

    times: np.ndarray
    offsets: np.ndarray  # seconds east of UTC
    hour: np.ndarray  # local hour 0..23
    dow: np.ndarray  # local day of week, Monday = 0

    def __len__(self) -> int:
        return len(self.times)

    def local_iso(self, i: int) -> str:
        """RFC 3339 local time with offset of candidate i."""
        return local_iso(float(self.times[i]), float(self.offsets[i]))


def local_iso(t: float, offset: float) -> str:
    """RFC 3339 time with its UTC offset, e.g. 2026-11-24T18:00:00+01:00."""
    moment = dt.datetime.fromtimestamp(t, tz=dt.timezone(dt.timedelta(seconds=offset)))
    return moment.isoformat(timespec="seconds")


def _fields(times: np.ndarray, offsets: np.ndarray) -> Grid:
    local = times + offsets
    hour = (np.floor(local / HOUR) % 24).astype(np.int64)
    dow = ((np.floor(local / DAY) + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday
    return Grid(times, offsets, hour, dow)


def hourly_grid(tz: zoneinfo.ZoneInfo, earliest: float, latest: float) -> Grid:
    """``earliest`` itself, then every whole local hour up to ``latest`` (inclusive).

    The window is cut where the zone's offset changes (found by bisection), and each piece
    steps through the whole hours of its own offset. Two changes inside one window (never
    closer than months apart in the IANA database) would be seen as one."""
    times: list[np.ndarray] = [np.array([earliest])]
    offs: list[np.ndarray] = [np.array([offset_at(tz, earliest)])]
    a = earliest
    while True:
        off = offset_at(tz, a)
        last = offset_at(tz, latest) == off
        b = latest if last else _change_after(tz, a, latest, off)
        first = math.ceil((a + off) / HOUR) * HOUR - off
        seg = np.arange(first, b + (1e-6 if last else -1e-6), HOUR)
        times.append(seg)
        offs.append(np.full(len(seg), off))
        if last:
            break
        a = b
    t = np.concatenate(times)
    o = np.concatenate(offs)
    t, keep = np.unique(t, return_index=True)
    return _fields(t, o[keep])


def clock(tz: zoneinfo.ZoneInfo, t: float) -> tuple[int, int, float]:
    """(local hour, local day of week with Monday = 0, offset in s) of one instant."""
    off = offset_at(tz, t)
    grid = _fields(np.array([t]), np.array([off]))
    return int(grid.hour[0]), int(grid.dow[0]), off


def local_fields(times: np.ndarray, tz: zoneinfo.ZoneInfo) -> Grid:
    """Local clock fields of arbitrary UTC times in one zone (vectorised through pandas)."""
    import pandas as pd

    stamps = pd.to_datetime(np.asarray(times, dtype=float), unit="s", utc=True)
    local = stamps.tz_convert(tz.key)
    offsets = np.array(
        (local.tz_localize(None) - stamps.tz_localize(None)).total_seconds(), dtype=float
    )
    return _fields(np.asarray(times, dtype=float), offsets)


def in_quiet_hours(hour: np.ndarray, start: int, end: int) -> np.ndarray:
    """True where the local hour is in [start, end), wrapping past midnight; start == end
    means no quiet hours."""
    if start == end:
        return np.zeros(np.shape(hour), dtype=bool)
    if start < end:
        return (hour >= start) & (hour < end)
    return (hour >= start) | (hour < end)
