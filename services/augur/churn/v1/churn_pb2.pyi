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

class RiskBand(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_BAND_UNSPECIFIED: _ClassVar[RiskBand]
    RISK_BAND_LOW: _ClassVar[RiskBand]
    RISK_BAND_MEDIUM: _ClassVar[RiskBand]
    RISK_BAND_HIGH: _ClassVar[RiskBand]

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIRECTION_UNSPECIFIED: _ClassVar[Direction]
    DIRECTION_INCREASES_RISK: _ClassVar[Direction]
    DIRECTION_DECREASES_RISK: _ClassVar[Direction]
RISK_BAND_UNSPECIFIED: RiskBand
RISK_BAND_LOW: RiskBand
RISK_BAND_MEDIUM: RiskBand
RISK_BAND_HIGH: RiskBand
DIRECTION_UNSPECIFIED: Direction
DIRECTION_INCREASES_RISK: Direction
DIRECTION_DECREASES_RISK: Direction

class Reason(_message.Message):
    __slots__ = ("feature", "value", "direction", "contribution", "text")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    feature: str
    value: float
    direction: Direction
    contribution: float
    text: str
    def __init__(self, feature: _Optional[str] = ..., value: _Optional[float] = ..., direction: _Optional[_Union[Direction, str]] = ..., contribution: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("customer_id", "include_reasons", "max_reasons")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REASONS_FIELD_NUMBER: _ClassVar[int]
    MAX_REASONS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    include_reasons: bool
    max_reasons: int
    def __init__(self, customer_id: _Optional[str] = ..., include_reasons: _Optional[bool] = ..., max_reasons: _Optional[int] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("customer_id", "probability", "risk_band", "expected_value", "value_at_risk", "reasons", "model", "features_as_of", "cold_start", "degradation", "horizon_days")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    RISK_BAND_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FEATURES_AS_OF_FIELD_NUMBER: _ClassVar[int]
    COLD_START_FIELD_NUMBER: _ClassVar[int]
    DEGRADATION_FIELD_NUMBER: _ClassVar[int]
    HORIZON_DAYS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    probability: float
    risk_band: RiskBand
    expected_value: float
    value_at_risk: float
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    model: _common_pb2.ModelInfo
    features_as_of: _timestamp_pb2.Timestamp
    cold_start: bool
    degradation: _common_pb2.Degradation
    horizon_days: int
    def __init__(self, customer_id: _Optional[str] = ..., probability: _Optional[float] = ..., risk_band: _Optional[_Union[RiskBand, str]] = ..., expected_value: _Optional[float] = ..., value_at_risk: _Optional[float] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., features_as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cold_start: _Optional[bool] = ..., degradation: _Optional[_Union[_common_pb2.Degradation, _Mapping]] = ..., horizon_days: _Optional[int] = ...) -> None: ...

class ScoreBatchRequest(_message.Message):
    __slots__ = ("customer_ids", "include_reasons", "max_reasons")
    CUSTOMER_IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REASONS_FIELD_NUMBER: _ClassVar[int]
    MAX_REASONS_FIELD_NUMBER: _ClassVar[int]
    customer_ids: _containers.RepeatedScalarFieldContainer[str]
    include_reasons: bool
    max_reasons: int
    def __init__(self, customer_ids: _Optional[_Iterable[str]] = ..., include_reasons: _Optional[bool] = ..., max_reasons: _Optional[int] = ...) -> None: ...

class ScoreBatchResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ScoreBatchItem]
    def __init__(self, items: _Optional[_Iterable[_Union[ScoreBatchItem, _Mapping]]] = ...) -> None: ...

class ScoreBatchItem(_message.Message):
    __slots__ = ("customer_id", "score", "error")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    score: ScoreResponse
    error: _common_pb2.ItemError
    def __init__(self, customer_id: _Optional[str] = ..., score: _Optional[_Union[ScoreResponse, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ItemError, _Mapping]] = ...) -> None: ...

class ListAtRiskRequest(_message.Message):
    __slots__ = ("min_probability", "page_size", "page_token", "risk_bands")
    MIN_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RISK_BANDS_FIELD_NUMBER: _ClassVar[int]
    min_probability: float
    page_size: int
    page_token: str
    risk_bands: _containers.RepeatedScalarFieldContainer[RiskBand]
    def __init__(self, min_probability: _Optional[float] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., risk_bands: _Optional[_Iterable[_Union[RiskBand, str]]] = ...) -> None: ...

class AtRiskCustomer(_message.Message):
    __slots__ = ("customer_id", "probability", "risk_band", "expected_value", "value_at_risk", "rank")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    RISK_BAND_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    probability: float
    risk_band: RiskBand
    expected_value: float
    value_at_risk: float
    rank: int
    def __init__(self, customer_id: _Optional[str] = ..., probability: _Optional[float] = ..., risk_band: _Optional[_Union[RiskBand, str]] = ..., expected_value: _Optional[float] = ..., value_at_risk: _Optional[float] = ..., rank: _Optional[int] = ...) -> None: ...

class ListAtRiskResponse(_message.Message):
    __slots__ = ("customers", "next_page_token", "scored_at", "model", "total")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SCORED_AT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[AtRiskCustomer]
    next_page_token: str
    scored_at: _timestamp_pb2.Timestamp
    model: _common_pb2.ModelInfo
    total: int
    def __init__(self, customers: _Optional[_Iterable[_Union[AtRiskCustomer, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., scored_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., total: _Optional[int] = ...) -> None: ...

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
