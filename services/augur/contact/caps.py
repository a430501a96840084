"""Frequency caps over rolling windows, checked exactly.

A cap "at most M contacts in any window of W hours" holds when no interval
of length W contains more than M contacts. Adding a contact at time t can
only break the windows that contain t, and the fullest such window (e - W, e]
ends either at t or at one of the contacts in [t, t + W); checking those ends
is exact, also when contacts are recorded out of time order (planned sends).
The same rule runs in two places: vectorised in numpy to rank a customer's
candidate send times, and in a Redis script that reserves a contact
atomically, so concurrent callers can never exceed a cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ALL_CHANNELS = -1
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Cap:
    """At most ``max_contacts`` in any rolling window of ``window_hours``; ``channel`` is a
    channel index, or ``ALL_CHANNELS`` for a cross-channel cap."""

    channel: int
    max_contacts: int
    window_hours: int

    def applies_to(self, channel: int) -> bool:
        return self.channel in (ALL_CHANNELS, channel)


def window_max(times: np.ndarray, recorded: np.ndarray, window: float) -> np.ndarray:
    """For each t in ``times``: the most recorded contacts (sorted ``recorded``) in any
    window of length ``window`` that contains t. Such a window, written (e - W, e], is
    fullest when its end e is t itself or a recorded contact in [t, t + W)."""
    if len(recorded) == 0:
        return np.zeros(len(times), dtype=np.int64)
    lead = np.searchsorted(recorded, times, "right") - np.searchsorted(
        recorded, times - window, "right"
    )
    ending_at_p = np.searchsorted(recorded, recorded, "right") - np.searchsorted(
        recorded, recorded - window, "right"
    )
    inside = (recorded[None, :] >= times[:, None]) & (recorded[None, :] < (times + window)[:, None])
    ends = np.where(inside, ending_at_p[None, :], 0).max(axis=1)
    return np.maximum(lead, ends)


def allowed(
    times: np.ndarray,
    channels: Sequence[int],
    recorded_times: np.ndarray,
    recorded_channels: np.ndarray,
    caps: Sequence[Cap],
    time_scale: float = 1.0,
) -> np.ndarray:
    """(channels, times): True where one more contact on that channel at that time keeps
    every cap. A cross-channel cap is evaluated once for all channels. ``time_scale``
    converts hours into the unit of the times (3600 for seconds)."""
    ok = np.ones((len(channels), len(times)), dtype=bool)
    if len(recorded_times) == 0:
        return ok
    for cap in caps:
        if cap.channel == ALL_CHANNELS:
            rows = list(range(len(channels)))
            mine = recorded_times
        else:
            rows = [i for i, c in enumerate(channels) if c == cap.channel]
            mine = recorded_times[recorded_channels == cap.channel]
        if not rows or len(mine) < cap.max_contacts:
            continue  # fewer contacts than the cap allows: it cannot bind
        counts = window_max(times, np.sort(mine), cap.window_hours * time_scale)
        ok[rows] &= counts < cap.max_contacts
    return ok


# Reserve one contact atomically. KEYS: 1 sent log (zset "channel|contact_id" -> ms),
# 2 contact record (hash), 3 profile (hash), 4 consent (hash), 5 the customer's contact ids
# (set). ARGV: 1 contact_id, 2 channel, 3 send ms, 4 trim-before ms, 5 ttl s, 6 the time
# zone the caller assumed for the local slot ("" = none stored), 7 n caps, then per cap:
# channel (-1 = all), max, window ms; then the record's field/value pairs; the profile
# counters to increment come last, after a "--" marker.
# Returns {status, reason}: 1 reserved, 2 duplicate (already reserved), 0 refused (reason
# 1 no consent, 2 frequency cap), 3 the stored zone differs (reason = the stored zone; the
# caller recomputes the local slot and calls again).
RESERVE_LUA = """
local function fullest(times, t, w)
  -- most contacts in a window (e - w, e] containing t: e is t or a contact in [t, t + w)
  local function ending(e)
    local c = 0
    for _, q in ipairs(times) do
      if q > e - w and q <= e then c = c + 1 end
    end
    return c
  end
  local best = ending(t)
  for _, p in ipairs(times) do
    if p >= t and p < t + w then
      local c = ending(p)
      if c > best then best = c end
    end
  end
  return best
end

if redis.call('EXISTS', KEYS[2]) == 1 then
  return {2, 0}
end
local tz = redis.call('HGET', KEYS[4], 'tz') or ''
if tz ~= ARGV[6] then
  return {3, tz}
end
local ch = ARGV[2]
if redis.call('HGET', KEYS[4], 'c' .. ch) ~= '1' then
  return {0, 1}
end
local t = tonumber(ARGV[3])
local ncaps = tonumber(ARGV[7])
local widest = 0
for i = 0, ncaps - 1 do
  local w = tonumber(ARGV[10 + 3 * i])
  if w > widest then widest = w end
end
if ncaps > 0 then
  local raw = redis.call('ZRANGEBYSCORE', KEYS[1], t - widest, t + widest, 'WITHSCORES')
  for i = 0, ncaps - 1 do
    local cch = ARGV[8 + 3 * i]
    local cmax = tonumber(ARGV[9 + 3 * i])
    local w = tonumber(ARGV[10 + 3 * i])
    if cch == '-1' or cch == ch then
      local times = {}
      for j = 1, #raw, 2 do
        local member = raw[j]
        if cch == '-1' or string.sub(member, 1, string.find(member, '|', 1, true) - 1) == cch then
          table.insert(times, tonumber(raw[j + 1]))
        end
      end
      if fullest(times, t, w) + 1 > cmax then
        return {0, 2}
      end
    end
  end
end
local i = 8 + 3 * ncaps
local fields = {}
while ARGV[i] ~= '--' do
  table.insert(fields, ARGV[i]); table.insert(fields, ARGV[i + 1])
  i = i + 2
end
i = i + 1
redis.call('ZADD', KEYS[1], t, ch .. '|' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
redis.call('HSET', KEYS[2], unpack(fields))
while ARGV[i] do
  redis.call('HINCRBY', KEYS[3], ARGV[i], 1)
  i = i + 1
end
local lc = tonumber(redis.call('HGET', KEYS[3], 'lc') or '-1')
if t / 1000 > lc then redis.call('HSET', KEYS[3], 'lc', tostring(t / 1000)) end
redis.call('SADD', KEYS[5], ARGV[1])
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  for k = 1, 5 do
    if k ~= 4 then redis.call('EXPIRE', KEYS[k], ttl) end
  end
end
return {1, 0}
"""

# Undo a reservation made under a contact id that turned out to belong to another
# customer. KEYS: 1 sent log, 2 contact record, 3 profile, 4 contact ids. ARGV: 1 contact_id,
# 2 channel, then the profile counters the reservation incremented.
RELEASE_LUA = """
if redis.call('DEL', KEYS[2]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[2] .. '|' .. ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
local i = 3
while ARGV[i] do
  redis.call('HINCRBY', KEYS[3], ARGV[i], -1)
  i = i + 1
end
return 1
"""

# Record one outcome of a contact, once. KEYS: 1 contact record, 2 profile, 3 consent.
# ARGV: 1 outcome name, 2 time (s), 3 "1" when the outcome counts as an open (engagement).
# Returns {status, consent_withdrawn}: status 0 unknown contact, 1 recorded, 2 duplicate.
OUTCOME_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 0}
end
if redis.call('HSETNX', KEYS[1], 'o_' .. ARGV[1], ARGV[2]) == 0 then
  return {2, 0}
end
local rec = redis.call('HMGET', KEYS[1], 'ch', 'hour', 'dt')
if ARGV[3] == '1' and redis.call('HSETNX', KEYS[1], 'engaged', ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'o', 1)
  redis.call('HINCRBY', KEYS[2], 'oc' .. rec[1], 1)
  redis.call('HINCRBY', KEYS[2], 'o' .. rec[3] .. 'h' .. rec[2], 1)
  local lo = tonumber(redis.call('HGET', KEYS[2], 'lo') or '-1')
  if tonumber(ARGV[2]) > lo then
    redis.call('HSET', KEYS[2], 'lo', ARGV[2], 'loh', rec[2], 'loc', rec[1])
  end
end
local withdrawn = 0
if ARGV[1] == 'unsubscribed' then
  if redis.call('HGET', KEYS[3], 'c' .. rec[1]) ~= '0' then withdrawn = 1 end
  redis.call('HSET', KEYS[3], 'c' .. rec[1], '0')
end
return {1, withdrawn}
"""
