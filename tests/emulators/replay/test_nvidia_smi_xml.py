import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from emulators.replay.errors import ReplayParseError
from emulators.replay.nvidia_smi_xml import nvidia_smi_xml_records
from pipeline import topics
from tests.emulators.replay.datasets import NVIDIA_SMI_XML_DIR, decode_records

# Readings copied from each real dump; None marks a reading the dump gives as N/A or lacks.
DUMPS = [
    (
        "a100-sxm4-v12.xml",
        "2023-08-04T11:44:30Z",
        {
            "uuid": "GPU-00000000-0000-0000-0000-000000000011",
            "DCGM_FI_DEV_GPU_TEMP": 27.0,
            "DCGM_FI_DEV_MEMORY_TEMP": 44.0,
            "DCGM_FI_DEV_POWER_USAGE": 67.03,
            "DCGM_FI_DEV_ENFORCED_POWER_LIMIT": 500.0,
            "DCGM_FI_DEV_GPU_UTIL": None,
            "DCGM_FI_DEV_SM_CLOCK": 1275.0,
            "DCGM_FI_DEV_FB_USED": 50.0,
            "DCGM_FI_DEV_PCIE_LINK_WIDTH": 16,
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": None,
            "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": 0,
        },
    ),
    (
        "a10g.xml",
        "2023-04-24T16:11:51Z",
        {
            "uuid": "GPU-00000000-0000-0000-0000-000000000021",
            "DCGM_FI_DEV_GPU_TEMP": 17.0,
            "DCGM_FI_DEV_MEMORY_TEMP": None,
            "DCGM_FI_DEV_POWER_USAGE": 25.58,
            "DCGM_FI_DEV_GPU_UTIL": 0.0,
            "DCGM_FI_DEV_MEM_CLOCK": 405.0,
            "DCGM_FI_DEV_FB_FREE": 22569.0,
            "DCGM_FI_DEV_PCIE_LINK_GEN": 1,
            "DCGM_FI_DEV_PCIE_LINK_WIDTH": 8,
            "DCGM_FI_DEV_ROW_REMAP_FAILURE": 0,
            "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": 0x1,
        },
    ),
    (
        "tesla-t4.xml",
        "2023-04-24T16:22:39Z",
        {
            "uuid": "GPU-00000000-0000-0000-0000-000000000041",
            "DCGM_FI_DEV_GPU_TEMP": 40.0,
            "DCGM_FI_DEV_POWER_USAGE": 26.78,
            "DCGM_FI_DEV_ENFORCED_POWER_LIMIT": 70.0,
            "DCGM_FI_DEV_SM_CLOCK": 585.0,
            "DCGM_FI_DEV_FB_USED": 1032.0,
            "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": 0,
            "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": 0,
        },
    ),
    (
        "rtx-4000-sff-ada-v13.xml",
        "2026-08-06T01:03:40Z",
        {
            "uuid": "GPU-00000000-0000-0000-0000-000000000031",
            "DCGM_FI_DEV_GPU_TEMP": 38.0,
            "DCGM_FI_DEV_POWER_USAGE": 8.81,
            "DCGM_FI_DEV_MEM_COPY_UTIL": 37.0,
            "DCGM_FI_DEV_FB_USED": 3534.0,
            "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": None,
            "DCGM_FI_DEV_POWER_VIOLATION": 4_251_825_415_000,
            "DCGM_FI_DEV_THERMAL_VIOLATION": 0,
            "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": 0x1,
        },
    ),
]


@pytest.mark.parametrize(("file_name", "time", "expected"), DUMPS, ids=[item[0] for item in DUMPS])
def test_xml_real_dump(file_name: str, time: str, expected: dict[str, object]) -> None:
    records = list(nvidia_smi_xml_records(NVIDIA_SMI_XML_DIR / file_name, node="node-1", rack="r01"))
    gpu = records[0].value["gpus"][0]

    assert decode_records(records)[topics.GPU] == 1
    assert records[0].key == "node-1"
    assert records[0].value["rack"] == "r01"
    assert records[0].value["time"] == time
    assert gpu["gpu"] == 0
    for name, value in expected.items():
        assert gpu.get(name) == value, name


def test_xml_start_shifts_time() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)

    record = next(nvidia_smi_xml_records(NVIDIA_SMI_XML_DIR / "a10g.xml", node="n", start=start))

    assert record.value["time"] == "2026-01-01T00:00:00Z"


def test_xml_several_documents(tmp_path: Path) -> None:
    dump = (NVIDIA_SMI_XML_DIR / "tesla-t4.xml").read_text()
    later = dump.replace("16:22:39", "16:22:49")
    path = tmp_path / "loop.xml"
    path.write_text(dump + "\n" + later)

    records = list(nvidia_smi_xml_records(path, node="n"))

    assert len(records) == 2
    assert records[1].value["time"] == "2023-04-24T16:22:49Z"


def test_xml_two_gpus_indexed_by_position(tmp_path: Path) -> None:
    dump = (NVIDIA_SMI_XML_DIR / "tesla-t4.xml").read_text()
    gpu_start = dump.index("<gpu ")
    gpu_end = dump.index("</gpu>") + len("</gpu>")
    path = tmp_path / "two.xml"
    path.write_text(dump[:gpu_end] + "\n" + dump[gpu_start:])

    gpus = next(nvidia_smi_xml_records(path, node="n")).value["gpus"]

    assert [gpu["gpu"] for gpu in gpus] == [0, 1]


MINIMAL = """<?xml version="1.0" ?>
<nvidia_smi_log>
    <timestamp>Mon Apr 24 16:22:39 2023</timestamp>
    <gpu id="00000000:00:1E.0">
        <temperature>
            <gpu_temp>{temperature}</gpu_temp>
        </temperature>
        <remapped_rows>
            <remapped_row_failure>{failure}</remapped_row_failure>
        </remapped_rows>
    </gpu>
</nvidia_smi_log>
"""

MALFORMED = [
    ("unit", MINIMAL.format(temperature="27 F", failure="No"), ":6: <temperature/gpu_temp> is '27 F'; expected a number followed by 'C'"),
    ("word", MINIMAL.format(temperature="hot", failure="No"), ":6: <temperature/gpu_temp> is 'hot'"),
    ("flag", MINIMAL.format(temperature="27 C", failure="Maybe"), ":9: <remapped_rows/remapped_row_failure> is 'Maybe'; expected Yes, No or N/A"),
    ("schema range", MINIMAL.format(temperature="270 C", failure="No"), ":4: invalid GpuSample: DCGM_FI_DEV_GPU_TEMP: Input should be less than or equal to 200 (got 270.0)"),
    ("unclosed tag", MINIMAL.format(temperature="27 C", failure="No").replace("</temperature>", ""), ":11: invalid XML: mismatched tag at column 7"),
    ("no gpu", '<nvidia_smi_log>\n<timestamp>Mon Apr 24 16:22:39 2023</timestamp>\n</nvidia_smi_log>\n', ":1: document has no <gpu> element"),
    ("time stamp", MINIMAL.format(temperature="27 C", failure="No").replace("Mon Apr 24", "Someday"), ":3: <timestamp> is 'Someday 16:22:39 2023'"),
    ("outside text", "garbage\n" + MINIMAL, ":1: unexpected text outside an <nvidia_smi_log> document: 'garbage'"),
    ("not closed", MINIMAL.format(temperature="27 C", failure="No").replace("</nvidia_smi_log>", ""), ":1: document is not closed"),
]


@pytest.mark.parametrize(("text", "message"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_xml_malformed_names_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "dump.xml"
    path.write_text(text)

    with pytest.raises(ReplayParseError, match=re.escape("dump.xml" + message)):
        list(nvidia_smi_xml_records(path, node="n"))


def test_xml_placeholders_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "dump.xml"
    path.write_text(MINIMAL.format(temperature="[N/A]", failure="N/A"))

    gpu = next(nvidia_smi_xml_records(path, node="n")).value["gpus"][0]

    assert gpu == {"gpu": 0}
