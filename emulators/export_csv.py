"""Write an emulated cluster's GPU samples to CSV: training data for ``qianliyan train``."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from emulators.cluster import ClusterEmulator
from pipeline import topics
from pipeline.schemas import GpuSample

logger = logging.getLogger(__name__)

# Gauges that describe a working GPU; counters (energy, ECC, replays) grow without bound
# and the clock-event bitmask is not a magnitude, so none of them suits the model.
DEFAULT_CSV_FIELDS: Final = (
    "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_MEMORY_TEMP",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_MEM_COPY_UTIL",
    "DCGM_FI_DEV_SM_CLOCK",
    "DCGM_FI_DEV_FB_USED",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
)
_NOT_FIELDS: Final = frozenset({"gpu", "uuid"})


@dataclass(frozen=True)
class CsvExportResult:
    """Counts of one export."""

    samples: int
    rows: int
    path: Path


def check_fields(fields: Sequence[str]) -> tuple[str, ...]:
    """Return ``fields`` as a tuple after checking that each one is a DCGM field of ``GpuSample``.

    Raises:
        ValueError: A field is unknown or repeats, or none is given.
    """
    known = [name for name in GpuSample.model_fields if name not in _NOT_FIELDS]
    unknown = [name for name in fields if name not in known]
    if unknown:
        raise ValueError(f"unknown GPU field {unknown}; use DCGM field names of GpuSample, for example {DEFAULT_CSV_FIELDS[0]}")
    if len(set(fields)) != len(fields):
        raise ValueError(f"GPU fields repeat: {list(fields)}")
    if not fields:
        raise ValueError("no GPU field given; name at least one")
    return tuple(fields)


def export_gpu_rows(emulator: ClusterEmulator, ticks: Iterable[datetime], path: Path, fields: Sequence[str] = DEFAULT_CSV_FIELDS) -> CsvExportResult:
    """Run the emulator over ``ticks`` and write one CSV row per GPU per sample.

    The header is the field names, so ``qianliyan train --input PATH`` takes every column
    as a feature. A field that a GPU did not report is an empty cell, which training reads
    as missing. Nothing is published to Kafka.
    """
    names = check_fields(fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for now in ticks:
            for record in emulator.sample(now):
                if record.topic != topics.GPU:
                    continue
                for gpu in record.value["gpus"]:
                    writer.writerow(["" if gpu.get(name) is None else gpu[name] for name in names])
                    rows += 1
            samples += 1
    logger.info("GPU rows exported path=%s samples=%d rows=%d fields=%d", path, samples, rows, len(names))
    return CsvExportResult(samples, rows, path)
