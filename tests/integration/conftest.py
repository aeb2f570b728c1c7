"""Fixtures for tests against the real Kafka broker and InfluxDB.

The services come from ``scripts/services.sh up``. When they are down the tests skip,
unless ``QIANLIYAN_REQUIRE_SERVICES=1`` is set (as CI does): then they fail, because a
skip there would hide a broken install.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.alerts.settings import AlertSettings
from pipeline.settings import InfluxDBSettings, KafkaSettings, Settings, StorageSettings
from pipeline.sinks import influxql

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KAFKA_ADDRESS = ("127.0.0.1", int(os.environ.get("QIANLIYAN_KAFKA_PORT", "9092")))
INFLUXDB_URL = f"http://127.0.0.1:{os.environ.get('QIANLIYAN_INFLUXDB_PORT', '8086')}"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _require(reason: str) -> None:
    if os.environ.get("QIANLIYAN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and QIANLIYAN_REQUIRE_SERVICES=1 forbids skipping; run 'scripts/services.sh up'")
    pytest.skip(f"{reason}; run 'scripts/services.sh up' to start it")


def _kafka_up() -> bool:
    try:
        with socket.create_connection(KAFKA_ADDRESS, timeout=2):
            return True
    except OSError:
        return False


def _influxdb_up() -> bool:
    try:
        with urllib.request.urlopen(f"{INFLUXDB_URL}/ping", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def services() -> None:
    """Ensure Kafka and InfluxDB respond on 127.0.0.1."""
    if not _kafka_up():
        _require(f"Kafka is not listening on {KAFKA_ADDRESS[0]}:{KAFKA_ADDRESS[1]}")
    if not _influxdb_up():
        _require(f"InfluxDB is not answering at {INFLUXDB_URL}/ping")


@pytest.fixture
def settings(services: None, tmp_path: Path) -> Iterator[Settings]:
    """Settings with a topic prefix, consumer group and InfluxDB database of this test alone."""
    run_id = uuid.uuid4().hex[:10]
    database = f"test_{run_id}"
    settings = Settings(
        app_id=f"qianliyan-test-{run_id}",
        kafka=KafkaSettings(bootstrap_servers=f"{KAFKA_ADDRESS[0]}:{KAFKA_ADDRESS[1]}", topic_prefix=f"test-{run_id}."),
        influxdb=InfluxDBSettings(url=INFLUXDB_URL, bucket=database, flush_interval_seconds=0.5),
        storage=StorageSettings(raw_storage="all", idle_flush_seconds=2.0),
        alerts=AlertSettings(outbox_path=tmp_path / "outbox.sqlite3"),
        metrics_port=free_port(),
        stats_interval_seconds=1.0,
    )
    influxql.query(settings.influxdb, f'CREATE DATABASE "{database}"', method="POST")
    yield settings
    influxql.query(settings.influxdb, f'DROP DATABASE "{database}"', method="POST")


def settings_env(settings: Settings) -> dict[str, str]:
    """Return the environment that makes a ``qianliyan`` subprocess use ``settings``."""
    env = dict(os.environ)
    env.update({
        "QIANLIYAN_APP_ID": settings.app_id,
        "QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "QIANLIYAN_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "QIANLIYAN_INFLUXDB__URL": settings.influxdb.url,
        "QIANLIYAN_INFLUXDB__BUCKET": settings.influxdb.bucket,
        "QIANLIYAN_INFLUXDB__FLUSH_INTERVAL_SECONDS": str(settings.influxdb.flush_interval_seconds),
        "QIANLIYAN_METRICS_PORT": str(settings.metrics_port),
        "QIANLIYAN_STORAGE__RAW_STORAGE": settings.storage.raw_storage,
        "QIANLIYAN_ALERTS__OUTBOX_PATH": str(settings.alerts.outbox_path),
        "QIANLIYAN_ALERTS__RETRY_INITIAL_DELAY_SECONDS": str(settings.alerts.retry_initial_delay_seconds),
        "QIANLIYAN_ALERTS__MAX_RETRY_DELAY_SECONDS": str(settings.alerts.max_retry_delay_seconds),
        "QIANLIYAN_STORAGE__IDLE_FLUSH_SECONDS": str(settings.storage.idle_flush_seconds),
        "QIANLIYAN_STATS_INTERVAL_SECONDS": str(settings.stats_interval_seconds),
    })
    if settings.alerts.webhook_url is not None:
        env["QIANLIYAN_ALERTS__WEBHOOK_URL"] = settings.alerts.webhook_url.get_secret_value()
    if settings.alerts.webhook_secret is not None:
        env["QIANLIYAN_ALERTS__WEBHOOK_SECRET"] = settings.alerts.webhook_secret.get_secret_value()
    if settings.topology_file is not None:
        env["QIANLIYAN_TOPOLOGY_FILE"] = str(settings.topology_file)
    return env


def stop_process(process: subprocess.Popen[bytes], timeout_seconds: float = 30.0) -> float:
    """Send SIGTERM, kill after ``timeout_seconds``, and return the seconds the process took to stop."""
    started = time.monotonic()
    process.terminate()
    try:
        process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return time.monotonic() - started


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``qianliyan worker`` for this test's settings, logging to a file in tmp_path."""
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker"],
            cwd=PROJECT_ROOT, env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            stop_process(process)
    if process.returncode not in (0, -15, 143):
        print(log_path.read_text(errors="replace")[-5000:])


def wait_for(condition, timeout_seconds: float, what: str, worker: subprocess.Popen[bytes] | None = None, log: Path | None = None):  # type: ignore[no-untyped-def]
    """Poll ``condition()`` once a second until it returns a truthy value, then return it."""
    deadline = time.monotonic() + timeout_seconds
    last = None
    while time.monotonic() < deadline:
        if worker is not None and worker.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            pytest.fail(f"the worker exited with status {worker.returncode} while waiting for {what}\n{tail}")
        last = condition()
        if last:
            return last
        time.sleep(1.0)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    pytest.fail(f"timed out after {timeout_seconds:.0f} s waiting for {what}; last value {last!r}\n{tail}")
