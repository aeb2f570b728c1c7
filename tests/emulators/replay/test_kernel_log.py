import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from emulators.replay.errors import ReplayParseError
from emulators.replay.kernel_log import kernel_log_records, xid_severity
from emulators.replay.pci import parse_pci_map
from pipeline import topics
from tests.emulators.replay.datasets import TESTDATA, decode_records

BOOT = datetime(2026, 3, 1, tzinfo=timezone.utc)


def test_syslog_xid_events() -> None:
    records = list(kernel_log_records(TESTDATA / "kern.log", year=2026, rack="r02", gpu_by_pci=parse_pci_map("0000:3b:00=2,0000:b7:00=7")))
    events = [record.value for record in records]

    assert decode_records(records)[topics.HARDWARE_EVENTS] == 5
    assert [event["code"] for event in events] == [13, 43, 48, 63, 79]
    assert [event["severity"] for event in events] == ["warning", "warning", "critical", "warning", "critical"]
    assert {record.key for record in records} == {"gpu-node-03"}
    assert events[0]["time"] == "2026-03-03T02:14:09Z"
    assert events[0]["rack"] == "r02"
    assert events[0]["kind"] == "xid"
    assert events[0]["source"] == "kernel-log"
    assert [event.get("gpu") for event in events] == [2, 2, None, None, 7]
    assert events[4]["message"] == "PCI:0000:b7:00 Xid 79: pid=90211, name=python3, GPU has fallen off the bus."


def test_journal_iso_hosts() -> None:
    records = list(kernel_log_records(TESTDATA / "journal-short-iso.log"))

    assert decode_records(records)[topics.HARDWARE_EVENTS] == 2
    assert [record.key for record in records] == ["gpu-node-11", "gpu-node-12"]
    assert [record.value["time"] for record in records] == ["2026-02-11T08:30:12Z", "2026-02-11T09:05:40.218345Z"]
    assert [record.value["code"] for record in records] == [119, 74]


def test_dmesg_uptime_from_boot() -> None:
    records = list(kernel_log_records(TESTDATA / "dmesg.txt", node="gpu-node-21", start=BOOT))

    assert len(records) == 1
    assert records[0].key == "gpu-node-21"
    assert records[0].value["time"] == "2026-03-02T00:00:02.551214Z"


def test_dmesg_clock_format(tmp_path: Path) -> None:
    path = tmp_path / "dmesg-T.txt"
    path.write_text("[Tue Mar  3 05:02:33 2026] NVRM: Xid (PCI:0000:b7:00): 79, GPU has fallen off the bus.\n")

    record = next(kernel_log_records(path, node="n1"))

    assert record.value["time"] == "2026-03-03T05:02:33Z"
    assert record.value["message"] == "PCI:0000:b7:00 Xid 79: GPU has fallen off the bus."


def test_mig_device_in_address(tmp_path: Path) -> None:
    path = tmp_path / "kern.log"
    path.write_text("2026-02-11T08:30:12Z n1 kernel: NVRM: Xid (PCI:0000:87:00 GPU-I:02): 31, pid=1, name=a.out, MMU Fault\n")

    record = next(kernel_log_records(path, gpu_by_pci=parse_pci_map("0000:87:00=4")))

    assert record.value["gpu"] == 4
    assert record.value["message"].startswith("PCI:0000:87:00 GPU-I:02 Xid 31:")


def test_start_shifts_events() -> None:
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)

    records = list(kernel_log_records(TESTDATA / "kern.log", year=2026, start=start))

    assert records[0].value["time"] == "2026-06-01T00:00:00Z"
    assert records[2].value["time"] == "2026-06-01T01:26:42Z"


def test_event_ids_stable() -> None:
    first = [record.value["event_id"] for record in kernel_log_records(TESTDATA / "kern.log", year=2026)]
    second = [record.value["event_id"] for record in kernel_log_records(TESTDATA / "kern.log", year=2026)]

    assert first == second
    assert len(set(first)) == len(first)


@pytest.mark.parametrize(("code", "severity"), [(13, "warning"), (63, "warning"), (48, "critical"), (79, "critical"), (999, "critical")])
def test_xid_severity(code: int, severity: str) -> None:
    assert xid_severity(code) == severity


MALFORMED = [
    ("code", ["Mar  3 02:14:09 n1 kernel: NVRM: Xid (PCI:0000:3b:00): seventy-nine, text"], ":1: invalid Xid line; expected 'NVRM: Xid (PCI:dddd:bb:dd): CODE, text'"),
    ("address", ["Mar  3 02:14:09 n1 kernel: ok", "Mar  3 02:14:09 n1 kernel: NVRM: Xid (GPU0): 79, text"], ":2: invalid Xid line"),
    ("time stamp", ["kernel: NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus."], ":1: Xid line has no recognised time stamp"),
    ("no host", ["[Tue Mar  3 05:02:33 2026] NVRM: Xid (PCI:0000:b7:00): 79, text"], ":1: this log format has no host name; pass --node"),
    ("uptime without boot", ["[86402.551214] NVRM: Xid (PCI:0000:3b:00): 79, text"], ":1: time stamp [86402.551214] is seconds since boot; pass --start"),
    ("bad date", ["Feb 30 02:14:09 n1 kernel: NVRM: Xid (PCI:0000:3b:00): 79, text"], ":1: invalid syslog time stamp 'Feb 30 02:14:09'"),
]


@pytest.mark.parametrize(("lines", "message"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_kernel_log_malformed_names_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "kern.log"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(ReplayParseError, match=re.escape("kern.log" + message)):
        list(kernel_log_records(path, year=2026))
