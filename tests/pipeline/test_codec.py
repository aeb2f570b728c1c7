import orjson
import pytest

from pipeline import codec, topics
from pipeline.errors import InvalidMessageError
from pipeline.schemas import GpuTelemetry
from tests.factories import gpu_message

LIMIT = 64 * 1024


def test_decode_valid_gpu_message() -> None:
    message = codec.decode(topics.GPU, orjson.dumps(gpu_message()), LIMIT)

    assert isinstance(message, GpuTelemetry)
    assert len(message.gpus) == 2


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message value"),
        (b"{not json", "invalid JSON"),
        (orjson.dumps(gpu_message())[:40], "invalid JSON"),
        (b'{"DCGM_FI_DEV_GPU_TEMP": NaN}', "invalid JSON"),
        (b'{"DCGM_FI_DEV_GPU_TEMP": 1e999}', "invalid JSON"),
        (b"[1, 2, 3]", "expected a JSON object, got list"),
        (orjson.dumps(gpu_message(schema_version=9)), "unsupported schema_version 9"),
        (orjson.dumps({"schema_version": 1, "time": "2026-01-01T00:00:00Z"}), "rack: Field required"),
        (b"x" * (LIMIT + 1), f"exceeds the limit of {LIMIT} bytes"),
    ],
    ids=["empty", "malformed", "truncated", "nan", "infinity", "array", "version", "missing", "oversized"],
)
def test_decode_rejects_bad_input(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessageError, match=reason):
        codec.decode(topics.GPU, raw, LIMIT)


def test_reason_names_field_and_input() -> None:
    message = gpu_message()
    message["gpus"][0]["DCGM_FI_DEV_GPU_TEMP"] = "hot"

    with pytest.raises(InvalidMessageError) as caught:
        codec.decode(topics.GPU, orjson.dumps(message), LIMIT)

    assert "gpus.0.DCGM_FI_DEV_GPU_TEMP" in caught.value.reason
    assert "'hot'" in caught.value.reason
    assert caught.value.reason.startswith("invalid GpuTelemetry")


def test_reason_is_capped() -> None:
    message = gpu_message(gpus=[{"gpu": index, "DCGM_FI_DEV_GPU_UTIL": "x" * 500} for index in range(64)])

    with pytest.raises(InvalidMessageError) as caught:
        codec.decode(topics.GPU, orjson.dumps(message), LIMIT)

    assert len(caught.value.reason) <= codec.MAX_REASON_CHARS
    assert "more errors" in caught.value.reason


def test_encode_round_trip() -> None:
    message = GpuTelemetry.model_validate(gpu_message())

    raw = codec.encode(message)

    assert b"null" not in raw
    assert codec.decode(topics.GPU, raw, LIMIT) == message
