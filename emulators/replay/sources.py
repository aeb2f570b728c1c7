"""Open a replay source by kind and location with the command line's options."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from emulators.replay import dcgm_exporter, kernel_log, nab, nvidia_smi_xml, smd, telegraf
from emulators.replay.errors import ReplayInputError
from emulators.replay.messages import entity_name
from emulators.replay.pci import PciAddress
from emulators.replay.run import ReplaySource
from emulators.replay.timing import DEFAULT_START


class SourceKind(enum.StrEnum):
    """Formats that ``qianliyan replay`` reads."""

    SMD = "smd"
    NAB = "nab"
    TELEGRAF = "telegraf"
    NVIDIA_SMI_XML = "nvidia-smi-xml"
    DCGM_EXPORTER = "dcgm-exporter"
    KERNEL_LOG = "kernel-log"


@dataclass(frozen=True)
class ReplayOptions:
    """Options of a replay; each source reads the ones that apply to it."""

    machine: str | None = None
    split: smd.Split = "test"
    series: str | None = None
    node: str | None = None
    rack: str = "unknown"
    cluster: str = "default"
    start: datetime | None = None
    interval_seconds: float = dcgm_exporter.DEFAULT_INTERVAL_SECONDS
    precision: telegraf.Precision = "ns"
    gpu_by_pci: dict[PciAddress, int] | None = None
    labels: bool = True
    limit: int | None = None


def open_source(kind: SourceKind, location: str, options: ReplayOptions) -> ReplaySource:
    """Return the records of ``location`` read as ``kind``, not yet parsed.

    Raises:
        ReplayInputError: a required option is missing or the location does not exist.
    """
    if kind is SourceKind.SMD:
        return _smd_source(Path(location), options)
    if kind is SourceKind.NAB:
        return _nab_source(Path(location), options)
    if kind is SourceKind.DCGM_EXPORTER and location.startswith(("http://", "https://")):
        records = dcgm_exporter.dcgm_exporter_scrape_records(
            location, scrapes=options.limit, node=options.node, rack=options.rack, cluster=options.cluster,
            start=options.start, interval_seconds=options.interval_seconds,
        )
        return ReplaySource(f"dcgm-exporter scrape {location}", records, None)

    path = _existing_file(location)
    if kind is SourceKind.TELEGRAF:
        records = telegraf.telegraf_records(
            path, node=options.node, rack=options.rack, cluster=options.cluster, start=options.start, precision=options.precision
        )
    elif kind is SourceKind.NVIDIA_SMI_XML:
        node = options.node or entity_name(path.stem)
        records = nvidia_smi_xml.nvidia_smi_xml_records(path, node=node, rack=options.rack, cluster=options.cluster, start=options.start)
    elif kind is SourceKind.DCGM_EXPORTER:
        records = dcgm_exporter.dcgm_exporter_file_records(
            path, node=options.node, rack=options.rack, cluster=options.cluster, start=options.start,
            interval_seconds=options.interval_seconds,
        )
    else:
        records = kernel_log.kernel_log_records(
            path, node=options.node, rack=None if options.rack == "unknown" else options.rack, cluster=options.cluster,
            start=options.start, gpu_by_pci=options.gpu_by_pci,
        )
    return ReplaySource(f"{kind.value} {path}", records, None)


def _smd_source(path: Path, options: ReplayOptions) -> ReplaySource:
    if not options.machine:
        raise ReplayInputError(f"SMD needs --machine; machines with values in {path}: {', '.join(smd.machines_with_values(path)) or 'none'}")
    root = smd.dataset_root(path)
    files = {"test": ["test"], "train": ["train"], "all": ["train", "test"]}.get(options.split, [])
    rows = sum(_count_lines(root / folder / f"{options.machine}.txt") for folder in files)
    records = smd.smd_records(
        path, options.machine, split=options.split, start=options.start or DEFAULT_START, cluster=options.cluster, labels=options.labels
    )
    return ReplaySource(f"smd {options.machine} ({options.split})", records, _capped(rows, options.limit))


def _nab_source(path: Path, options: ReplayOptions) -> ReplaySource:
    if not options.series:
        raise ReplayInputError("NAB needs --series, such as --series realKnownCause/machine_temperature_system_failure")
    name = nab.series_name(options.series)
    rows = max(_count_lines(path / "data" / f"{name}.csv") - 1, 0)
    records = nab.nab_records(path, name, start=options.start, cluster=options.cluster, labels=options.labels)
    return ReplaySource(f"nab {name}", records, _capped(rows, options.limit))


def _existing_file(location: str) -> Path:
    path = Path(location)
    if not path.is_file():
        raise ReplayInputError(f"replay input {location!r} not found or not a file")
    return path


def _count_lines(path: Path) -> int:
    """Return the number of lines in ``path``, 0 when it is missing (the parser reports that)."""
    if not path.is_file():
        return 0
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def _capped(rows: int, limit: int | None) -> int:
    return rows if limit is None else min(rows, limit)
