"""Telegraf ``nvidia_smi`` output in line protocol as GPU telemetry.

Telegraf's nvidia_smi input writes one ``nvidia_smi`` line per GPU and gather, tagged
with ``host`` and ``index``. Lines of one gather share a timestamp, so consecutive lines
with the same timestamp and host become one GpuTelemetry message. Telegraf field names
are mapped to DCGM field names. Other measurements (``nvidia_smi_mig``,
``nvidia_smi_process``) are skipped and counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final, Literal

from emulators.cluster import Record
from emulators.replay.errors import ReplayInputError, ReplayParseError
from emulators.replay.gpu_fields import MICROSECONDS_TO_NANOSECONDS, gpu_message, gpu_sample
from emulators.replay.line_protocol import FieldValue, Point, iter_points
from emulators.replay.messages import build_record, validate
from emulators.replay.timing import TimeShift
from pipeline import topics
from pipeline.schemas import GpuSample, GpuTelemetry

logger = logging.getLogger(__name__)

MEASUREMENT: Final = "nvidia_smi"

Precision = Literal["ns", "us", "ms", "s"]
NANOSECONDS_PER_UNIT: Final[dict[str, int]] = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}

# Telegraf field name to DCGM field name, for readings in the same unit.
FIELD_NAMES: Final[dict[str, str]] = {
    "temperature_gpu": "DCGM_FI_DEV_GPU_TEMP",
    "temperature_memory": "DCGM_FI_DEV_MEMORY_TEMP",
    "power_draw": "DCGM_FI_DEV_POWER_USAGE",
    "power_limit": "DCGM_FI_DEV_ENFORCED_POWER_LIMIT",
    "utilization_gpu": "DCGM_FI_DEV_GPU_UTIL",
    "utilization_memory": "DCGM_FI_DEV_MEM_COPY_UTIL",
    "clocks_current_sm": "DCGM_FI_DEV_SM_CLOCK",
    "clocks_current_memory": "DCGM_FI_DEV_MEM_CLOCK",
    "memory_used": "DCGM_FI_DEV_FB_USED",
    "memory_free": "DCGM_FI_DEV_FB_FREE",
    "pcie_link_gen_current": "DCGM_FI_DEV_PCIE_LINK_GEN",
    "pcie_link_width_current": "DCGM_FI_DEV_PCIE_LINK_WIDTH",
    "remapped_rows_correctable": "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
    "remapped_rows_uncorrectable": "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
}

# DCGM totals that are sums of several Telegraf fields, with the factor to DCGM's unit:
# volatile ECC counts per memory kind, and clock event time in microseconds to ns.
SUMMED_FIELDS: Final[dict[str, tuple[tuple[str, ...], int]]] = {
    "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": (("ecc_errors_volatile_sram_correctable", "ecc_errors_volatile_dram_correctable"), 1),
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": (
        (
            "ecc_errors_volatile_sram_uncorrectable",
            "ecc_errors_volatile_sram_uncorrectable_parity",
            "ecc_errors_volatile_sram_uncorrectable_secded",
            "ecc_errors_volatile_dram_uncorrectable",
        ),
        1,
    ),
    "DCGM_FI_DEV_POWER_VIOLATION": (("clocks_event_reasons_counters_sw_power_cap",), MICROSECONDS_TO_NANOSECONDS),
    "DCGM_FI_DEV_THERMAL_VIOLATION": (
        ("clocks_event_reasons_counters_sw_therm_slowdown", "clocks_event_reasons_counters_hw_therm_slowdown"),
        MICROSECONDS_TO_NANOSECONDS,
    ),
}


def telegraf_records(
    path: Path,
    *,
    node: str | None = None,
    rack: str = "unknown",
    cluster: str = "default",
    start: datetime | None = None,
    precision: Precision = "ns",
) -> Iterator[Record]:
    """Return one GpuTelemetry record per host and gather of a Telegraf output file, read lazily.

    ``node`` names the node of lines without a ``host`` tag.

    Raises:
        ReplayInputError: the precision is unknown.
        ReplayParseError: a line is not line protocol, lacks its timestamp, host or
            index, repeats a GPU within one gather, or has a reading of the wrong type.
    """
    if precision not in NANOSECONDS_PER_UNIT:
        raise ReplayInputError(f"unknown timestamp precision {precision!r}; expected one of {', '.join(NANOSECONDS_PER_UNIT)}")
    return _file_records(path, node, rack, cluster, TimeShift(start), precision)


def _file_records(path: Path, node: str | None, rack: str, cluster: str, shift: TimeShift, precision: str) -> Iterator[Record]:
    source = str(path)
    skipped: Counter[str] = Counter()
    gather = _Gather()

    with path.open(encoding="utf-8", errors="replace") as lines:
        for line, point in iter_points(lines, source):
            if point.measurement != MEASUREMENT:
                skipped[point.measurement] += 1
                continue
            if point.timestamp is None:
                raise ReplayParseError(source, line, "line has no timestamp; Telegraf writes one on every line")
            if point.timestamp != gather.timestamp:
                yield from gather.records(shift, precision, rack, cluster, source)
                gather = _Gather(point.timestamp)
            host = point.tags.get("host") or node
            if not host:
                raise ReplayParseError(source, line, "line has no host tag; pass --node to name the node")
            gather.add(host, _sample(point, source, line), source, line)
    yield from gather.records(shift, precision, rack, cluster, source)

    if skipped:
        logger.info("telegraf lines of other measurements skipped source=%s counts=%s", source, dict(skipped))


class _Gather:
    """The GPU samples of one timestamp, per host, with the first line of each host."""

    def __init__(self, timestamp: int | None = None) -> None:
        self.timestamp = timestamp
        self.samples: dict[str, dict[int, dict[str, Any]]] = {}
        self.first_lines: dict[str, int] = {}

    def add(self, host: str, sample: dict[str, Any], source: str, line: int) -> None:
        gpus = self.samples.setdefault(host, {})
        self.first_lines.setdefault(host, line)
        if sample["gpu"] in gpus:
            raise ReplayParseError(source, line, f"GPU index {sample['gpu']} of host {host!r} appears twice at timestamp {self.timestamp}")
        gpus[sample["gpu"]] = sample

    def records(self, shift: TimeShift, precision: str, rack: str, cluster: str, source: str) -> Iterator[Record]:
        if self.timestamp is None:
            return
        nanoseconds = self.timestamp * NANOSECONDS_PER_UNIT[precision]
        moment = shift.apply(datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=nanoseconds // 1_000))
        for host in sorted(self.samples):
            message = gpu_message(moment, cluster, rack, host, list(self.samples[host].values()))
            yield build_record(topics.GPU, host, GpuTelemetry, message, source, self.first_lines[host])


def _sample(point: Point, source: str, line: int) -> dict[str, Any]:
    index_tag = point.tags.get("index", "")
    if not index_tag.isdigit():
        raise ReplayParseError(source, line, f"index tag is {index_tag!r}; expected the GPU index, such as index=0")

    values: dict[str, float | int | None] = {}
    for telegraf_name, dcgm_name in FIELD_NAMES.items():
        values[dcgm_name] = _number(point.fields, telegraf_name, source, line)
    for dcgm_name, (telegraf_names, factor) in SUMMED_FIELDS.items():
        parts = [_number(point.fields, name, source, line) for name in telegraf_names]
        present = [part for part in parts if part is not None]
        values[dcgm_name] = sum(present) * factor if present else None
    values["DCGM_FI_DEV_ROW_REMAP_FAILURE"] = _yes_no(point.fields, "remapped_rows_failure", source, line)

    sample = gpu_sample(int(index_tag), point.tags.get("uuid"), values)
    validate(GpuSample, sample, source, line)
    return sample


def _number(fields: dict[str, FieldValue], name: str, source: str, line: int) -> float | int | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReplayParseError(source, line, f"field {name} is {value!r}; expected a number")
    return value


def _yes_no(fields: dict[str, FieldValue], name: str, source: str, line: int) -> int | None:
    value = fields.get(name)
    if value is None or value == "N/A":
        return None
    if value not in ("Yes", "No"):
        raise ReplayParseError(source, line, f"field {name} is {value!r}; expected \"Yes\" or \"No\"")
    return 1 if value == "Yes" else 0
