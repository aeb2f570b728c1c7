"""``nvidia-smi -q -x`` XML output as GPU telemetry, one message per document.

A file may hold one document or many in a row, as ``nvidia-smi -q -x -l SECONDS``
writes them. Each ``<gpu>`` element becomes one GPU sample, indexed by its position in
the document as nvidia-smi numbers GPUs. Device-level readings are mapped to DCGM field
names. MIG instances and processes are not replayed.

nvidia-smi prints ``<timestamp>`` in the host's local time without a zone.
NOTE: that time is read as UTC, so pass --start when the host's zone matters.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Final
from xml.etree import ElementTree
from xml.parsers import expat

from emulators.cluster import Record
from emulators.replay.errors import ReplayParseError
from emulators.replay.gpu_fields import MICROSECONDS_TO_NANOSECONDS, NVML_CLOCK_EVENT_BITS, gpu_message, gpu_sample
from emulators.replay.messages import build_record, validate
from emulators.replay.timing import TimeShift
from pipeline import topics
from pipeline.schemas import GpuSample, GpuTelemetry

logger = logging.getLogger(__name__)

ROOT_TAG: Final = "nvidia_smi_log"
TIME_FORMAT: Final = "%a %b %d %H:%M:%S %Y"
_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)\s*([A-Za-z%/]*)$")
# Texts nvidia-smi writes in place of a reading the GPU or driver does not provide.
# NOTE: collected from real dumps; an unlisted placeholder raises ReplayParseError.
MISSING_TEXTS: Final = frozenset({
    "",
    "N/A",
    "Not Supported",
    "Unknown Error",
    "Unknown",
    "Insufficient Permissions",
    "Requested functionality has been deprecated",
})

# Each DCGM field and the elements that carry it, first present one wins, with the unit
# nvidia-smi appends to the number.
READINGS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "DCGM_FI_DEV_GPU_TEMP": (("temperature/gpu_temp", "C"),),
    "DCGM_FI_DEV_MEMORY_TEMP": (("temperature/memory_temp", "C"),),
    "DCGM_FI_DEV_POWER_USAGE": (
        ("power_readings/power_draw", "W"),
        ("gpu_power_readings/power_draw", "W"),
        ("gpu_power_readings/average_power_draw", "W"),
        ("gpu_power_readings/instant_power_draw", "W"),
    ),
    "DCGM_FI_DEV_ENFORCED_POWER_LIMIT": (
        ("power_readings/enforced_power_limit", "W"),
        ("gpu_power_readings/current_power_limit", "W"),
        ("power_readings/power_limit", "W"),
    ),
    "DCGM_FI_DEV_GPU_UTIL": (("utilization/gpu_util", "%"),),
    "DCGM_FI_DEV_MEM_COPY_UTIL": (("utilization/memory_util", "%"),),
    "DCGM_FI_DEV_SM_CLOCK": (("clocks/sm_clock", "MHz"),),
    "DCGM_FI_DEV_MEM_CLOCK": (("clocks/mem_clock", "MHz"),),
    "DCGM_FI_DEV_FB_USED": (("fb_memory_usage/used", "MiB"),),
    "DCGM_FI_DEV_FB_FREE": (("fb_memory_usage/free", "MiB"),),
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": (("pci/replay_counter", ""),),
    "DCGM_FI_DEV_PCIE_LINK_GEN": (("pci/pci_gpu_link_info/pcie_gen/current_link_gen", ""),),
    "DCGM_FI_DEV_PCIE_LINK_WIDTH": (("pci/pci_gpu_link_info/link_widths/current_link_width", "x"),),
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": (("remapped_rows/remapped_row_corr", ""),),
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": (("remapped_rows/remapped_row_unc", ""),),
}

# Volatile ECC totals are sums over memory kinds: schema v11 and later split them into
# SRAM and DRAM (v13 splits SRAM uncorrectable into parity and SEC-DED), older schemas
# give single_bit/total and double_bit/total.
ECC_SBE_PATHS: Final = ("ecc_errors/volatile/sram_correctable", "ecc_errors/volatile/dram_correctable", "ecc_errors/volatile/single_bit/total")
ECC_DBE_PATHS: Final = (
    "ecc_errors/volatile/sram_uncorrectable",
    "ecc_errors/volatile/sram_uncorrectable_parity",
    "ecc_errors/volatile/sram_uncorrectable_secded",
    "ecc_errors/volatile/dram_uncorrectable",
    "ecc_errors/volatile/double_bit/total",
)
# Schema v13 counts microseconds spent in each clock event reason since boot.
COUNTERS_PATH: Final = "clocks_event_reasons_counters/clocks_event_reasons_counters_"
POWER_VIOLATION_PATHS: Final = (COUNTERS_PATH + "sw_power_cap",)
THERMAL_VIOLATION_PATHS: Final = (COUNTERS_PATH + "sw_therm_slowdown", COUNTERS_PATH + "hw_therm_slowdown")


def iter_documents(lines: Iterable[str], source: str) -> Iterator[tuple[int, str]]:
    """Split nvidia-smi XML output into documents and yield ``(first_line, text)`` pairs.

    Raises:
        ReplayParseError: text outside a document, or a document without its end tag.
    """
    buffer: list[str] = []
    first_line = 0
    line = 0
    for line, text in enumerate(lines, start=1):
        stripped = text.strip()
        if not buffer:
            if not stripped:
                continue
            if not (stripped.startswith("<?xml") or stripped.startswith(f"<{ROOT_TAG}")):
                raise ReplayParseError(source, line, f"unexpected text outside an <{ROOT_TAG}> document: {stripped[:60]!r}")
            first_line = line
        buffer.append(text)
        if f"</{ROOT_TAG}>" in text:
            yield first_line, "".join(buffer)
            buffer = []
    if buffer:
        raise ReplayParseError(source, first_line, f"document is not closed: no </{ROOT_TAG}> before the end of input at line {line}")


def parse_document(text: str, source: str, first_line: int) -> tuple[ElementTree.Element, dict[ElementTree.Element, int]]:
    """Parse one XML document and return its root and the line number of each element.

    External entities and DTDs are not loaded.

    Raises:
        ReplayParseError: the document is not well-formed XML.
    """
    builder = ElementTree.TreeBuilder()
    parser = expat.ParserCreate()
    element_lines: dict[ElementTree.Element, int] = {}

    def start(tag: str, attributes: dict[str, str]) -> None:
        element_lines[builder.start(tag, attributes)] = first_line + parser.CurrentLineNumber - 1

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        reason = expat.errors.messages[exc.code]
        raise ReplayParseError(source, first_line + exc.lineno - 1, f"invalid XML: {reason} at column {exc.offset + 1}") from exc
    return builder.close(), element_lines


def nvidia_smi_xml_records(
    path: Path,
    *,
    node: str,
    rack: str = "unknown",
    cluster: str = "default",
    start: datetime | None = None,
) -> Iterator[Record]:
    """Yield one GpuTelemetry record per document in an ``nvidia-smi -q -x`` file.

    Raises:
        ReplayParseError: malformed XML, a missing time stamp or ``<gpu>``, or a reading
            with an unexpected value or unit. The message names the line.
    """
    source = str(path)
    shift = TimeShift(start)
    with path.open(encoding="utf-8", errors="replace") as lines:
        for first_line, text in iter_documents(lines, source):
            root, element_lines = parse_document(text, source, first_line)
            reader = _Reader(source, element_lines)
            if root.tag != ROOT_TAG:
                raise ReplayParseError(source, first_line, f"root element is <{root.tag}>; expected <{ROOT_TAG}>")
            moment = shift.apply(reader.timestamp(root, first_line))
            gpus = root.findall("gpu")
            if not gpus:
                raise ReplayParseError(source, first_line, "document has no <gpu> element")
            samples = []
            for index, gpu in enumerate(gpus):
                sample = gpu_sample(index, reader.text(gpu, "uuid"), reader.gpu_values(gpu))
                validate(GpuSample, sample, source, element_lines.get(gpu))
                samples.append(sample)
            message = gpu_message(moment, cluster, rack, node, samples)
            yield build_record(topics.GPU, node, GpuTelemetry, message, source, first_line)


class _Reader:
    """Read typed values from elements, naming the element's line in every error."""

    def __init__(self, source: str, element_lines: dict[ElementTree.Element, int]) -> None:
        self.source = source
        self.element_lines = element_lines

    def error(self, element: ElementTree.Element, path: str, reason: str) -> ReplayParseError:
        return ReplayParseError(self.source, self.element_lines.get(element), f"<{path}> {reason}")

    def text(self, parent: ElementTree.Element, path: str) -> str | None:
        element = parent.find(path)
        if element is None:
            return None
        value = (element.text or "").strip()
        return None if _is_missing(value) else value

    def timestamp(self, root: ElementTree.Element, first_line: int) -> datetime:
        element = root.find("timestamp")
        if element is None:
            raise ReplayParseError(self.source, first_line, "document has no <timestamp>; expected nvidia-smi -q -x output")
        text = " ".join((element.text or "").split())
        try:
            return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            raise self.error(element, "timestamp", f"is {text!r}; expected a time such as 'Fri Aug  4 11:44:30 2023'") from None

    def number(self, parent: ElementTree.Element, path: str, unit: str) -> float | None:
        element = parent.find(path)
        if element is None:
            return None
        text = (element.text or "").strip()
        if _is_missing(text):
            return None
        match = _NUMBER.match(text)
        if match is None or match.group(2) != unit:
            expected = f"a number followed by {unit!r}" if unit else "a plain number"
            raise self.error(element, path, f"is {text!r}; expected {expected} or N/A")
        return float(match.group(1))

    def first_number(self, parent: ElementTree.Element, candidates: Iterable[tuple[str, str]]) -> float | None:
        for path, unit in candidates:
            value = self.number(parent, path, unit)
            if value is not None:
                return value
        return None

    def total(self, parent: ElementTree.Element, paths: Iterable[str], unit: str = "") -> float | None:
        values = [value for value in (self.number(parent, path, unit) for path in paths) if value is not None]
        return sum(values) if values else None

    def flag(self, parent: ElementTree.Element, path: str) -> int | None:
        element = parent.find(path)
        if element is None:
            return None
        text = (element.text or "").strip()
        if _is_missing(text):
            return None
        if text not in ("Yes", "No"):
            raise self.error(element, path, f"is {text!r}; expected Yes, No or N/A")
        return 1 if text == "Yes" else 0

    def clock_event_reasons(self, gpu: ElementTree.Element) -> int | None:
        """Return the NVML clock event bitmask from the Active/Not Active elements."""
        for container, prefix in (("clocks_event_reasons", "clocks_event_reason_"), ("clocks_throttle_reasons", "clocks_throttle_reason_")):
            parent = gpu.find(container)
            if parent is None:
                continue
            mask: int | None = None
            for element in parent:
                text = (element.text or "").strip()
                bit = NVML_CLOCK_EVENT_BITS.get(element.tag.removeprefix(prefix))
                if bit is None or _is_missing(text):
                    continue
                if text not in ("Active", "Not Active"):
                    raise self.error(element, f"{container}/{element.tag}", f"is {text!r}; expected Active, Not Active or N/A")
                mask = (mask or 0) | (bit if text == "Active" else 0)
            return mask
        return None

    def gpu_values(self, gpu: ElementTree.Element) -> dict[str, float | int | None]:
        """Return the DCGM fields of one ``<gpu>`` element."""
        values: dict[str, float | int | None] = {name: self.first_number(gpu, candidates) for name, candidates in READINGS.items()}
        values["DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"] = self.total(gpu, ECC_SBE_PATHS)
        values["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"] = self.total(gpu, ECC_DBE_PATHS)
        values["DCGM_FI_DEV_ROW_REMAP_FAILURE"] = self.flag(gpu, "remapped_rows/remapped_row_failure")
        values["DCGM_FI_DEV_CLOCKS_EVENT_REASONS"] = self.clock_event_reasons(gpu)

        # DCGM counts violation time in ns; nvidia-smi prints microseconds.
        power_us = self.total(gpu, POWER_VIOLATION_PATHS, "us")
        thermal_us = self.total(gpu, THERMAL_VIOLATION_PATHS, "us")
        values["DCGM_FI_DEV_POWER_VIOLATION"] = None if power_us is None else power_us * MICROSECONDS_TO_NANOSECONDS
        values["DCGM_FI_DEV_THERMAL_VIOLATION"] = None if thermal_us is None else thermal_us * MICROSECONDS_TO_NANOSECONDS
        return values


def _is_missing(text: str) -> bool:
    """Return whether ``text`` is a placeholder, including bracketed ones such as '[N/A]'."""
    return text in MISSING_TEXTS or (text.startswith("[") and text.endswith("]"))
