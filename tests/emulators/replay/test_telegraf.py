import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from emulators.replay.errors import ReplayInputError, ReplayParseError
from emulators.replay.telegraf import telegraf_records
from pipeline import topics
from tests.emulators.replay.datasets import TESTDATA, decode_records

FIXTURE = TESTDATA / "telegraf-nvidia-smi.lp"


def test_telegraf_groups_by_host_and_gather() -> None:
    records = list(telegraf_records(FIXTURE, rack="r07", cluster="lab"))

    assert decode_records(records)[topics.GPU] == 6
    assert [record.key for record in records] == ["gpu-node-01", "gpu-node-02"] * 3
    assert [record.value["time"] for record in records[::2]] == ["2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z"]
    assert records[0].value["rack"] == "r07"
    assert records[0].value["cluster"] == "lab"
    assert [gpu["gpu"] for gpu in records[0].value["gpus"]] == [0, 1]


FIELD_CASES = [
    ("DCGM_FI_DEV_GPU_TEMP", 61.0),
    ("DCGM_FI_DEV_MEMORY_TEMP", 70.0),
    ("DCGM_FI_DEV_POWER_USAGE", 371.25),
    ("DCGM_FI_DEV_ENFORCED_POWER_LIMIT", 400.0),
    ("DCGM_FI_DEV_GPU_UTIL", 98.0),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", 61.0),
    ("DCGM_FI_DEV_SM_CLOCK", 1410.0),
    ("DCGM_FI_DEV_MEM_CLOCK", 1593.0),
    ("DCGM_FI_DEV_FB_USED", 78340.0),
    ("DCGM_FI_DEV_FB_FREE", 2711.0),
    ("DCGM_FI_DEV_PCIE_LINK_GEN", 4),
    ("DCGM_FI_DEV_PCIE_LINK_WIDTH", 16),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", 0),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", 0),
    ("uuid", "GPU-5b3c0f4e-0000-4000-8000-000000000001"),
]


@pytest.mark.parametrize(("name", "expected"), FIELD_CASES, ids=[case[0] for case in FIELD_CASES])
def test_telegraf_maps_field(name: str, expected: object) -> None:
    gpu = next(telegraf_records(FIXTURE)).value["gpus"][0]

    assert gpu[name] == expected


def test_telegraf_sums_ecc_and_violations() -> None:
    gpu = list(telegraf_records(FIXTURE))[1].value["gpus"][0]

    assert gpu["DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"] == 3
    assert gpu["DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"] == 0
    assert gpu["DCGM_FI_DEV_POWER_VIOLATION"] == 1_500_000
    assert gpu["DCGM_FI_DEV_THERMAL_VIOLATION"] == 250_000


def test_telegraf_start_shifts_time() -> None:
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)

    records = list(telegraf_records(FIXTURE, start=start))

    assert records[0].value["time"] == "2026-03-01T00:00:00Z"
    assert records[-1].value["time"] == "2026-03-01T00:00:20Z"


def test_telegraf_precision_seconds(tmp_path: Path) -> None:
    path = tmp_path / "out.lp"
    path.write_text("nvidia_smi,host=n1,index=0 temperature_gpu=50i 1767225600\n")

    record = next(telegraf_records(path, precision="s"))

    assert record.value["time"] == "2026-01-01T00:00:00Z"


def test_telegraf_node_option_without_host(tmp_path: Path) -> None:
    path = tmp_path / "out.lp"
    path.write_text("nvidia_smi,index=0 temperature_gpu=50i 1767225600000000000\n")

    record = next(telegraf_records(path, node="n9"))

    assert record.key == "n9"


def test_telegraf_unknown_precision() -> None:
    with pytest.raises(ReplayInputError, match="unknown timestamp precision 'h'"):
        next(telegraf_records(FIXTURE, precision="h"))  # type: ignore[arg-type]


GOOD = "nvidia_smi,host=n1,index=0 temperature_gpu=50i 1767225600000000000"

MALFORMED = [
    ("syntax", [GOOD, "nvidia_smi,host=n1,index=1 temperature_gpu=5 0i 1"], ":2: invalid line protocol: timestamp '0i 1' is not an integer"),
    ("no timestamp", [GOOD, "nvidia_smi,host=n1,index=1 temperature_gpu=50i"], ":2: line has no timestamp"),
    ("no host", ["nvidia_smi,index=0 temperature_gpu=50i 1"], ":1: line has no host tag; pass --node"),
    ("no index", ["nvidia_smi,host=n1 temperature_gpu=50i 1"], ":1: index tag is ''; expected the GPU index"),
    ("string reading", ['nvidia_smi,host=n1,index=0 temperature_gpu="hot" 1'], ":1: field temperature_gpu is 'hot'; expected a number"),
    ("remap flag", ['nvidia_smi,host=n1,index=0 remapped_rows_failure="Maybe" 1'], ":1: field remapped_rows_failure is 'Maybe'"),
    ("duplicate gpu", [GOOD, GOOD], ":2: GPU index 0 of host 'n1' appears twice"),
    ("schema range", ["nvidia_smi,host=n1,index=0 utilization_gpu=140i 1"], ":1: invalid GpuSample: DCGM_FI_DEV_GPU_UTIL: Input should be less than or equal to 100"),
]


@pytest.mark.parametrize(("lines", "message"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_telegraf_malformed_names_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "out.lp"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(ReplayParseError, match=re.escape("out.lp" + message)):
        list(telegraf_records(path))
