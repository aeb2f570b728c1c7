from datetime import timezone

import pytest
from pydantic import ValidationError

from pipeline import topics
from pipeline.schemas import GpuTelemetry, HardwareEvent, JobProgress, PowerTelemetry, model_for_topic
from tests.factories import gpu_message


def test_gpu_message_valid() -> None:
    message = GpuTelemetry.model_validate(gpu_message())

    assert message.node == "r000-n00"
    assert message.gpus[0].DCGM_FI_DEV_GPU_TEMP == 61.5
    assert message.gpus[0].DCGM_FI_DEV_ECC_DBE_VOL_TOTAL is None


def test_time_converted_to_utc() -> None:
    message = GpuTelemetry.model_validate(gpu_message(time="2026-01-01T08:00:00+08:00"))

    assert message.time.tzinfo == timezone.utc
    assert message.time.hour == 0


def test_naive_time_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        GpuTelemetry.model_validate(gpu_message(time="2026-01-01T00:00:00"))


def test_unknown_schema_version_rejected() -> None:
    with pytest.raises(ValidationError, match="unsupported schema_version 2"):
        GpuTelemetry.model_validate(gpu_message(schema_version=2))


def test_unknown_field_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        GpuTelemetry.model_validate(gpu_message(DCGM_FI_DEV_BOGUS=1))


def test_duplicate_gpu_index_rejected() -> None:
    message = gpu_message()
    message["gpus"][1]["gpu"] = 0

    with pytest.raises(ValidationError, match="duplicate GPU index"):
        GpuTelemetry.model_validate(message)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "NaN", "-Infinity"])
def test_non_finite_value_rejected(value: object) -> None:
    message = gpu_message()
    message["gpus"][0]["DCGM_FI_DEV_GPU_TEMP"] = value

    with pytest.raises(ValidationError, match="finite"):
        GpuTelemetry.model_validate(message)


@pytest.mark.parametrize(
    ("field", "value"),
    [("DCGM_FI_DEV_GPU_UTIL", 101), ("DCGM_FI_DEV_GPU_UTIL", -1), ("DCGM_FI_DEV_POWER_USAGE", -5), ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", -1)],
)
def test_out_of_range_value_rejected(field: str, value: float) -> None:
    message = gpu_message()
    message["gpus"][0][field] = value

    with pytest.raises(ValidationError, match=field):
        GpuTelemetry.model_validate(message)


def test_xid_event_needs_code() -> None:
    event = {"schema_version": 1, "time": "2026-01-01T00:00:00Z", "kind": "xid", "severity": "critical", "node": "n1"}

    with pytest.raises(ValidationError, match="Xid code"):
        HardwareEvent.model_validate(event)


def test_event_needs_node_or_rack() -> None:
    event = {"schema_version": 1, "time": "2026-01-01T00:00:00Z", "kind": "leak", "severity": "critical"}

    with pytest.raises(ValidationError, match="node or a rack"):
        HardwareEvent.model_validate(event)


def test_power_message_with_supplies() -> None:
    message = PowerTelemetry.model_validate({
        "schema_version": 1, "time": "2026-01-01T00:00:00Z", "rack": "r000", "pdu": "r000-pdu0",
        "PowerWatts": 40_000.0, "power_supplies": [{"psu": "psu0", "health": "Warning"}],
    })

    assert message.power_supplies[0].health == "Warning"


def test_job_progress_step_time_positive() -> None:
    progress = {"schema_version": 1, "time": "2026-01-01T00:00:00Z", "job": "j", "node": "n", "rank": 0, "step": 1, "step_time_seconds": 0}

    with pytest.raises(ValidationError, match="step_time_seconds"):
        JobProgress.model_validate(progress)


def test_model_for_unknown_topic() -> None:
    assert model_for_topic(topics.GPU) is GpuTelemetry
    with pytest.raises(KeyError, match="no schema for topic"):
        model_for_topic("telemetry.unknown")
