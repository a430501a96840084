import datetime

from augur.common.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SuppressionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUPPRESSION_REASON_UNSPECIFIED: _ClassVar[SuppressionReason]
    SUPPRESSION_REASON_NO_CONSENT: _ClassVar[SuppressionReason]
    SUPPRESSION_REASON_FREQUENCY_CAP: _ClassVar[SuppressionReason]
    SUPPRESSION_REASON_QUIET_HOURS_ONLY: _ClassVar[SuppressionReason]
    SUPPRESSION_REASON_HOLDOUT: _ClassVar[SuppressionReason]
    SUPPRESSION_REASON_SUPPRESSED: _ClassVar[SuppressionReason]
    SUPPRESSION_REASON_LOW_EXPECTED_RESPONSE: _ClassVar[SuppressionReason]

class Arm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARM_UNSPECIFIED: _ClassVar[Arm]
    ARM_TREATMENT: _ClassVar[Arm]
    ARM_HOLDOUT: _ClassVar[Arm]

class TimingSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIMING_SOURCE_UNSPECIFIED: _ClassVar[TimingSource]
    TIMING_SOURCE_RESPONSE_MODEL: _ClassVar[TimingSource]
    TIMING_SOURCE_ACTIVITY_PROFILE: _ClassVar[TimingSource]
    TIMING_SOURCE_SHOP_ACTIVITY: _ClassVar[TimingSource]
    TIMING_SOURCE_FALLBACK_HOUR: _ClassVar[TimingSource]
SUPPRESSION_REASON_UNSPECIFIED: SuppressionReason
SUPPRESSION_REASON_NO_CONSENT: SuppressionReason
SUPPRESSION_REASON_FREQUENCY_CAP: SuppressionReason
SUPPRESSION_REASON_QUIET_HOURS_ONLY: SuppressionReason
SUPPRESSION_REASON_HOLDOUT: SuppressionReason
SUPPRESSION_REASON_SUPPRESSED: SuppressionReason
SUPPRESSION_REASON_LOW_EXPECTED_RESPONSE: SuppressionReason
ARM_UNSPECIFIED: Arm
ARM_TREATMENT: Arm
ARM_HOLDOUT: Arm
TIMING_SOURCE_UNSPECIFIED: TimingSource
TIMING_SOURCE_RESPONSE_MODEL: TimingSource
TIMING_SOURCE_ACTIVITY_PROFILE: TimingSource
TIMING_SOURCE_SHOP_ACTIVITY: TimingSource
TIMING_SOURCE_FALLBACK_HOUR: TimingSource

class ContactOption(_message.Message):
    __slots__ = ("channel", "send_at", "send_at_local", "expected_response")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEND_AT_FIELD_NUMBER: _ClassVar[int]
    SEND_AT_LOCAL_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.Channel
    send_at: _timestamp_pb2.Timestamp
    send_at_local: str
    expected_response: float
    def __init__(self, channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., send_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., send_at_local: _Optional[str] = ..., expected_response: _Optional[float] = ...) -> None: ...

class NextBestContactRequest(_message.Message):
    __slots__ = ("customer_id", "purpose", "allowed_channels", "earliest", "latest", "now", "experiment", "alternatives")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    EARLIEST_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    purpose: _common_pb2.Purpose
    allowed_channels: _containers.RepeatedScalarFieldContainer[_common_pb2.Channel]
    earliest: _timestamp_pb2.Timestamp
    latest: _timestamp_pb2.Timestamp
    now: _timestamp_pb2.Timestamp
    experiment: str
    alternatives: int
    def __init__(self, customer_id: _Optional[str] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., allowed_channels: _Optional[_Iterable[_Union[_common_pb2.Channel, str]]] = ..., earliest: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., now: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., experiment: _Optional[str] = ..., alternatives: _Optional[int] = ...) -> None: ...

class NextBestContactResponse(_message.Message):
    __slots__ = ("customer_id", "contact", "best", "alternatives", "reason", "reason_text", "earliest_allowed", "fallback", "timezone", "arm", "model", "timing_source")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    BEST_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REASON_TEXT_FIELD_NUMBER: _ClassVar[int]
    EARLIEST_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TIMING_SOURCE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    contact: bool
    best: ContactOption
    alternatives: _containers.RepeatedCompositeFieldContainer[ContactOption]
    reason: SuppressionReason
    reason_text: str
    earliest_allowed: _timestamp_pb2.Timestamp
    fallback: bool
    timezone: str
    arm: Arm
    model: _common_pb2.ModelInfo
    timing_source: TimingSource
    def __init__(self, customer_id: _Optional[str] = ..., contact: _Optional[bool] = ..., best: _Optional[_Union[ContactOption, _Mapping]] = ..., alternatives: _Optional[_Iterable[_Union[ContactOption, _Mapping]]] = ..., reason: _Optional[_Union[SuppressionReason, str]] = ..., reason_text: _Optional[str] = ..., earliest_allowed: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fallback: _Optional[bool] = ..., timezone: _Optional[str] = ..., arm: _Optional[_Union[Arm, str]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., timing_source: _Optional[_Union[TimingSource, str]] = ...) -> None: ...

class RecordContactRequest(_message.Message):
    __slots__ = ("contact_id", "customer_id", "channel", "purpose", "send_at", "campaign", "experiment")
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SEND_AT_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    customer_id: str
    channel: _common_pb2.Channel
    purpose: _common_pb2.Purpose
    send_at: _timestamp_pb2.Timestamp
    campaign: str
    experiment: str
    def __init__(self, contact_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., send_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., campaign: _Optional[str] = ..., experiment: _Optional[str] = ...) -> None: ...

class RecordContactResponse(_message.Message):
    __slots__ = ("reserved", "duplicate", "reason", "reason_text")
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REASON_TEXT_FIELD_NUMBER: _ClassVar[int]
    reserved: bool
    duplicate: bool
    reason: SuppressionReason
    reason_text: str
    def __init__(self, reserved: _Optional[bool] = ..., duplicate: _Optional[bool] = ..., reason: _Optional[_Union[SuppressionReason, str]] = ..., reason_text: _Optional[str] = ...) -> None: ...

class RecordOutcomeRequest(_message.Message):
    __slots__ = ("contact_id", "outcome", "occurred_at")
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    outcome: _common_pb2.OutcomeType
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, contact_id: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.OutcomeType, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordOutcomeResponse(_message.Message):
    __slots__ = ("recorded", "duplicate", "consent_withdrawn")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    CONSENT_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    recorded: bool
    duplicate: bool
    consent_withdrawn: bool
    def __init__(self, recorded: _Optional[bool] = ..., duplicate: _Optional[bool] = ..., consent_withdrawn: _Optional[bool] = ...) -> None: ...

class ChannelConsent(_message.Message):
    __slots__ = ("channel", "granted")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.Channel
    granted: bool
    def __init__(self, channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., granted: _Optional[bool] = ...) -> None: ...

class SetConsentRequest(_message.Message):
    __slots__ = ("customer_id", "consents", "timezone")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    consents: _containers.RepeatedCompositeFieldContainer[ChannelConsent]
    timezone: str
    def __init__(self, customer_id: _Optional[str] = ..., consents: _Optional[_Iterable[_Union[ChannelConsent, _Mapping]]] = ..., timezone: _Optional[str] = ...) -> None: ...

class SetConsentResponse(_message.Message):
    __slots__ = ("consents", "timezone")
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    consents: _containers.RepeatedCompositeFieldContainer[ChannelConsent]
    timezone: str
    def __init__(self, consents: _Optional[_Iterable[_Union[ChannelConsent, _Mapping]]] = ..., timezone: _Optional[str] = ...) -> None: ...

class FrequencyCap(_message.Message):
    __slots__ = ("channel", "max_contacts", "window_hours")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    MAX_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_HOURS_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.Channel
    max_contacts: int
    window_hours: int
    def __init__(self, channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., max_contacts: _Optional[int] = ..., window_hours: _Optional[int] = ...) -> None: ...

class QuietHours(_message.Message):
    __slots__ = ("start_hour", "end_hour")
    START_HOUR_FIELD_NUMBER: _ClassVar[int]
    END_HOUR_FIELD_NUMBER: _ClassVar[int]
    start_hour: int
    end_hour: int
    def __init__(self, start_hour: _Optional[int] = ..., end_hour: _Optional[int] = ...) -> None: ...

class ContactPolicy(_message.Message):
    __slots__ = ("caps", "quiet_hours", "min_expected_response", "fallback_local_hour", "priority_purposes", "default_timezone")
    CAPS_FIELD_NUMBER: _ClassVar[int]
    QUIET_HOURS_FIELD_NUMBER: _ClassVar[int]
    MIN_EXPECTED_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_LOCAL_HOUR_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_PURPOSES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    caps: _containers.RepeatedCompositeFieldContainer[FrequencyCap]
    quiet_hours: QuietHours
    min_expected_response: float
    fallback_local_hour: int
    priority_purposes: _containers.RepeatedScalarFieldContainer[_common_pb2.Purpose]
    default_timezone: str
    def __init__(self, caps: _Optional[_Iterable[_Union[FrequencyCap, _Mapping]]] = ..., quiet_hours: _Optional[_Union[QuietHours, _Mapping]] = ..., min_expected_response: _Optional[float] = ..., fallback_local_hour: _Optional[int] = ..., priority_purposes: _Optional[_Iterable[_Union[_common_pb2.Purpose, str]]] = ..., default_timezone: _Optional[str] = ...) -> None: ...

class GetContactPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetContactPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: ContactPolicy
    def __init__(self, policy: _Optional[_Union[ContactPolicy, _Mapping]] = ...) -> None: ...

class UpdateContactPolicyRequest(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: ContactPolicy
    def __init__(self, policy: _Optional[_Union[ContactPolicy, _Mapping]] = ...) -> None: ...

class UpdateContactPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: ContactPolicy
    def __init__(self, policy: _Optional[_Union[ContactPolicy, _Mapping]] = ...) -> None: ...

class UpliftReportRequest(_message.Message):
    __slots__ = ("experiment", "outcome", "window_days", "confidence")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    experiment: str
    outcome: _common_pb2.OutcomeType
    window_days: int
    confidence: float
    def __init__(self, experiment: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.OutcomeType, str]] = ..., window_days: _Optional[int] = ..., confidence: _Optional[float] = ...) -> None: ...

class GroupOutcome(_message.Message):
    __slots__ = ("customers", "successes", "rate")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    customers: int
    successes: int
    rate: float
    def __init__(self, customers: _Optional[int] = ..., successes: _Optional[int] = ..., rate: _Optional[float] = ...) -> None: ...

class UpliftReportResponse(_message.Message):
    __slots__ = ("experiment", "treated", "holdout", "absolute_uplift", "absolute_ci_low", "absolute_ci_high", "relative_uplift", "conclusive", "note")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    TREATED_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    ABSOLUTE_UPLIFT_FIELD_NUMBER: _ClassVar[int]
    ABSOLUTE_CI_LOW_FIELD_NUMBER: _ClassVar[int]
    ABSOLUTE_CI_HIGH_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_UPLIFT_FIELD_NUMBER: _ClassVar[int]
    CONCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    experiment: str
    treated: GroupOutcome
    holdout: GroupOutcome
    absolute_uplift: float
    absolute_ci_low: float
    absolute_ci_high: float
    relative_uplift: float
    conclusive: bool
    note: str
    def __init__(self, experiment: _Optional[str] = ..., treated: _Optional[_Union[GroupOutcome, _Mapping]] = ..., holdout: _Optional[_Union[GroupOutcome, _Mapping]] = ..., absolute_uplift: _Optional[float] = ..., absolute_ci_low: _Optional[float] = ..., absolute_ci_high: _Optional[float] = ..., relative_uplift: _Optional[float] = ..., conclusive: _Optional[bool] = ..., note: _Optional[str] = ...) -> None: ...

class Enrolment(_message.Message):
    __slots__ = ("customer_id", "arm", "enrolled_now")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_NOW_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    arm: Arm
    enrolled_now: bool
    def __init__(self, customer_id: _Optional[str] = ..., arm: _Optional[_Union[Arm, str]] = ..., enrolled_now: _Optional[bool] = ...) -> None: ...

class EnrollExperimentRequest(_message.Message):
    __slots__ = ("experiment", "holdout_share", "enrolments", "dry_run", "at")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_SHARE_FIELD_NUMBER: _ClassVar[int]
    ENROLMENTS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    experiment: str
    holdout_share: float
    enrolments: _containers.RepeatedCompositeFieldContainer[Enrolment]
    dry_run: bool
    at: _timestamp_pb2.Timestamp
    def __init__(self, experiment: _Optional[str] = ..., holdout_share: _Optional[float] = ..., enrolments: _Optional[_Iterable[_Union[Enrolment, _Mapping]]] = ..., dry_run: _Optional[bool] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EnrollExperimentResponse(_message.Message):
    __slots__ = ("enrolments", "holdout_share")
    ENROLMENTS_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_SHARE_FIELD_NUMBER: _ClassVar[int]
    enrolments: _containers.RepeatedCompositeFieldContainer[Enrolment]
    holdout_share: float
    def __init__(self, enrolments: _Optional[_Iterable[_Union[Enrolment, _Mapping]]] = ..., holdout_share: _Optional[float] = ...) -> None: ...

class ForgetCustomerRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class ForgetCustomerResponse(_message.Message):
    __slots__ = ("removed_keys", "removed_kinds", "tombstoned")
    REMOVED_KEYS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_KINDS_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONED_FIELD_NUMBER: _ClassVar[int]
    removed_keys: int
    removed_kinds: _containers.RepeatedScalarFieldContainer[str]
    tombstoned: bool
    def __init__(self, removed_keys: _Optional[int] = ..., removed_kinds: _Optional[_Iterable[str]] = ..., tombstoned: _Optional[bool] = ...) -> None: ...

class ReloadModelRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadModelResponse(_message.Message):
    __slots__ = ("model", "changed")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelInfo
    changed: bool
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...
