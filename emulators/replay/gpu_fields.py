"""DCGM field names of the GPU schema and helpers shared by the GPU source parsers."""

from __future__ import annotations

import types
from datetime import datetime
from typing import Annotated, Any, Final, Union, get_args, get_origin

from pipeline.schemas import SCHEMA_VERSION, GpuSample

NVML_CLOCK_EVENT_BITS: Final[dict[str, int]] = {
    "gpu_idle": 0x1,
    "applications_clocks_setting": 0x2,
    "sw_power_cap": 0x4,
    "hw_slowdown": 0x8,
    "sync_boost": 0x10,
    "sw_thermal_slowdown": 0x20,
    "hw_thermal_slowdown": 0x40,
    "hw_power_brake_slowdown": 0x80,
    "display_clocks_setting": 0x100,
}
"""Bits of DCGM_FI_DEV_CLOCKS_EVENT_REASONS (NVML's clock event reasons), by nvidia-smi name."""

MICROSECONDS_TO_NANOSECONDS: Final = 1_000


def _is_integer_field(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_integer_field(arg) for arg in get_args(annotation))
    if get_origin(annotation) is Annotated:
        return _is_integer_field(get_args(annotation)[0])
    return annotation is int


GPU_FIELDS: Final = frozenset(name for name in GpuSample.model_fields if name.startswith("DCGM_FI_"))
INTEGER_FIELDS: Final = frozenset(name for name in GPU_FIELDS if _is_integer_field(GpuSample.model_fields[name].annotation))


def gpu_sample(index: int, uuid: str | None, values: dict[str, float | int | None]) -> dict[str, Any]:
    """Return one GPU's sample dict: missing values dropped, integral counters as ``int``.

    A counter with a fraction is kept as it is, so that schema validation names it.
    """
    sample: dict[str, Any] = {"gpu": index}
    if uuid:
        sample["uuid"] = uuid
    for name, value in values.items():
        if value is None:
            continue
        if name in INTEGER_FIELDS and isinstance(value, float) and value.is_integer():
            value = int(value)
        sample[name] = value
    return sample


def gpu_message(moment: datetime, cluster: str, rack: str, node: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a GpuTelemetry message dict with the GPUs sorted by index."""
    return {
        "schema_version": SCHEMA_VERSION,
        "time": moment,
        "cluster": cluster,
        "rack": rack,
        "node": node,
        "gpus": sorted(samples, key=lambda sample: sample["gpu"]),
    }
