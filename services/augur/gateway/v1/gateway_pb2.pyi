import datetime

from augur.churn.v1 import churn_pb2 as _churn_pb2
from augur.common.v1 import common_pb2 as _common_pb2
from augur.contact.v1 import contact_pb2 as _contact_pb2
from augur.recommend.v1 import recommend_pb2 as _recommend_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_TYPE_UNSPECIFIED: _ClassVar[ActionType]
    ACTION_TYPE_RETENTION: _ClassVar[ActionType]
    ACTION_TYPE_REPLENISH: _ClassVar[ActionType]
    ACTION_TYPE_CROSS_SELL: _ClassVar[ActionType]
    ACTION_TYPE_DO_NOTHING: _ClassVar[ActionType]
ACTION_TYPE_UNSPECIFIED: ActionType
ACTION_TYPE_RETENTION: ActionType
ACTION_TYPE_REPLENISH: ActionType
ACTION_TYPE_CROSS_SELL: ActionType
ACTION_TYPE_DO_NOTHING: ActionType

class MissingPart(_message.Message):
    __slots__ = ("part", "code", "message")
    PART_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    part: str
    code: str
    message: str
    def __init__(self, part: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class CustomerInsightRequest(_message.Message):
    __slots__ = ("customer_id", "n_recommendations", "purpose", "include_reasons")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    N_RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REASONS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    n_recommendations: int
    purpose: _common_pb2.Purpose
    include_reasons: bool
    def __init__(self, customer_id: _Optional[str] = ..., n_recommendations: _Optional[int] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ..., include_reasons: _Optional[bool] = ...) -> None: ...

class CustomerInsightResponse(_message.Message):
    __slots__ = ("customer_id", "churn", "recommendations", "contact", "missing")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHURN_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    churn: _churn_pb2.ScoreResponse
    recommendations: _recommend_pb2.RecommendResponse
    contact: _contact_pb2.NextBestContactResponse
    missing: _containers.RepeatedCompositeFieldContainer[MissingPart]
    def __init__(self, customer_id: _Optional[str] = ..., churn: _Optional[_Union[_churn_pb2.ScoreResponse, _Mapping]] = ..., recommendations: _Optional[_Union[_recommend_pb2.RecommendResponse, _Mapping]] = ..., contact: _Optional[_Union[_contact_pb2.NextBestContactResponse, _Mapping]] = ..., missing: _Optional[_Iterable[_Union[MissingPart, _Mapping]]] = ...) -> None: ...

class NextBestActionRequest(_message.Message):
    __slots__ = ("customer_id", "now")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    now: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., now: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NextBestActionResponse(_message.Message):
    __slots__ = ("customer_id", "action", "reason", "items", "contact", "churn", "missing")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    CHURN_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    action: ActionType
    reason: str
    items: _containers.RepeatedCompositeFieldContainer[_recommend_pb2.RecommendedItem]
    contact: _contact_pb2.NextBestContactResponse
    churn: _churn_pb2.ScoreResponse
    missing: _containers.RepeatedCompositeFieldContainer[MissingPart]
    def __init__(self, customer_id: _Optional[str] = ..., action: _Optional[_Union[ActionType, str]] = ..., reason: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_recommend_pb2.RecommendedItem, _Mapping]]] = ..., contact: _Optional[_Union[_contact_pb2.NextBestContactResponse, _Mapping]] = ..., churn: _Optional[_Union[_churn_pb2.ScoreResponse, _Mapping]] = ..., missing: _Optional[_Iterable[_Union[MissingPart, _Mapping]]] = ...) -> None: ...

class ChannelCost(_message.Message):
    __slots__ = ("channel", "cost")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.Channel
    cost: float
    def __init__(self, channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., cost: _Optional[float] = ...) -> None: ...

class PlanOutreachRequest(_message.Message):
    __slots__ = ("campaign", "plan_date", "min_probability", "min_value_at_risk", "max_contacts", "max_total_cost", "channel_costs", "holdout_share", "risk_bands", "dry_run", "items_per_contact", "window_days", "segments", "deliver")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    PLAN_DATE_FIELD_NUMBER: _ClassVar[int]
    MIN_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    MAX_CONTACTS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_COSTS_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_SHARE_FIELD_NUMBER: _ClassVar[int]
    RISK_BANDS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    ITEMS_PER_CONTACT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    DELIVER_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    plan_date: _timestamp_pb2.Timestamp
    min_probability: float
    min_value_at_risk: float
    max_contacts: int
    max_total_cost: float
    channel_costs: _containers.RepeatedCompositeFieldContainer[ChannelCost]
    holdout_share: float
    risk_bands: _containers.RepeatedScalarFieldContainer[_churn_pb2.RiskBand]
    dry_run: bool
    items_per_contact: int
    window_days: int
    segments: _containers.RepeatedScalarFieldContainer[str]
    deliver: bool
    def __init__(self, campaign: _Optional[str] = ..., plan_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., min_probability: _Optional[float] = ..., min_value_at_risk: _Optional[float] = ..., max_contacts: _Optional[int] = ..., max_total_cost: _Optional[float] = ..., channel_costs: _Optional[_Iterable[_Union[ChannelCost, _Mapping]]] = ..., holdout_share: _Optional[float] = ..., risk_bands: _Optional[_Iterable[_Union[_churn_pb2.RiskBand, str]]] = ..., dry_run: _Optional[bool] = ..., items_per_contact: _Optional[int] = ..., window_days: _Optional[int] = ..., segments: _Optional[_Iterable[str]] = ..., deliver: _Optional[bool] = ...) -> None: ...

class ScheduledContact(_message.Message):
    __slots__ = ("customer_id", "campaign", "arm", "contact_id", "option", "reasons", "items", "probability", "value_at_risk", "risk_band", "cost", "eligible_channel")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    OPTION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    VALUE_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    RISK_BAND_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    campaign: str
    arm: _contact_pb2.Arm
    contact_id: str
    option: _contact_pb2.ContactOption
    reasons: _containers.RepeatedCompositeFieldContainer[_churn_pb2.Reason]
    items: _containers.RepeatedCompositeFieldContainer[_recommend_pb2.RecommendedItem]
    probability: float
    value_at_risk: float
    risk_band: _churn_pb2.RiskBand
    cost: float
    eligible_channel: _common_pb2.Channel
    def __init__(self, customer_id: _Optional[str] = ..., campaign: _Optional[str] = ..., arm: _Optional[_Union[_contact_pb2.Arm, str]] = ..., contact_id: _Optional[str] = ..., option: _Optional[_Union[_contact_pb2.ContactOption, _Mapping]] = ..., reasons: _Optional[_Iterable[_Union[_churn_pb2.Reason, _Mapping]]] = ..., items: _Optional[_Iterable[_Union[_recommend_pb2.RecommendedItem, _Mapping]]] = ..., probability: _Optional[float] = ..., value_at_risk: _Optional[float] = ..., risk_band: _Optional[_Union[_churn_pb2.RiskBand, str]] = ..., cost: _Optional[float] = ..., eligible_channel: _Optional[_Union[_common_pb2.Channel, str]] = ...) -> None: ...

class PlanCount(_message.Message):
    __slots__ = ("key", "count")
    KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    key: str
    count: int
    def __init__(self, key: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class PlanOutreachResponse(_message.Message):
    __slots__ = ("contacts", "counts", "total_cost", "replayed", "plan_day", "treatment", "holdout")
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    PLAN_DAY_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    contacts: _containers.RepeatedCompositeFieldContainer[ScheduledContact]
    counts: _containers.RepeatedCompositeFieldContainer[PlanCount]
    total_cost: float
    replayed: bool
    plan_day: str
    treatment: int
    holdout: int
    def __init__(self, contacts: _Optional[_Iterable[_Union[ScheduledContact, _Mapping]]] = ..., counts: _Optional[_Iterable[_Union[PlanCount, _Mapping]]] = ..., total_cost: _Optional[float] = ..., replayed: _Optional[bool] = ..., plan_day: _Optional[str] = ..., treatment: _Optional[int] = ..., holdout: _Optional[int] = ...) -> None: ...
