"""The next-best-contact decision: pure Python over the customer's state.

Order of the checks (the first that applies is the answer): suppression list,
experiment holdout, consent, then the candidates — every whole local hour of
the window on every consented channel, all scored by the response model in
one call — minus quiet hours and capped times. No candidate left: the reason
is QUIET_HOURS_ONLY when the window lies entirely in quiet hours, otherwise
FREQUENCY_CAP, with the earliest time a contact would be allowed. The best
candidate below the policy minimum: LOW_EXPECTED_RESPONSE, unless the purpose
is a priority purpose. A customer with fewer than the model's minimum history
gets the documented fallback: the first allowed time at the policy's
``fallback_local_hour``, on the channel the model rates best then (flagged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from augur.contact import caps as capmod
from augur.contact.experiments import in_holdout
from augur.contact.localtime import (
    DAY,
    HOUR,
    Grid,
    hourly_grid,
    in_quiet_hours,
    local_iso,
    zone,
)
from augur.contact.model import ContactModel
from augur.contact.policy import Policy
from augur.contact.profile import feature_rows
from augur.contact.state import CustomerState
from augur.features.definitions import CHANNELS


class Reason(IntEnum):
    NONE = 0
    NO_CONSENT = 1
    FREQUENCY_CAP = 2
    QUIET_HOURS_ONLY = 3
    HOLDOUT = 4
    SUPPRESSED = 5
    LOW_EXPECTED_RESPONSE = 6


class Arm(IntEnum):
    NONE = 0
    TREATMENT = 1
    HOLDOUT = 2


@dataclass
class Ask:
    customer_id: str
    purpose: int  # index into PURPOSES
    channels: list[int]  # allowed channel indexes
    earliest: float
    latest: float
    now: float
    experiment: str = ""
    alternatives: int = 0


@dataclass
class Option:
    channel: int
    time: float
    offset: float
    hour: int
    expected: float

    def local_iso(self) -> str:
        return local_iso(self.time, self.offset)


@dataclass
class Decision:
    contact: bool
    reason: Reason
    text: str
    timezone: str
    arm: Arm = Arm.NONE
    best: Option | None = None
    alternatives: list[Option] = field(default_factory=list)
    earliest_allowed: float | None = None
    fallback: bool = False


def _names(channels: list[int]) -> str:
    return ", ".join(CHANNELS[c] for c in channels)


def _valid(grid: Grid, channels: list[int], state: CustomerState, policy: Policy) -> np.ndarray:
    """(channels, candidates): outside quiet hours and within every cap."""
    quiet = in_quiet_hours(grid.hour, policy.quiet_start, policy.quiet_end)
    capped = capmod.allowed(
        grid.times, channels, state.sent_times, state.sent_channels, policy.caps, HOUR
    )
    return capped & ~quiet[None, :]


def _first_allowed(
    tz_name: str, start: float, channels: list[int], state: CustomerState, policy: Policy
) -> float | None:
    grid = hourly_grid(zone(tz_name), start, start + policy.widest_cap_hours * HOUR + 2 * DAY)
    ok = np.flatnonzero(_valid(grid, channels, state, policy).any(axis=0))
    return float(grid.times[ok[0]]) if len(ok) else None


def score_candidates(
    model: ContactModel,
    state: CustomerState,
    grid: Grid,
    ch: np.ndarray,
    gi: np.ndarray,
    purpose: int,
) -> np.ndarray:
    """Expected response of each candidate (channel ``ch`` at grid index ``gi``), all in
    one call of the model."""
    times = grid.times[gi]
    sent = state.sent_times
    before = np.searchsorted(sent, times, "left")
    last = (
        np.where(before > 0, sent[np.maximum(before - 1, 0)], np.nan)
        if len(sent)
        else np.full(len(times), np.nan)
    )
    lc = state.profile.last[0]
    last = np.where(np.isnan(last) & (lc < times), lc, last)
    recent = before - np.searchsorted(sent, times - 7 * DAY, "left")
    X = feature_rows(
        state.profile.counts,
        state.profile.last,
        ch,
        grid.hour[gi],
        grid.dow[gi],
        np.full(len(ch), purpose),
        times,
        last,
        recent.astype(float),
        model.priors,
    )
    return model.predict(X)


def decide(ask: Ask, state: CustomerState, model: ContactModel, holdout_share: float) -> Decision:
    policy = state.policy
    tz_name = state.timezone or policy.default_timezone
    if state.suppressed:
        return Decision(
            False,
            Reason.SUPPRESSED,
            "the customer is on the suppression list (erased or do-not-contact)",
            tz_name,
        )
    arm = Arm.NONE
    if ask.experiment:
        if state.share is not None:
            holdout_share = state.share
        if state.arm is not None:  # enrolled earlier (e.g. by a plan): that arm holds
            holdout = state.arm == "holdout"
        else:
            holdout = in_holdout(ask.experiment, ask.customer_id, holdout_share)
        arm = Arm.HOLDOUT if holdout else Arm.TREATMENT
        if holdout:
            return Decision(
                False,
                Reason.HOLDOUT,
                f"in the holdout group of experiment '{ask.experiment}' "
                f"({holdout_share:.0%} of its customers are held out)",
                tz_name,
                arm,
            )
    channels = [c for c in ask.channels if state.consent[c]]
    if not channels:
        return Decision(
            False,
            Reason.NO_CONSENT,
            f"no consent on any allowed channel ({_names(ask.channels)})",
            tz_name,
            arm,
        )
    grid = hourly_grid(zone(tz_name), ask.earliest, ask.latest)
    valid = _valid(grid, channels, state, policy).ravel()
    if not valid.any():
        quiet = in_quiet_hours(grid.hour, policy.quiet_start, policy.quiet_end)
        after = _first_allowed(tz_name, ask.earliest, channels, state, policy)
        if quiet.all():
            reason, text = (
                Reason.QUIET_HOURS_ONLY,
                f"the window lies entirely in the quiet hours "
                f"{policy.quiet_start:02d}:00-{policy.quiet_end:02d}:00 ({tz_name})",
            )
        else:
            reason, text = (
                Reason.FREQUENCY_CAP,
                f"a frequency cap is reached on every allowed channel ({_names(channels)}) "
                "for the whole window",
            )
        return Decision(False, reason, text, tz_name, arm, earliest_allowed=after)
    # only the candidates the policy allows are scored (every channel x hour of the window
    # when there are no quiet hours and no cap binds)
    rows = np.flatnonzero(valid)
    ch = np.asarray(channels, dtype=np.int64)[rows // len(grid)]
    gi = rows % len(grid)
    p = score_candidates(model, state, grid, ch, gi, ask.purpose)
    times = grid.times[gi]
    order = np.lexsort((times, -p))
    fallback = state.profile.sends < model.min_history
    if fallback:
        at_hour = order[
            (grid.hour[gi[order]] == policy.fallback_local_hour)
            & ((grid.times[gi[order]] + grid.offsets[gi[order]]) % HOUR == 0)
        ]
        if len(at_hour):
            first_time = times[at_hour].min()
            at_hour = at_hour[times[at_hour] == first_time]
            order = np.r_[at_hour[:1], order[order != at_hour[0]]]

    def option(j: int) -> Option:
        g = gi[j]
        return Option(
            int(ch[j]), float(grid.times[g]), float(grid.offsets[g]), int(grid.hour[g]), float(p[j])
        )

    best = option(order[0])
    alternatives: list[Option] = []
    seen = {(best.channel, best.hour)}
    for j in order[1:]:
        if len(alternatives) >= ask.alternatives:
            break
        key = (int(ch[j]), int(grid.hour[gi[j]]))
        if key in seen:
            continue
        seen.add(key)
        alternatives.append(option(j))
    where = f"{CHANNELS[best.channel]} at {best.local_iso()}"
    if best.expected < policy.min_expected_response and ask.purpose not in policy.priority_purposes:
        return Decision(
            False,
            Reason.LOW_EXPECTED_RESPONSE,
            f"best expected response {best.expected:.1%} ({where}) is below the policy "
            f"minimum {policy.min_expected_response:.1%}",
            tz_name,
            arm,
        )
    text = f"{where}: expected response {best.expected:.1%}"
    if fallback:
        text += (
            f"; fallback time (fewer than {model.min_history} past contacts): "
            f"{policy.fallback_local_hour:02d}:00 local"
        )
    return Decision(True, Reason.NONE, text, tz_name, arm, best, alternatives, fallback=fallback)
