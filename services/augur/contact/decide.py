"""The next-best-contact decision: pure Python over the customer's state.

Order of the checks (the first that applies is the answer): suppression list,
experiment holdout, consent, then the candidates — every whole local hour of
the window on every consented channel, all scored by the response model in
one call — minus quiet hours and capped times. No candidate left: the reason
is QUIET_HOURS_ONLY when the window lies entirely in quiet hours, otherwise
FREQUENCY_CAP, with the earliest time a contact would be allowed. The best
candidate below the policy minimum: LOW_EXPECTED_RESPONSE, unless the purpose
is a priority purpose. A customer with fewer than the model's minimum history
gets a fallback time (flagged): the best hour of their activity profile
(``augur.contact.activity``: when they order, browse, open and click) when they
have ``MIN_ACTIVITY`` activities or more, else the policy's
``fallback_local_hour``; on the channel the model rates best then.

Without a response model (a shop with no contact log yet) the activity profile
times every decision on its own: the candidates ranked by the profile, the
customer's own or, with too few activities, the shop's; the channel the first
consented one best answered before (a channel whose sends go unanswered
tried last, then the channel order); no expected response, so no minimum
applies. Every decision says which source timed it (``Timing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from augur.contact import caps as capmod
from augur.contact.activity import slot_scores
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
from augur.contact.profile import N_CHANNELS, OPENED_CHANNEL, SENT_CHANNEL, feature_rows
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


class Timing(IntEnum):
    """Which source chose the time (same numbers as ``augur.contact.v1.TimingSource``)."""

    UNSPECIFIED = 0
    RESPONSE_MODEL = 1
    ACTIVITY_PROFILE = 2
    SHOP_ACTIVITY = 3
    FALLBACK_HOUR = 4


MIN_ACTIVITY = 3  # a customer's activities from which their own profile times a contact


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
    timing: Timing = Timing.UNSPECIFIED


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


def _options(
    order: np.ndarray, grid: Grid, ch: np.ndarray, gi: np.ndarray, p: np.ndarray, n: int
) -> tuple[Option, list[Option]]:
    """The first candidate of ``order`` and up to ``n`` alternatives, one per (channel, local
    hour); ``p`` the candidates' expected responses."""

    def option(j: int) -> Option:
        g = gi[j]
        return Option(
            int(ch[j]), float(grid.times[g]), float(grid.offsets[g]), int(grid.hour[g]), float(p[j])
        )

    best = option(order[0])
    alternatives: list[Option] = []
    seen = {(best.channel, best.hour)}
    for j in order[1:]:
        if len(alternatives) >= n:
            break
        key = (int(ch[j]), int(grid.hour[gi[j]]))
        if key not in seen:
            seen.add(key)
            alternatives.append(option(j))
    return best, alternatives


def _activity_scores(state: CustomerState, grid: Grid, gi: np.ndarray) -> tuple[np.ndarray, bool]:
    """The activity profile's score of each candidate (grid index ``gi``), and whether it is
    the customer's own profile (else the shop's)."""
    own = float(state.activity.sum()) >= MIN_ACTIVITY
    counts = state.activity if own else np.zeros_like(state.activity)
    scores = slot_scores(counts, state.shop_activity)
    return scores[grid.dow[gi] * 24 + grid.hour[gi]], own


def decide(
    ask: Ask, state: CustomerState, model: ContactModel | None, holdout_share: float
) -> Decision:
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
    times = grid.times[gi]
    whole = (grid.times[gi] + grid.offsets[gi]) % HOUR == 0  # the whole local hours
    if model is None:
        return _from_activity(ask, state, grid, ch, gi, whole, arm, tz_name)
    p = score_candidates(model, state, grid, ch, gi, ask.purpose)
    order = np.lexsort((times, -p))
    fallback = state.profile.sends < model.min_history
    timing = Timing.RESPONSE_MODEL
    if fallback:
        activity, own = _activity_scores(state, grid, gi)
        if own:  # the customer's most active hour, the model's channel for it
            timing = Timing.ACTIVITY_PROFILE
            first = order[np.lexsort((times[order], -(activity[order] * whole[order])))[0]]
            at_hour = order[(gi[order] == gi[first])]
        else:
            timing = Timing.FALLBACK_HOUR
            at_hour = order[(grid.hour[gi[order]] == policy.fallback_local_hour) & whole[order]]
        if len(at_hour):
            first_time = times[at_hour].min()
            at_hour = at_hour[times[at_hour] == first_time]
            order = np.r_[at_hour[:1], order[order != at_hour[0]]]

    best, alternatives = _options(order, grid, ch, gi, p, ask.alternatives)
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
    if timing is Timing.ACTIVITY_PROFILE:
        text += (
            f"; fewer than {model.min_history} past contacts: timed by their activity profile "
            f"(their most active hour in the window, {best.hour:02d}:00 local)"
        )
    elif timing is Timing.FALLBACK_HOUR:
        text += (
            f"; fallback time (fewer than {model.min_history} past contacts and fewer than "
            f"{MIN_ACTIVITY} activities): {policy.fallback_local_hour:02d}:00 local"
        )
    return Decision(
        True, Reason.NONE, text, tz_name, arm, best, alternatives, fallback=fallback, timing=timing
    )


STALE_SENDS = 3  # sends of a channel without an answer from which it loses its priority


def _channel_priority(
    state: CustomerState, channels: list[int]
) -> tuple[np.ndarray, dict[int, str]]:
    """Without a response model: the consented channels ranked by how their past sends were
    answered ((opens + 1) / (sends + 2); a channel never used counts 1/2), then by the
    channel order; a channel with ``STALE_SENDS`` unanswered sends or more goes last. The
    rank of every channel index and the words for each."""
    counts = state.profile.counts
    sent = counts[SENT_CHANNEL : SENT_CHANNEL + N_CHANNELS]
    opened = counts[OPENED_CHANNEL : OPENED_CHANNEL + N_CHANNELS]
    stale = (sent >= STALE_SENDS) & (opened == 0)
    rate = (opened + 1.0) / (sent + 2.0)
    order = sorted(channels, key=lambda c: (bool(stale[c]), -rate[c], c))
    rank = np.full(N_CHANNELS, N_CHANNELS, dtype=np.int64)
    rank[order] = np.arange(len(order))
    why = {}
    for c in channels:
        if stale[c]:
            said = f"{sent[c]:.0f} sends, none answered: tried last"
        elif sent[c]:
            said = f"{opened[c]:.0f} of {sent[c]:.0f} sends answered"
        else:
            said = "not used yet"
        others = [CHANNELS[o] for o in order if o != c]
        why[c] = f"{CHANNELS[c]} ({said})" + (
            f", consented also: {', '.join(others)}" if others else ""
        )
    return rank, why


def _from_activity(
    ask: Ask,
    state: CustomerState,
    grid: Grid,
    ch: np.ndarray,
    gi: np.ndarray,
    whole: np.ndarray,
    arm: Arm,
    tz_name: str,
) -> Decision:
    """No response model: the whole local hour the activity profile rates best (the earliest
    among equals), on the consented channel ranked first (``_channel_priority``);
    alternatives one per channel and hour."""
    activity, own = _activity_scores(state, grid, gi)
    times = grid.times[gi]
    rank, why = _channel_priority(state, sorted(set(ch.tolist())))
    order = np.lexsort((rank[ch], times, -(activity + whole)))

    best, alternatives = _options(order, grid, ch, gi, np.zeros(len(ch)), ask.alternatives)
    whose = (
        f"their activity profile ({state.activity.sum():.0f} orders, visits, opens and clicks)"
        if own
        else f"the shop's activity hours (the customer has fewer than {MIN_ACTIVITY} activities)"
    )
    text = (
        f"{CHANNELS[best.channel]} at {best.local_iso()}: no response model yet (no contact "
        f"log trained on), timed by {whose}; channel: {why[best.channel]}"
    )
    timing = Timing.ACTIVITY_PROFILE if own else Timing.SHOP_ACTIVITY
    return Decision(True, Reason.NONE, text, tz_name, arm, best, alternatives, timing=timing)
