import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_SMS: _ClassVar[Channel]
    CHANNEL_PUSH: _ClassVar[Channel]
    CHANNEL_PHONE: _ClassVar[Channel]

class Purpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURPOSE_UNSPECIFIED: _ClassVar[Purpose]
    PURPOSE_RETENTION: _ClassVar[Purpose]
    PURPOSE_PROMOTION: _ClassVar[Purpose]
    PURPOSE_SERVICE: _ClassVar[Purpose]

class OutcomeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_TYPE_UNSPECIFIED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_OPENED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_CLICKED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_CONVERTED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_UNSUBSCRIBED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_ORDERED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_DELIVERED: _ClassVar[OutcomeType]
    OUTCOME_TYPE_FAILED: _ClassVar[OutcomeType]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_EMAIL: Channel
CHANNEL_SMS: Channel
CHANNEL_PUSH: Channel
CHANNEL_PHONE: Channel
PURPOSE_UNSPECIFIED: Purpose
PURPOSE_RETENTION: Purpose
PURPOSE_PROMOTION: Purpose
PURPOSE_SERVICE: Purpose
OUTCOME_TYPE_UNSPECIFIED: OutcomeType
OUTCOME_TYPE_OPENED: OutcomeType
OUTCOME_TYPE_CLICKED: OutcomeType
OUTCOME_TYPE_CONVERTED: OutcomeType
OUTCOME_TYPE_UNSUBSCRIBED: OutcomeType
OUTCOME_TYPE_ORDERED: OutcomeType
OUTCOME_TYPE_DELIVERED: OutcomeType
OUTCOME_TYPE_FAILED: OutcomeType

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "alias", "feature_set_version", "loaded_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_VERSION_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    alias: str
    feature_set_version: int
    loaded_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., alias: _Optional[str] = ..., feature_set_version: _Optional[int] = ..., loaded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Degradation(_message.Message):
    __slots__ = ("degraded", "reason", "message")
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    degraded: bool
    reason: str
    message: str
    def __init__(self, degraded: _Optional[bool] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class EchoRequest(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    def __init__(self, payload: _Optional[bytes] = ...) -> None: ...

class EchoResponse(_message.Message):
    __slots__ = ("payload", "served_by")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    served_by: str
    def __init__(self, payload: _Optional[bytes] = ..., served_by: _Optional[str] = ...) -> None: ...
