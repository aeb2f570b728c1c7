from pipeline.schemas import DpuTelemetry, GpuTelemetry, HardwareEvent, PowerTelemetry
from pipeline.sinks.points import to_points
from tests.factories import gpu_message


def test_gpu_points_one_per_gpu() -> None:
    points = to_points(GpuTelemetry.model_validate(gpu_message()))

    lines = [point.to_line_protocol() for point in points]
    assert len(lines) == 2
    assert lines[0].startswith("gpu,cluster=test,gpu=0,node=r000-n00,rack=r000,uuid=GPU-0 ")
    assert "DCGM_FI_DEV_GPU_TEMP=61.5" in lines[0]
    assert "DCGM_FI_DEV_GPU_UTIL=97" in lines[0]
    assert lines[0].endswith(" 1767225600000000000")


def test_integer_counters_written_as_integers() -> None:
    message = gpu_message()
    message["gpus"][0]["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"] = 3

    line = to_points(GpuTelemetry.model_validate(message))[0].to_line_protocol()

    assert "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL=3i" in line


def test_float_fields_stay_float() -> None:
    message = gpu_message()
    message["gpus"][0]["DCGM_FI_DEV_GPU_TEMP"] = 60

    line = to_points(GpuTelemetry.model_validate(message))[0].to_line_protocol()

    # Line protocol reads a number without the "i" suffix as a float.
    assert "DCGM_FI_DEV_GPU_TEMP=60," in line
    assert "DCGM_FI_DEV_GPU_TEMP=60i" not in line


def test_gpu_without_fields_has_no_point() -> None:
    message = gpu_message(gpus=[{"gpu": 0}, {"gpu": 1, "DCGM_FI_DEV_GPU_TEMP": 50.0}])

    points = to_points(GpuTelemetry.model_validate(message))

    assert len(points) == 1


def test_dpu_points_have_link_up() -> None:
    message = DpuTelemetry.model_validate({
        "schema_version": 1, "time": "2026-01-01T00:00:00Z", "rack": "r0", "node": "n0", "dpu": "n0-dpu0",
        "ports": [{"port": 0, "link_state": "down", "link_down_events_phy": 2}],
    })

    line = to_points(message)[0].to_line_protocol()

    assert "port=0" in line
    assert "link_up=0i" in line
    assert 'link_state="down"' in line


def test_power_points_include_supplies() -> None:
    message = PowerTelemetry.model_validate({
        "schema_version": 1, "time": "2026-01-01T00:00:00Z", "rack": "r0", "pdu": "r0-pdu0", "PowerWatts": 1000.0,
        "power_supplies": [{"psu": "psu0", "health": "OK"}, {"psu": "psu1", "health": "Critical"}],
    })

    measurements = [point.to_line_protocol().split(",")[0] for point in to_points(message)]

    assert measurements == ["power", "power_supply", "power_supply"]


def test_event_point_tags_and_fields() -> None:
    event = HardwareEvent.model_validate({
        "schema_version": 1, "time": "2026-01-01T00:00:00Z", "kind": "xid", "severity": "critical",
        "node": "n0", "gpu": 3, "code": 79, "message": "GPU has fallen off the bus", "source": "kmsg",
    })

    line = to_points(event)[0].to_line_protocol()

    assert line.startswith("hardware_event,cluster=default,gpu=3,kind=xid,node=n0,severity=critical ")
    assert "code=79i" in line


def test_generic_point_skips_missing_values() -> None:
    from pipeline.schemas import GenericTelemetry

    message = GenericTelemetry.model_validate({
        "schema_version": 1, "time": "2026-01-01T00:00:00Z", "source": "smd", "entity": "machine-1-1",
        "values": {"cpu_r": 0.5, "mem_u": None},
    })

    line = to_points(message)[0].to_line_protocol()

    assert line.startswith("generic,cluster=default,entity=machine-1-1,source=smd ")
    assert "cpu_r=0.5" in line
    assert "mem_u" not in line
