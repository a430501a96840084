"""Property-based fuzzing of every RPC of the four services: requests are generated from the
message descriptors (random and oversized strings, control characters, extreme and negative
numbers, unknown enum values, empty and oversized lists, nested messages), plus raw bodies
that are not the request message at all (random bytes, invalid UTF-8 in a string field, a
body over the size limit). Every answer is OK or a status other than INTERNAL/UNKNOWN with a
message saying what was wrong, and the services stay SERVING."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from augur.churn.v1 import churn_pb2
from augur.common.settings import ServerSettings
from augur.contact.v1 import contact_pb2
from augur.features.v1 import features_pb2
from augur.recommend.v1 import recommend_pb2
from tests.integration.gateway_stack import Stack, start_features

EXAMPLES = 25  # generated requests per RPC (and as many random bodies)
BAD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
KNOWN: list[str] = []  # real customer ids, filled by the test: valid requests get deeper
TEXT = st.one_of(
    st.builds(lambda i: KNOWN[i % len(KNOWN)] if KNOWN else "C0000001", st.integers(0, 10**6)),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", " ", "C0000001", "\x00", "a" * 129, "é" * 64, "../../etc/passwd"]),
    st.integers(1000, 300_000).map(lambda n: "x" * n),
)
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_STRING:
        return TEXT
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.one_of(
            st.floats(allow_nan=True, allow_infinity=True, width=32),
            st.sampled_from([0.0, -1.0, 1e308, -1e308]),
        )
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 40)  # open enums: unknown values reach the service
    low, high = INT_RANGES[field.type]
    return st.one_of(
        st.integers(low, high), st.sampled_from([v for v in (0, -1, 1, 10_001) if low <= v])
    )


@st.composite
def message(draw: st.DrawFn, descriptor: Descriptor, depth: int = 0) -> dict[str, Any]:
    """Field values of a message (a dict for ``ParseDict``-free filling below)."""
    values: dict[str, Any] = {}
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        is_message = field.type == FieldDescriptor.TYPE_MESSAGE
        if is_message and depth >= 3:
            continue
        one = message(field.message_type, depth + 1) if is_message else scalar(field)
        if field.is_repeated:
            size = draw(st.sampled_from([0, 1, 3, 12, 10_001 if not is_message else 2]))
            if size > 50:  # an oversized batch of short values
                short = st.just("c1") if field.type == FieldDescriptor.TYPE_STRING else one
                values[field.name] = [draw(short)] * size
            else:
                values[field.name] = [draw(one) for _ in range(size)]
        else:
            values[field.name] = draw(one)
    return values


def build(cls: Any, values: dict[str, Any]) -> Any:
    msg = cls()
    fill(msg, values)
    return msg


def fill(msg: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        field = msg.DESCRIPTOR.fields_by_name[name]
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                continue  # no map fields in the request messages
            if field.is_repeated:
                for item in value:
                    fill(getattr(msg, name).add(), item)
            else:
                try:
                    fill(getattr(msg, name), value)
                    getattr(msg, name).SetInParent()
                except ValueError:  # a well-known type refusing a value (e.g. Timestamp range)
                    msg.ClearField(name)
        elif field.is_repeated:
            getattr(msg, name).extend(value)
        else:
            setattr(msg, name, value)


def methods() -> list[tuple[str, MethodDescriptor]]:
    out = []
    for module, server in (
        (churn_pb2, "churn"),
        (recommend_pb2, "recommend"),
        (contact_pb2, "contact"),
        (features_pb2, "features"),
    ):
        for service in module.DESCRIPTOR.services_by_name.values():
            out += [(server, m) for m in service.methods]
    return out


def call(channel: grpc.Channel, method: MethodDescriptor, body: bytes) -> grpc.StatusCode:
    """One call with a raw body; the answer's status (a stream is read to its end)."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    out_cls = message_factory.GetMessageClass(method.output_type)
    if method.server_streaming:
        stub = channel.unary_stream(path, lambda b: b, out_cls.FromString)
        try:
            for _ in stub(body, timeout=30):
                pass
            return grpc.StatusCode.OK
        except grpc.RpcError as err:
            return check(err, path)
    stub_u = channel.unary_unary(path, lambda b: b, out_cls.FromString)
    try:
        stub_u(body, timeout=30)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return check(err, path)


def check(err: Any, path: str) -> grpc.StatusCode:
    code = err.code()
    assert code not in BAD, f"{path}: {code.name} {err.details()}"
    assert err.details(), f"{path}: {code.name} without a message"
    return code


def fuzz_rpc(
    channel: grpc.Channel, method: MethodDescriptor, codes: Counter[str], limit: int
) -> None:
    """Generated requests, random bodies, then invalid UTF-8 and an oversized body."""
    cls = message_factory.GetMessageClass(method.input_type)

    @settings_for_fuzz
    @given(values=message(method.input_type))
    def generated(values: dict[str, Any]) -> None:
        codes[call(channel, method, build(cls, values).SerializeToString()).name] += 1

    @settings_for_fuzz
    @given(body=st.binary(max_size=200))
    def raw(body: bytes) -> None:
        codes[call(channel, method, body).name] += 1

    generated()
    raw()
    # a string field holding invalid UTF-8, and a body over the size limit
    for body in (b"\x0a\x03\xff\xfe\xfd", b"\x0a\xff\xff\x7f" + b"a" * limit):
        codes[call(channel, method, body).name] += 1


async def test_every_rpc_survives_generated_and_malformed_requests(
    stack: Stack, settings: ServerSettings, tmp_path: Any
) -> None:
    features = await start_features(settings, tmp_path, stack)
    ports = dict(stack.ports)
    codes: Counter[str] = Counter()
    limit = settings.max_message_bytes
    KNOWN[:] = stack.customers[:50]

    def fuzz() -> None:
        channels = {
            n: grpc.insecure_channel(
                f"127.0.0.1:{p}",
                options=[("grpc.max_send_message_length", limit * 2)],
            )
            for n, p in ports.items()
        }
        try:
            for server, method in methods():
                fuzz_rpc(channels[server], method, codes, limit)
            for name, channel in channels.items():
                health = health_pb2_grpc.HealthStub(channel)
                status = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
                assert status == health_pb2.HealthCheckResponse.SERVING, name
        finally:
            for channel in channels.values():
                channel.close()

    try:
        await asyncio.to_thread(fuzz)
    finally:
        await features.stop(0)
    total = sum(codes.values())
    print(f"\n{total:,} fuzzed calls over {len(methods())} RPCs: {dict(codes)}")
    assert total >= len(methods()) * EXAMPLES
    assert codes["INVALID_ARGUMENT"] > 0 and codes["OK"] > 0


settings_for_fuzz = fuzz_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
