import re
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emulators.replay.dcgm_exporter import (
    DCGM_FP64_BLANK,
    DCGM_INT32_BLANK,
    DCGM_INT64_BLANK,
    dcgm_exporter_file_records,
    dcgm_exporter_scrape_records,
    is_blank,
)
from emulators.replay.errors import ReplayInputError, ReplayParseError
from pipeline import topics
from tests.emulators.replay.datasets import TESTDATA, decode_records

FIXTURE = TESTDATA / "dcgm-exporter-h100.prom"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)

BLANKS = [
    ("int64 not supported", 9223372036854775794, True),
    ("int64 blank", DCGM_INT64_BLANK, True),
    ("int64 as float", 9.223372036854776e18, True),
    ("int32 not found", DCGM_INT32_BLANK + 1, True),
    ("fp64 not supported", DCGM_FP64_BLANK + 2, True),
    ("fp64 as integer", 140737488355330, True),
    ("nan", float("nan"), True),
    ("zero", 0, False),
    ("temperature", 61.0, False),
    ("energy counter", 418773102341, False),
    ("below int32 blank", DCGM_INT32_BLANK - 1, False),
    ("above int32 reasons", DCGM_INT32_BLANK + 16, False),
]


@pytest.mark.parametrize(("value", "expected"), [case[1:] for case in BLANKS], ids=[case[0] for case in BLANKS])
def test_is_blank(value: float, expected: bool) -> None:
    assert is_blank(value) is expected


def test_dcgm_file_one_scrape() -> None:
    records = list(dcgm_exporter_file_records(FIXTURE, start=START, rack="r03", cluster="lab"))
    gpus = records[0].value["gpus"]

    assert decode_records(records)[topics.GPU] == 1
    assert records[0].key == "gpu-node-07"
    assert records[0].value["time"] == "2026-01-01T00:00:00Z"
    assert records[0].value["rack"] == "r03"
    assert [gpu["gpu"] for gpu in gpus] == [0, 1]
    assert gpus[0]["uuid"] == "GPU-9f1c2a7e-0000-4000-8000-00000000a001"
    assert gpus[0]["DCGM_FI_DEV_GPU_TEMP"] == 63.0
    assert gpus[0]["DCGM_FI_DEV_POWER_USAGE"] == 642.118
    assert gpus[0]["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"] == 418773102341
    assert gpus[0]["DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"] == 0.412007
    assert gpus[1]["DCGM_FI_DEV_PCIE_REPLAY_COUNTER"] == 2


def test_dcgm_blank_becomes_missing() -> None:
    gpu = next(dcgm_exporter_file_records(FIXTURE, start=START)).value["gpus"][1]

    assert "DCGM_FI_DEV_MEMORY_TEMP" not in gpu
    assert "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE" not in gpu
    assert "DCGM_FI_DEV_ENC_UTIL" not in gpu


def test_dcgm_file_several_scrapes(tmp_path: Path) -> None:
    path = tmp_path / "scrapes.prom"
    path.write_text(FIXTURE.read_text() * 3)

    records = list(dcgm_exporter_file_records(path, start=START, interval_seconds=15))

    assert [record.value["time"] for record in records] == ["2026-01-01T00:00:00Z", "2026-01-01T00:00:15Z", "2026-01-01T00:00:30Z"]


def test_dcgm_explicit_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "scrape.prom"
    path.write_text(
        'DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="n1"} 50 1767225600000\n'
        'DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="n1"} 51 1767225605000\n'
    )

    records = list(dcgm_exporter_file_records(path))

    assert [record.value["time"] for record in records] == ["2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"]


def test_dcgm_hosts_become_messages(tmp_path: Path) -> None:
    path = tmp_path / "federated.prom"
    path.write_text(
        'DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="n2"} 50\n'
        'DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="n1"} 51\n'
        'DCGM_FI_DEV_GPU_TEMP{gpu="1",Hostname="n1"} 52\n'
    )

    records = list(dcgm_exporter_file_records(path, start=START))

    assert [record.key for record in records] == ["n1", "n2"]
    assert len(records[0].value["gpus"]) == 2


def test_dcgm_skips_mig_instances(tmp_path: Path) -> None:
    path = tmp_path / "mig.prom"
    path.write_text(
        'DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="n1",GPU_I_ID=""} 50\n'
        'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",Hostname="n1",GPU_I_ID="3",GPU_I_PROFILE="1g.10gb"} 0.5\n'
    )

    gpu = next(dcgm_exporter_file_records(path, start=START)).value["gpus"][0]

    assert gpu == {"gpu": 0, "DCGM_FI_DEV_GPU_TEMP": 50.0}


def test_dcgm_node_option_without_hostname(tmp_path: Path) -> None:
    path = tmp_path / "scrape.prom"
    path.write_text('DCGM_FI_DEV_GPU_TEMP{gpu="0"} 50\n')

    record = next(dcgm_exporter_file_records(path, node="n5", start=START))

    assert record.key == "n5"


MALFORMED = [
    ("syntax", ['DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="n1"} 50', 'DCGM_FI_DEV_SM_CLOCK{gpu="0" 1980'], ":2: invalid Prometheus text:"),
    ("no gpu label", ['DCGM_FI_DEV_GPU_TEMP{Hostname="n1"} 50'], ":1: DCGM_FI_DEV_GPU_TEMP has gpu label ''; expected the GPU index"),
    ("no host", ['DCGM_FI_DEV_GPU_TEMP{gpu="0"} 50'], ":1: DCGM_FI_DEV_GPU_TEMP has no Hostname label; pass --node"),
    ("infinite", ['DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="n1"} +Inf'], ":1: DCGM_FI_DEV_GPU_TEMP is inf"),
    (
        "schema range",
        ['DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="n1"} 50', 'DCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="n1"} 250'],
        ":2: invalid GpuSample: DCGM_FI_DEV_GPU_UTIL: Input should be less than or equal to 100",
    ),
]


@pytest.mark.parametrize(("lines", "message"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_dcgm_malformed_names_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "scrape.prom"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(ReplayParseError, match=re.escape("scrape.prom" + message)):
        list(dcgm_exporter_file_records(path, start=START))


class _ExporterHandler(BaseHTTPRequestHandler):
    body = FIXTURE.read_bytes()
    requests = 0

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        type(self).requests += 1
        if self.path != "/metrics":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature fixed by http.server
        return


@pytest.fixture
def exporter() -> Iterator[str]:
    """Serve the fixture scrape at http://127.0.0.1:PORT/metrics from a thread."""
    _ExporterHandler.requests = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ExporterHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_dcgm_scrape_url(exporter: str) -> None:
    sleeps: list[float] = []

    records = list(dcgm_exporter_scrape_records(f"{exporter}/metrics", scrapes=3, interval_seconds=5, start=START, sleep=sleeps.append))

    assert decode_records(records)[topics.GPU] == 3
    assert _ExporterHandler.requests == 3
    assert sleeps == [5, 5]
    assert records[0].value["time"] == "2026-01-01T00:00:00Z"
    assert records[0].value["gpus"][0]["DCGM_FI_DEV_GPU_TEMP"] == 63.0


def test_dcgm_scrape_not_found(exporter: str) -> None:
    with pytest.raises(ReplayInputError, match="failed with HTTP 404"):
        next(dcgm_exporter_scrape_records(f"{exporter}/wrong", scrapes=1))


def test_dcgm_scrape_refused() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ExporterHandler)
    port = server.server_address[1]
    server.server_close()

    with pytest.raises(ReplayInputError, match=f"scrape of http://127.0.0.1:{port}/metrics failed"):
        next(dcgm_exporter_scrape_records(f"http://127.0.0.1:{port}/metrics", scrapes=1))


def test_dcgm_scrape_rejects_ftp_url() -> None:
    with pytest.raises(ReplayInputError, match="invalid scrape URL 'ftp://127.0.0.1/metrics'"):
        next(dcgm_exporter_scrape_records("ftp://127.0.0.1/metrics", scrapes=1))
