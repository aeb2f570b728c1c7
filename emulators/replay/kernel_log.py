"""Kernel log lines with NVIDIA Xid errors as hardware events.

The NVIDIA driver logs each Xid as
``NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus.``
Each such line becomes one HardwareEvent of kind ``xid`` with the Xid code, the PCI
address and text in the message, and the GPU index when a PCI map is given. Other
lines are skipped. Supported line formats, by how they start:

- ISO 8601 time and host, as rsyslog and ``journalctl -o short-iso`` write them;
- ``Jan  5 10:00:00 host``, the classic syslog form, which has no year;
- ``[Mon Jan  5 10:00:00 2026]``, from ``dmesg -T``, which has no host;
- ``[12345.678901]``, from plain ``dmesg``: seconds since boot, so the boot time must
  be passed as ``start``.

NOTE: syslog and ``dmesg -T`` times carry no zone and are read as UTC; syslog times
get the year passed in ``year`` (default: the current year).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Final, Literal

from emulators.cluster import Record
from emulators.replay.errors import ReplayParseError
from emulators.replay.messages import build_record
from emulators.replay.pci import PciAddress, parse_pci_address
from emulators.replay.timing import TimeShift
from pipeline import topics
from pipeline.schemas import SCHEMA_VERSION, HardwareEvent

logger = logging.getLogger(__name__)

SOURCE: Final = "kernel-log"
MAX_MESSAGE_CHARS: Final = 4096
XID_MARKER: Final = "NVRM: Xid"

# Xids that are not a hardware fault on their own: application errors (13, 31, 94),
# follow-ups of an earlier Xid (43, 45), a recorded row remap (63), a single-bit ECC
# storm (92) and a recovery-action notice (154). Every other code is critical.
NONFATAL_XIDS: Final = frozenset({13, 31, 43, 45, 63, 92, 94, 154})

_XID = re.compile(
    r"NVRM: Xid \((?P<device>(?:PCI:)?(?P<pci>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}(?:\.[0-7])?)[^)]*)\): "
    r"(?P<code>\d+),\s*(?P<text>.*)$"
)
_ISO_PREFIX = re.compile(r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+(?P<host>\S+)\s")
_SYSLOG_PREFIX = re.compile(r"^(?P<time>[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2})\s+(?P<host>\S+)\s")
_DMESG_CLOCK_PREFIX = re.compile(r"^\[(?P<time>[A-Z][a-z]{2}\s+[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+\d{4})\]")
_DMESG_UPTIME_PREFIX = re.compile(r"^\[\s*(?P<seconds>\d+\.\d+)\]")

Severity = Literal["warning", "critical"]


def xid_severity(code: int) -> Severity:
    """Return ``warning`` for the Xids in NONFATAL_XIDS, else ``critical``."""
    return "warning" if code in NONFATAL_XIDS else "critical"


def kernel_log_records(
    path: Path,
    *,
    node: str | None = None,
    rack: str | None = None,
    cluster: str = "default",
    start: datetime | None = None,
    gpu_by_pci: Mapping[PciAddress, int] | None = None,
    year: int | None = None,
) -> Iterator[Record]:
    """Yield one HardwareEvent record per ``NVRM: Xid`` line of a kernel log file.

    ``node`` names the node of lines whose format has no host name. With ``start``,
    times move so that the first event lands on it, except plain ``dmesg`` lines, whose
    times are ``start`` (the boot time) plus their seconds since boot.

    Raises:
        ReplayParseError: an Xid line has no recognised time stamp, no host name and no
            ``node``, or an Xid part that does not parse.
    """
    source = str(path)
    shift = TimeShift(start)
    skipped = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line, text in enumerate(lines, start=1):
            text = text.rstrip("\r\n")
            if XID_MARKER not in text:
                skipped += 1
                continue
            moment, host = _time_and_host(text, source, line, start, shift, year)
            event_node = host or node
            if not event_node:
                raise ReplayParseError(source, line, "this log format has no host name; pass --node to name the node")
            yield _event_record(text, source, line, moment, event_node, rack, cluster, gpu_by_pci or {})
    logger.info("kernel log read source=%s lines_without_xid=%d", source, skipped)


def _time_and_host(
    text: str, source: str, line: int, start: datetime | None, shift: TimeShift, year: int | None
) -> tuple[datetime, str | None]:
    """Return the event time (shifted) and the host name, if the format has one."""
    if match := _ISO_PREFIX.match(text):
        try:
            moment = datetime.fromisoformat(match.group("time"))
        except ValueError:
            raise ReplayParseError(source, line, f"invalid time stamp {match.group('time')!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return shift.apply(moment), match.group("host")

    if match := _SYSLOG_PREFIX.match(text):
        stamp = f"{year or datetime.now(timezone.utc).year} {' '.join(match.group('time').split())}"
        try:
            moment = datetime.strptime(stamp, "%Y %b %d %H:%M:%S").replace(tzinfo=timezone.utc)
        except ValueError:
            raise ReplayParseError(source, line, f"invalid syslog time stamp {match.group('time')!r}") from None
        return shift.apply(moment), match.group("host")

    if match := _DMESG_CLOCK_PREFIX.match(text):
        try:
            moment = datetime.strptime(" ".join(match.group("time").split()), "%a %b %d %H:%M:%S %Y").replace(tzinfo=timezone.utc)
        except ValueError:
            raise ReplayParseError(source, line, f"invalid dmesg time stamp {match.group('time')!r}") from None
        return shift.apply(moment), None

    if match := _DMESG_UPTIME_PREFIX.match(text):
        if start is None:
            raise ReplayParseError(source, line, f"time stamp [{match.group('seconds')}] is seconds since boot; pass --start with the boot time")
        return start + timedelta(seconds=float(match.group("seconds"))), None

    raise ReplayParseError(
        source, line, "Xid line has no recognised time stamp; expected ISO 8601, 'Jan  5 10:00:00 host', '[Mon Jan  5 10:00:00 2026]' or '[12.345678]'"
    )


def _event_record(
    text: str,
    source: str,
    line: int,
    moment: datetime,
    node: str,
    rack: str | None,
    cluster: str,
    gpu_by_pci: Mapping[PciAddress, int],
) -> Record:
    match = _XID.search(text)
    if match is None:
        raise ReplayParseError(source, line, "invalid Xid line; expected 'NVRM: Xid (PCI:dddd:bb:dd): CODE, text'")
    code = int(match.group("code"))
    gpu = gpu_by_pci.get(parse_pci_address(match.group("pci")))
    message = f"{match.group('device')} Xid {code}: {match.group('text')}"[:MAX_MESSAGE_CHARS]
    # The same log line always gets the same id, so a second replay can be deduplicated.
    digest = hashlib.sha1(f"{node}\n{text}".encode(), usedforsecurity=False).hexdigest()[:20]
    event = {
        "schema_version": SCHEMA_VERSION,
        "time": moment,
        "cluster": cluster,
        "event_id": f"xid-{digest}",
        "kind": "xid",
        "severity": xid_severity(code),
        "rack": rack,
        "node": node,
        "gpu": gpu,
        "code": code,
        "message": message,
        "source": SOURCE,
    }
    return build_record(topics.HARDWARE_EVENTS, node, HardwareEvent, event, source, line)
