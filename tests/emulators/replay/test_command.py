import threading
from collections.abc import Iterable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from emulators.cluster import Record
from emulators.replay import run
from emulators.replay.command import replay
from emulators.replay.errors import ReplayInputError
from pipeline import topics
from pipeline.settings import KafkaSettings
from tests.emulators.replay.datasets import NAB_DIR, NVIDIA_SMI_XML_DIR, SMD_DIR, TESTDATA, decode_records
from tests.emulators.replay.test_dcgm_exporter import _ExporterHandler

app = typer.Typer()
app.command()(replay)


@app.callback()
def main() -> None:
    """Stand-in for the qianliyan command group."""


class FakeKafkaPublisher:
    """Records what the replay sends instead of sending it to Kafka."""

    instances: list["FakeKafkaPublisher"] = []

    def __init__(self, settings: KafkaSettings, client_id: str = "") -> None:
        self.settings = settings
        self.client_id = client_id
        self.records: list[Record] = []
        self.closed = False
        FakeKafkaPublisher.instances.append(self)

    def publish(self, records: Iterable[Record]) -> int:
        batch = list(records)
        self.records.extend(batch)
        return len(batch)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def kafka(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Replace the Kafka publisher and topic creation of the replay with fakes."""
    created: dict[str, Any] = {"topics": []}
    FakeKafkaPublisher.instances = []

    def fake_ensure_topics(settings: KafkaSettings, names: Iterable[str]) -> list[str]:
        created["topics"].extend(names)
        return []

    monkeypatch.setattr(run, "KafkaPublisher", FakeKafkaPublisher)
    monkeypatch.setattr(run, "ensure_topics", fake_ensure_topics)
    monkeypatch.delenv("QIANLIYAN_KAFKA__TOPIC_PREFIX", raising=False)
    yield created


def published() -> list[Record]:
    return FakeKafkaPublisher.instances[-1].records


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["replay", *args])


def test_command_smd_machine(kafka: dict[str, Any]) -> None:
    result = invoke("smd", str(SMD_DIR), "--machine", "machine-1-6", "--limit", "300", "--topic-prefix", "t1.")
    counts = decode_records(published())

    assert result.exit_code == 0, result.output
    assert counts[topics.GENERIC] == 300
    assert counts[topics.FAULTS_TRUTH] == 1
    assert "t1.faults.truth" in kafka["topics"]
    assert "t1.telemetry.generic\t300" in result.stdout
    assert "smd machine-1-6 (test): published 300 messages" in result.stdout
    assert FakeKafkaPublisher.instances[-1].closed is True
    assert FakeKafkaPublisher.instances[-1].client_id == "qianliyan-replay"


def test_command_nab_series(kafka: dict[str, Any]) -> None:
    result = invoke("nab", str(NAB_DIR), "--series", "realKnownCause/machine_temperature_system_failure", "--start", "2026-02-01T00:00:00Z")
    counts = decode_records(published())

    assert result.exit_code == 0, result.output
    assert counts[topics.GENERIC] == 22695
    assert counts[topics.FAULTS_TRUTH] == 4
    assert published()[0].value["time"] == "2026-02-01T00:00:00Z"


def test_command_nab_no_labels(kafka: dict[str, Any]) -> None:
    result = invoke("nab", str(NAB_DIR), "--series", "realKnownCause/nyc_taxi", "--no-labels", "--limit", "10")

    assert result.exit_code == 0, result.output
    assert decode_records(published()) == {topics.GENERIC: 10}


def test_command_nvidia_smi_xml(kafka: dict[str, Any]) -> None:
    result = invoke("nvidia-smi-xml", str(NVIDIA_SMI_XML_DIR / "a100-sxm4-v12.xml"), "--rack", "r09", "--cluster", "lab")
    record = published()[0]

    assert result.exit_code == 0, result.output
    assert record.key == "a100-sxm4-v12"
    assert record.value["rack"] == "r09"
    assert record.value["cluster"] == "lab"


def test_command_telegraf(kafka: dict[str, Any]) -> None:
    result = invoke("telegraf", str(TESTDATA / "telegraf-nvidia-smi.lp"))

    assert result.exit_code == 0, result.output
    assert decode_records(published()) == {topics.GPU: 6}


def test_command_kernel_log(kafka: dict[str, Any]) -> None:
    result = invoke("kernel-log", str(TESTDATA / "journal-short-iso.log"), "--pci-map", "0000:18:00=0,0000:9a:00=5", "--rack", "r01")
    events = [record.value for record in published()]

    assert result.exit_code == 0, result.output
    assert [event["gpu"] for event in events] == [0, 5]
    assert [event["rack"] for event in events] == ["r01", "r01"]


def test_command_dcgm_exporter_url(kafka: dict[str, Any]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ExporterHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        result = invoke("dcgm-exporter", url, "--limit", "2", "--interval", "0.01")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    assert result.exit_code == 0, result.output
    assert decode_records(published()) == {topics.GPU: 2}


def test_command_dcgm_exporter_file(kafka: dict[str, Any]) -> None:
    result = invoke("dcgm-exporter", str(TESTDATA / "dcgm-exporter-h100.prom"), "--start", "2026-01-01T00:00:00Z")

    assert result.exit_code == 0, result.output
    assert published()[0].value["time"] == "2026-01-01T00:00:00Z"


def test_command_smd_needs_machine(kafka: dict[str, Any]) -> None:
    result = invoke("smd", str(SMD_DIR))

    assert isinstance(result.exception, ReplayInputError)
    assert "SMD needs --machine; machines with values" in str(result.exception)
    assert FakeKafkaPublisher.instances == []


def test_command_missing_file(kafka: dict[str, Any]) -> None:
    result = invoke("telegraf", str(TESTDATA / "no-such-file.lp"))

    assert isinstance(result.exception, ReplayInputError)
    assert "not found" in str(result.exception)


USAGE_ERRORS = [
    ("unknown source", ["csv", "x"], "'csv' is not one of 'smd', 'nab'"),
    ("bad split", ["smd", str(SMD_DIR), "--machine", "machine-1-6", "--split", "validation"], "invalid split 'validation'"),
    ("bad precision", ["telegraf", "x.lp", "--precision", "h"], "invalid precision 'h'"),
    ("negative speed", ["smd", str(SMD_DIR), "--speed", "-1"], "Invalid value for '--speed'"),
    ("bad start", ["smd", str(SMD_DIR), "--machine", "machine-1-6", "--start", "yesterday"], "invalid time 'yesterday'"),
]


@pytest.mark.parametrize("args, message", [case[1:] for case in USAGE_ERRORS], ids=[case[0] for case in USAGE_ERRORS])
def test_command_usage_error(kafka: dict[str, Any], args: list[str], message: str) -> None:
    result = invoke(*args)

    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
