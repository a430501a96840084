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

class InteractionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERACTION_TYPE_UNSPECIFIED: _ClassVar[InteractionType]
    INTERACTION_TYPE_VIEW: _ClassVar[InteractionType]
    INTERACTION_TYPE_SEARCH: _ClassVar[InteractionType]
    INTERACTION_TYPE_WISHLIST: _ClassVar[InteractionType]
    INTERACTION_TYPE_ADD_TO_CART: _ClassVar[InteractionType]
    INTERACTION_TYPE_REMOVE_FROM_CART: _ClassVar[InteractionType]

class IngestStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_STATUS_UNSPECIFIED: _ClassVar[IngestStatus]
    INGEST_STATUS_ACCEPTED: _ClassVar[IngestStatus]
    INGEST_STATUS_DUPLICATE: _ClassVar[IngestStatus]
INTERACTION_TYPE_UNSPECIFIED: InteractionType
INTERACTION_TYPE_VIEW: InteractionType
INTERACTION_TYPE_SEARCH: InteractionType
INTERACTION_TYPE_WISHLIST: InteractionType
INTERACTION_TYPE_ADD_TO_CART: InteractionType
INTERACTION_TYPE_REMOVE_FROM_CART: InteractionType
INGEST_STATUS_UNSPECIFIED: IngestStatus
INGEST_STATUS_ACCEPTED: IngestStatus
INGEST_STATUS_DUPLICATE: IngestStatus

class OrderLine(_message.Message):
    __slots__ = ("item_id", "quantity", "unit_price")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    quantity: int
    unit_price: float
    def __init__(self, item_id: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[float] = ...) -> None: ...

class OrderEvent(_message.Message):
    __slots__ = ("order_id", "lines")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    def __init__(self, order_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ...) -> None: ...

class InteractionEvent(_message.Message):
    __slots__ = ("type", "item_id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    type: InteractionType
    item_id: str
    def __init__(self, type: _Optional[_Union[InteractionType, str]] = ..., item_id: _Optional[str] = ...) -> None: ...

class ContactSentEvent(_message.Message):
    __slots__ = ("contact_id", "channel", "purpose")
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    channel: _common_pb2.Channel
    purpose: _common_pb2.Purpose
    def __init__(self, contact_id: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., purpose: _Optional[_Union[_common_pb2.Purpose, str]] = ...) -> None: ...

class ContactOutcomeEvent(_message.Message):
    __slots__ = ("contact_id", "channel", "outcome")
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    contact_id: str
    channel: _common_pb2.Channel
    outcome: _common_pb2.OutcomeType
    def __init__(self, contact_id: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., outcome: _Optional[_Union[_common_pb2.OutcomeType, str]] = ...) -> None: ...

class ItemEvent(_message.Message):
    __slots__ = ("item_id", "in_stock", "category", "price")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    IN_STOCK_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    in_stock: bool
    category: str
    price: float
    def __init__(self, item_id: _Optional[str] = ..., in_stock: _Optional[bool] = ..., category: _Optional[str] = ..., price: _Optional[float] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "customer_id", "occurred_at", "order", "interaction", "contact_sent", "contact_outcome", "item")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_FIELD_NUMBER: _ClassVar[int]
    CONTACT_SENT_FIELD_NUMBER: _ClassVar[int]
    CONTACT_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    customer_id: str
    occurred_at: _timestamp_pb2.Timestamp
    order: OrderEvent
    interaction: InteractionEvent
    contact_sent: ContactSentEvent
    contact_outcome: ContactOutcomeEvent
    item: ItemEvent
    def __init__(self, event_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order: _Optional[_Union[OrderEvent, _Mapping]] = ..., interaction: _Optional[_Union[InteractionEvent, _Mapping]] = ..., contact_sent: _Optional[_Union[ContactSentEvent, _Mapping]] = ..., contact_outcome: _Optional[_Union[ContactOutcomeEvent, _Mapping]] = ..., item: _Optional[_Union[ItemEvent, _Mapping]] = ...) -> None: ...

class IngestEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class EventResult(_message.Message):
    __slots__ = ("event_id", "status")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    status: IngestStatus
    def __init__(self, event_id: _Optional[str] = ..., status: _Optional[_Union[IngestStatus, str]] = ...) -> None: ...

class IngestEventsResponse(_message.Message):
    __slots__ = ("results", "accepted", "duplicates")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EventResult]
    accepted: int
    duplicates: int
    def __init__(self, results: _Optional[_Iterable[_Union[EventResult, _Mapping]]] = ..., accepted: _Optional[int] = ..., duplicates: _Optional[int] = ...) -> None: ...

class GetFeaturesRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class GetFeaturesResponse(_message.Message):
    __slots__ = ("customer_id", "feature_set_version", "names", "values", "as_of")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_VERSION_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    feature_set_version: int
    names: _containers.RepeatedScalarFieldContainer[str]
    values: _containers.RepeatedScalarFieldContainer[float]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., feature_set_version: _Optional[int] = ..., names: _Optional[_Iterable[str]] = ..., values: _Optional[_Iterable[float]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetIngestionStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShardStatus(_message.Message):
    __slots__ = ("shard", "length", "lag", "pending")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    shard: int
    length: int
    lag: int
    pending: int
    def __init__(self, shard: _Optional[int] = ..., length: _Optional[int] = ..., lag: _Optional[int] = ..., pending: _Optional[int] = ...) -> None: ...

class GetIngestionStatusResponse(_message.Message):
    __slots__ = ("shards",)
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    shards: _containers.RepeatedCompositeFieldContainer[ShardStatus]
    def __init__(self, shards: _Optional[_Iterable[_Union[ShardStatus, _Mapping]]] = ...) -> None: ...
