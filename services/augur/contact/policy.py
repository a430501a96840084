"""The contact policy: caps, quiet hours, minimum expected response, fallback hour,
priority purposes, default time zone. Validated as a whole; stored in Redis as
JSON so every contact process applies the same policy."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from augur.common.errors import InvalidArgument
from augur.common.v1 import common_pb2
from augur.contact.caps import ALL_CHANNELS, Cap
from augur.contact.localtime import zone
from augur.contact.profile import PURPOSES
from augur.contact.v1 import contact_pb2

MAX_CAPS = 32


def channel_index(value: int, what: str = "channel") -> int:
    """Proto Channel -> index 0..3 (INVALID_ARGUMENT for UNSPECIFIED or unknown)."""
    if value not in (1, 2, 3, 4):
        raise InvalidArgument(
            f"{what} must be one of CHANNEL_EMAIL, CHANNEL_SMS, CHANNEL_PUSH, CHANNEL_PHONE "
            f"(got {value})"
        )
    return value - 1


def purpose_index(value: int) -> int:
    """Proto Purpose -> index into PURPOSES; UNSPECIFIED means promotion."""
    if value == 0:
        return PURPOSES.index("promotion")
    if value not in (1, 2, 3):
        raise InvalidArgument(
            f"purpose must be PURPOSE_RETENTION, PURPOSE_PROMOTION or PURPOSE_SERVICE (got {value})"
        )
    return value - 1


@dataclass(frozen=True)
class Policy:
    caps: tuple[Cap, ...] = (
        Cap(ALL_CHANNELS, 1, 24),
        Cap(ALL_CHANNELS, 3, 168),
        Cap(1, 1, 168),  # sms: once a week
        Cap(3, 1, 720),  # phone: once in 30 days
    )
    quiet_start: int = 21
    quiet_end: int = 8
    min_expected_response: float = 0.01
    fallback_local_hour: int = 10
    priority_purposes: tuple[int, ...] = (PURPOSES.index("service"),)
    default_timezone: str = "UTC"
    widest_cap_hours: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "widest_cap_hours", max((c.window_hours for c in self.caps), default=0)
        )

    def validate(self) -> Policy:
        problems = []
        if len(self.caps) > MAX_CAPS:
            problems.append(f"at most {MAX_CAPS} caps (got {len(self.caps)})")
        seen = set()
        for i, cap in enumerate(self.caps):
            if cap.channel not in (ALL_CHANNELS, 0, 1, 2, 3):
                problems.append(f"caps[{i}].channel is not a channel")
            if not 1 <= cap.max_contacts <= 1000:
                problems.append(f"caps[{i}].max_contacts must be 1..1000 (got {cap.max_contacts})")
            if not 1 <= cap.window_hours <= 8760:
                problems.append(f"caps[{i}].window_hours must be 1..8760 (got {cap.window_hours})")
            if (cap.channel, cap.window_hours) in seen:
                problems.append(f"caps[{i}] repeats a channel and window of an earlier cap")
            seen.add((cap.channel, cap.window_hours))
        for name, hour in (
            ("quiet_hours.start_hour", self.quiet_start),
            ("quiet_hours.end_hour", self.quiet_end),
            ("fallback_local_hour", self.fallback_local_hour),
        ):
            if not 0 <= hour <= 23:
                problems.append(f"{name} must be 0..23 (got {hour})")
        if not 0.0 <= self.min_expected_response <= 1.0:
            problems.append(
                f"min_expected_response must be 0..1 (got {self.min_expected_response})"
            )
        from augur.contact.localtime import in_quiet_hours

        if 0 <= self.fallback_local_hour <= 23 and bool(
            in_quiet_hours(np.array(self.fallback_local_hour), self.quiet_start, self.quiet_end)
        ):
            problems.append("fallback_local_hour lies in the quiet hours")
        try:
            zone(self.default_timezone)
        except ValueError as exc:
            problems.append(f"default_timezone: {exc}")
        if problems:
            raise InvalidArgument("invalid contact policy: " + "; ".join(problems))
        return self

    # ------------------------------------------------------------ storage
    def to_json(self) -> str:
        return json.dumps(
            {
                "caps": [[c.channel, c.max_contacts, c.window_hours] for c in self.caps],
                "quiet": [self.quiet_start, self.quiet_end],
                "min_expected_response": self.min_expected_response,
                "fallback_local_hour": self.fallback_local_hour,
                "priority_purposes": list(self.priority_purposes),
                "default_timezone": self.default_timezone,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Policy:
        d = json.loads(raw)
        return cls(
            caps=tuple(Cap(int(a), int(b), int(c)) for a, b, c in d["caps"]),
            quiet_start=int(d["quiet"][0]),
            quiet_end=int(d["quiet"][1]),
            min_expected_response=float(d["min_expected_response"]),
            fallback_local_hour=int(d["fallback_local_hour"]),
            priority_purposes=tuple(int(p) for p in d["priority_purposes"]),
            default_timezone=str(d["default_timezone"]),
        )

    # ------------------------------------------------------------ proto
    def to_proto(self) -> contact_pb2.ContactPolicy:
        return contact_pb2.ContactPolicy(
            caps=[
                contact_pb2.FrequencyCap(
                    channel=c.channel + 1 if c.channel != ALL_CHANNELS else 0,  # type: ignore[arg-type]
                    max_contacts=c.max_contacts,
                    window_hours=c.window_hours,
                )
                for c in self.caps
            ],
            quiet_hours=contact_pb2.QuietHours(
                start_hour=self.quiet_start, end_hour=self.quiet_end
            ),
            min_expected_response=self.min_expected_response,
            fallback_local_hour=self.fallback_local_hour,
            priority_purposes=[p + 1 for p in self.priority_purposes],  # type: ignore[misc]
            default_timezone=self.default_timezone,
        )

    @classmethod
    def from_proto(cls, msg: contact_pb2.ContactPolicy) -> Policy:
        caps = []
        for i, c in enumerate(msg.caps):
            if c.channel == common_pb2.CHANNEL_UNSPECIFIED:
                channel = ALL_CHANNELS
            else:
                channel = channel_index(c.channel, f"caps[{i}].channel")
            caps.append(Cap(channel, c.max_contacts, c.window_hours))
        purposes = []
        for p in msg.priority_purposes:
            if p == common_pb2.PURPOSE_UNSPECIFIED:
                raise InvalidArgument("priority_purposes: PURPOSE_UNSPECIFIED is not a purpose")
            purposes.append(purpose_index(p))
        return cls(
            caps=tuple(caps),
            quiet_start=msg.quiet_hours.start_hour,
            quiet_end=msg.quiet_hours.end_hour,
            min_expected_response=msg.min_expected_response,
            fallback_local_hour=msg.fallback_local_hour,
            priority_purposes=tuple(sorted(set(purposes))),
            default_timezone=msg.default_timezone or "UTC",
        ).validate()
