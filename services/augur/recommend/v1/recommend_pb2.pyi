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

class Source(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_UNSPECIFIED: _ClassVar[Source]
    SOURCE_REPEAT: _ClassVar[Source]
    SOURCE_EXPLORE: _ClassVar[Source]
    SOURCE_SESSION: _ClassVar[Source]
    SOURCE_POPULAR: _ClassVar[Source]
    SOURCE_NEW_IN_CATALOGUE: _ClassVar[Source]
SOURCE_UNSPECIFIED: Source
SOURCE_REPEAT: Source
SOURCE_EXPLORE: Source
SOURCE_SESSION: Source
SOURCE_POPULAR: Source
SOURCE_NEW_IN_CATALOGUE: Source

class RecommendedItem(_message.Message):
    __slots__ = ("item_id", "score", "source", "reason", "category")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    score: float
    source: Source
    reason: str
    category: str
    def __init__(self, item_id: _Optional[str] = ..., score: _Optional[float] = ..., source: _Optional[_Union[Source, str]] = ..., reason: _Optional[str] = ..., category: _Optional[str] = ...) -> None: ...

class RecommendRequest(_message.Message):
    __slots__ = ("customer_id", "n", "context_item_ids", "exclude_item_ids", "categories", "include_repeat")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REPEAT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    n: int
    context_item_ids: _containers.RepeatedScalarFieldContainer[str]
    exclude_item_ids: _containers.RepeatedScalarFieldContainer[str]
    categories: _containers.RepeatedScalarFieldContainer[str]
    include_repeat: bool
    def __init__(self, customer_id: _Optional[str] = ..., n: _Optional[int] = ..., context_item_ids: _Optional[_Iterable[str]] = ..., exclude_item_ids: _Optional[_Iterable[str]] = ..., categories: _Optional[_Iterable[str]] = ..., include_repeat: _Optional[bool] = ...) -> None: ...

class RecommendResponse(_message.Message):
    __slots__ = ("customer_id", "items", "model", "cold_start", "degradation")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    COLD_START_FIELD_NUMBER: _ClassVar[int]
    DEGRADATION_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    items: _containers.RepeatedCompositeFieldContainer[RecommendedItem]
    model: _common_pb2.ModelInfo
    cold_start: bool
    degradation: _common_pb2.Degradation
    def __init__(self, customer_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[RecommendedItem, _Mapping]]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., cold_start: _Optional[bool] = ..., degradation: _Optional[_Union[_common_pb2.Degradation, _Mapping]] = ...) -> None: ...

class SimilarItemsRequest(_message.Message):
    __slots__ = ("item_id", "n")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    n: int
    def __init__(self, item_id: _Optional[str] = ..., n: _Optional[int] = ...) -> None: ...

class SimilarItem(_message.Message):
    __slots__ = ("item_id", "score", "reason")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    score: float
    reason: str
    def __init__(self, item_id: _Optional[str] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class SimilarItemsResponse(_message.Message):
    __slots__ = ("item_id", "items", "model")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    items: _containers.RepeatedCompositeFieldContainer[SimilarItem]
    model: _common_pb2.ModelInfo
    def __init__(self, item_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[SimilarItem, _Mapping]]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...

class AnticipateNextRequest(_message.Message):
    __slots__ = ("customer_id", "horizon_days", "n", "now")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    HORIZON_DAYS_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    horizon_days: int
    n: int
    now: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., horizon_days: _Optional[int] = ..., n: _Optional[int] = ..., now: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AnticipatedItem(_message.Message):
    __slots__ = ("item_id", "expected_at", "window_start", "window_end", "probability", "last_purchased_at", "typical_interval_days", "reason")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_AT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    LAST_PURCHASED_AT_FIELD_NUMBER: _ClassVar[int]
    TYPICAL_INTERVAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    expected_at: _timestamp_pb2.Timestamp
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    probability: float
    last_purchased_at: _timestamp_pb2.Timestamp
    typical_interval_days: float
    reason: str
    def __init__(self, item_id: _Optional[str] = ..., expected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., probability: _Optional[float] = ..., last_purchased_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., typical_interval_days: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class AnticipateNextResponse(_message.Message):
    __slots__ = ("customer_id", "items", "model")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    items: _containers.RepeatedCompositeFieldContainer[AnticipatedItem]
    model: _common_pb2.ModelInfo
    def __init__(self, customer_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[AnticipatedItem, _Mapping]]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...

class BatchRecommendRequest(_message.Message):
    __slots__ = ("customer_ids", "n", "categories", "include_repeat")
    CUSTOMER_IDS_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REPEAT_FIELD_NUMBER: _ClassVar[int]
    customer_ids: _containers.RepeatedScalarFieldContainer[str]
    n: int
    categories: _containers.RepeatedScalarFieldContainer[str]
    include_repeat: bool
    def __init__(self, customer_ids: _Optional[_Iterable[str]] = ..., n: _Optional[int] = ..., categories: _Optional[_Iterable[str]] = ..., include_repeat: _Optional[bool] = ...) -> None: ...

class BatchRecommendResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[BatchRecommendItem]
    def __init__(self, items: _Optional[_Iterable[_Union[BatchRecommendItem, _Mapping]]] = ...) -> None: ...

class BatchRecommendItem(_message.Message):
    __slots__ = ("customer_id", "recommendations", "error")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    recommendations: RecommendResponse
    error: _common_pb2.ItemError
    def __init__(self, customer_id: _Optional[str] = ..., recommendations: _Optional[_Union[RecommendResponse, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ItemError, _Mapping]] = ...) -> None: ...

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
