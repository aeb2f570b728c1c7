"""A ``qianliyan worker`` of one evaluation part: start it, wait until it caught up, read its anomalies.

Each worker gets a consumer group, a topic prefix and an InfluxDB database of its own, so
that parts (and runs) cannot see each other's messages. When the worker stops, also on
error, the database is dropped and the part's Kafka topics are deleted: those under its
topic prefix and the Faust topics named after its consumer group (``<group>-__assignor-__leader``).

The worker has caught up when its consumer group has committed every message of the input
topics (committed offset = end offset) and the ``anomalies`` topic has not grown for
``quiet_seconds``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from detectors.anomaly import Anomaly
from pipeline import topics
from pipeline.errors import QianliyanError, ServiceUnavailableError
from pipeline.kafka_admin import broker_reachable, delete_run_topics
from pipeline.settings import InfluxDBSettings, KafkaSettings, Settings
from pipeline.sinks import influxql

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "qianliyan-evaluate"
POLL_SECONDS = 2.0
PROGRESS_EVERY_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
SERVICES_HINT = "start them with 'bash scripts/services.sh up', or point QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS and QIANLIYAN_INFLUXDB__URL at yours"


class WorkerExitedError(QianliyanError, RuntimeError):
    """The worker process ended before it caught up."""


class CatchUpTimeoutError(QianliyanError, TimeoutError):
    """The worker did not catch up within the time allowed."""


class WorkerCrashedError(QianliyanError, RuntimeError):
    """An agent of the worker crashed: the process lives on but consumes no more."""


CRASH_MARKER = "Crashed reason="
"""Log text of an agent that raised. Faust then stops that agent for good."""


@dataclass
class WorkerHandle:
    """A running worker: its Kafka settings, consumer group, process and log file.

    ``process`` and ``log_path`` are None for a worker started by someone else (a test
    fixture), whose exit this module cannot watch.
    """

    kafka: KafkaSettings
    group_id: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None


def check_services(kafka: KafkaSettings, influxdb: InfluxDBSettings, timeout_seconds: float = 3.0) -> None:
    """Fail fast, with one line naming the addresses, when Kafka or InfluxDB does not respond.

    Raises:
        ServiceUnavailableError: no bootstrap server accepts a TCP connection, or InfluxDB's
            ``/ping`` does not respond.
    """
    problems = []
    if not broker_reachable(kafka, timeout_seconds):
        problems.append(f"no Kafka broker responds at {kafka.bootstrap_servers}")
    if not _influxdb_answers(influxdb.url, timeout_seconds):
        problems.append(f"InfluxDB does not respond at {influxdb.url}")
    if problems:
        raise ServiceUnavailableError(f"{' and '.join(problems)}; the pipeline evaluation needs both: {SERVICES_HINT}")


def _influxdb_answers(url: str, timeout_seconds: float) -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/ping", timeout=timeout_seconds):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code < 500  # A 401 or 403 still means InfluxDB is up and /ping needs authentication.
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextmanager
def running_worker(settings: Settings, part: str, work_dir: Path) -> Iterator[WorkerHandle]:
    """Start ``qianliyan worker`` with a group, topic prefix and database of its own; stop it and drop them at exit.

    The Kafka and InfluxDB addresses and credentials come from ``settings``; the worker's
    topic prefix is ``settings.kafka.topic_prefix`` followed by ``eval-<run id>.``. Its log
    goes to ``work_dir/worker-<part>-<run id>.log``.
    """
    run_id = uuid.uuid4().hex[:8]
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"{settings.kafka.topic_prefix}eval-{run_id}."})
    influxdb = settings.influxdb.model_copy(update={"bucket": f"eval_{run_id}"})
    group_id = f"eval-{part}-{run_id}"
    influxql.query(influxdb, f'CREATE DATABASE "{influxdb.bucket}"', method="POST")

    env = dict(
        os.environ,
        QIANLIYAN_APP_ID=group_id,
        QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        QIANLIYAN_KAFKA__TOPIC_PREFIX=kafka.topic_prefix,
        QIANLIYAN_INFLUXDB__URL=influxdb.url,
        QIANLIYAN_INFLUXDB__BUCKET=influxdb.bucket,
        QIANLIYAN_METRICS_PORT="0",
        QIANLIYAN_LOG_LEVEL="WARNING",
        QIANLIYAN_ALERTS__OUTBOX_PATH=str(work_dir / f"outbox-{run_id}.sqlite3"),
    )
    token = influxdb.token.get_secret_value()
    if token:
        env["QIANLIYAN_INFLUXDB__TOKEN"] = token

    log_path = work_dir / f"worker-{part}-{run_id}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    logger.info("worker started part=%s group=%s prefix=%s database=%s pid=%d", part, group_id, kafka.topic_prefix, influxdb.bucket, process.pid)
    try:
        yield WorkerHandle(kafka, group_id, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        try:
            influxql.query(influxdb, f'DROP DATABASE "{influxdb.bucket}"', method="POST")
        except QianliyanError as exc:
            logger.warning("could not drop the evaluation database %s: %s", influxdb.bucket, exc)
        logger.info("worker stopped part=%s returncode=%s database dropped=%s", part, process.returncode, influxdb.bucket)
        deleted = delete_run_topics(kafka, group_id)
        print(f"{part}: worker stopped, {len(deleted)} Kafka topics deleted ({kafka.topic_prefix}*, {group_id}-*)", file=sys.stderr, flush=True)


def wait_until_caught_up(worker: WorkerHandle, timeout_seconds: float, quiet_seconds: float = 10.0) -> float:
    """Block until the worker committed every input message and ``anomalies`` stopped growing.

    Prints a progress line to standard error every ``PROGRESS_EVERY_SECONDS``.

    Returns:
        Seconds waited.

    Raises:
        CatchUpTimeoutError: The worker did not catch up in time; the message gives the lag.
        WorkerExitedError: The worker process exited; the tail of its log goes to standard error.
        WorkerCrashedError: An agent of the worker crashed, so it would never catch up.
    """
    started = time.monotonic()
    input_topics = set(worker.kafka.telemetry_topics)
    anomalies_topic = worker.kafka.topic(topics.ANOMALIES)
    servers = worker.kafka.bootstrap_servers.split(",")
    admin = KafkaAdminClient(bootstrap_servers=servers, client_id=CLIENT_ID)
    consumer = KafkaConsumer(bootstrap_servers=servers, client_id=CLIENT_ID, enable_auto_commit=False)
    last_anomalies = -1
    stable_since = time.monotonic()
    last_progress = 0.0
    log_offset = 0
    lag = None
    try:
        while time.monotonic() - started < timeout_seconds:
            if worker.process is not None and worker.process.poll() is not None:
                _print_log_tail(worker.log_path)
                raise WorkerExitedError(f"the worker exited with status {worker.process.returncode}; its log: {worker.log_path}")
            crash, log_offset = _find_crash(worker.log_path, log_offset)
            if crash is not None:
                _print_log_tail(worker.log_path)
                raise WorkerCrashedError(f"an agent of the worker crashed ({crash}); its log: {worker.log_path}")
            lag = _input_lag(admin, consumer, worker.group_id, input_topics)
            anomalies = sum(_end_offsets(consumer, anomalies_topic).values())
            if anomalies != last_anomalies:
                last_anomalies, stable_since = anomalies, time.monotonic()
            if lag == 0 and time.monotonic() - stable_since >= quiet_seconds:
                return time.monotonic() - started
            if time.monotonic() - last_progress >= PROGRESS_EVERY_SECONDS:
                last_progress = time.monotonic()
                lag_text = "not committed yet" if lag is None else f"{lag} messages"
                print(f"  waiting for the worker: lag {lag_text}, {anomalies} anomalies", file=sys.stderr, flush=True)
            time.sleep(POLL_SECONDS)
    finally:
        admin.close()
        consumer.close()
    raise CatchUpTimeoutError(
        f"the worker did not catch up within {timeout_seconds:.0f} s: consumer lag {lag} messages on group {worker.group_id}; raise --timeout"
    )


def _find_crash(log_path: Path | None, offset: int) -> tuple[str | None, int]:
    """Return the first agent crash logged after ``offset`` (cut to one short line) and the offset read up to."""
    if log_path is None or not log_path.is_file():
        return None, offset
    with log_path.open("rb") as log:
        log.seek(offset)
        text = log.read()
    complete = text.rfind(b"\n") + 1  # leave a partly written line for the next call
    for line in text[:complete].decode(errors="replace").splitlines():
        if CRASH_MARKER in line:
            return line.split(CRASH_MARKER, 1)[1].strip()[:200], offset + complete
    return None, offset + complete


def _print_log_tail(log_path: Path | None, lines: int = 30) -> None:
    if log_path is None or not log_path.is_file():
        return
    tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    print("\n".join(["  worker log (last lines):", *(f"  | {line}" for line in tail)]), file=sys.stderr, flush=True)


def _end_offsets(consumer: KafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    partitions = consumer.partitions_for_topic(topic) or set()
    return dict(consumer.end_offsets([TopicPartition(topic, number) for number in partitions])) if partitions else {}


def _input_lag(admin: KafkaAdminClient, consumer: KafkaConsumer, group_id: str, input_topics: set[str]) -> int | None:
    """Return the messages on the input topics that the group has not committed, None before its first commit."""
    consumer.topics()  # refresh metadata so that topics created since the last call are known
    ends: dict[TopicPartition, int] = {}
    for topic in input_topics:
        ends.update(_end_offsets(consumer, topic))
    if not any(ends.values()):
        return None
    committed = admin.list_group_offsets(group_id).get(group_id, {})
    if not committed:
        return None
    return sum(max(end - (committed[partition].offset if partition in committed else 0), 0) for partition, end in ends.items())


def read_anomalies(kafka: KafkaSettings, path: Path | None = None, timeout_seconds: float = READ_TIMEOUT_SECONDS) -> list[Anomaly]:
    """Read every record of the ``anomalies`` topic up to its end offsets, sorted by time; optionally write them as JSON Lines.

    Raises:
        CatchUpTimeoutError: the records up to the end offsets did not arrive within ``timeout_seconds``.
    """
    topic = kafka.topic(topics.ANOMALIES)
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers.split(","), client_id=CLIENT_ID, enable_auto_commit=False)
    deadline = time.monotonic() + timeout_seconds
    try:
        ends = _end_offsets(consumer, topic)
        values: list[bytes] = []
        remaining = {partition: end for partition, end in ends.items() if end > 0}
        if remaining:
            consumer.assign(list(ends))
            consumer.seek_to_beginning()
        while remaining:
            if time.monotonic() > deadline:
                raise CatchUpTimeoutError(f"reading {topic} took longer than {timeout_seconds:.0f} s; {len(values)} records read")
            for partition, records in consumer.poll(timeout_ms=1000).items():
                values += [record.value for record in records if record.offset < ends[partition]]
                if records and records[-1].offset + 1 >= ends[partition]:
                    remaining.pop(partition, None)
    finally:
        consumer.close()
    anomalies = [Anomaly.model_validate_json(value) for value in values]
    anomalies.sort(key=lambda anomaly: anomaly.time)
    if path is not None:
        path.write_text("".join(anomaly.model_dump_json() + "\n" for anomaly in anomalies))
    return anomalies
