"""Settings for every qianliyan process, read from ``QIANLIYAN_*`` environment variables.

Nested groups use a double underscore: ``QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS``,
``QIANLIYAN_INFLUXDB__TOKEN``. Command-line options override the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline import topics
from pipeline.alerts.settings import AlertSettings
from pipeline.annotations import GrafanaSettings


class KafkaSettings(BaseModel):
    """Connection to the Kafka cluster and the names of the topics used."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(
        default="",
        description="Prepended to every topic name, so that several pipelines can share one cluster.",
    )
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1, description="Use 3 on a production cluster.")
    request_timeout_ms: int = Field(default=30_000, ge=1_000)

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_servers(cls, value: str) -> str:
        hosts = [part.strip() for part in value.split(",") if part.strip()]
        for host in hosts:
            if ":" not in host:
                raise ValueError(f"bootstrap server {host!r} has no port; expected host:port such as 127.0.0.1:9092")
        if not hosts:
            raise ValueError("bootstrap_servers is empty; expected host:port such as 127.0.0.1:9092")
        return ",".join(hosts)

    def topic(self, name: str) -> str:
        """Return the full topic name for one of the names in :mod:`pipeline.topics`."""
        return f"{self.topic_prefix}{name}"

    @property
    def telemetry_topics(self) -> list[str]:
        """Full names of every topic that carries telemetry or events into the worker."""
        return [self.topic(name) for name in topics.INPUT_TOPICS]


class InfluxDBSettings(BaseModel):
    """Connection to InfluxDB through its v2 write API.

    InfluxDB 1.8 serves that API too: there the bucket is ``database/retention_policy``
    (``qianliyan`` alone means the default policy), the org is ignored and the token is
    ``username:password``, or empty when authentication is off.
    """

    url: str = "http://127.0.0.1:8086"
    token: SecretStr = SecretStr("")
    org: str = "qianliyan"
    bucket: str = "qianliyan"
    batch_size: int = Field(default=5_000, ge=1, description="Maximum points in one write request.")
    flush_interval_seconds: float = Field(default=1.0, gt=0, description="Maximum wait before a partial batch is written.")
    timeout_ms: int = Field(default=10_000, ge=100)
    max_retry_delay_seconds: float = Field(default=30.0, gt=0)


class StorageSettings(BaseModel):
    """Storage of periodic telemetry (GPU, cooling, DPU, power, generic series).

    Every series is rolled up into windows of ``rollup_seconds`` of event time (min, mean
    and max, tag ``resolution=10s`` by default). ``raw_storage`` selects what is also kept
    at full rate (tag ``resolution=raw``): everything, only ``flagged`` entities (a node or
    rack under a firing incident, or with an anomaly in the last ``raw_hold_seconds`` of
    event time), or nothing.
    """

    rollup_seconds: int = Field(default=10, ge=1, le=3600)
    lateness_seconds: float = Field(default=2.0, ge=0, description="Event time a window waits for late messages.")
    idle_flush_seconds: float = Field(default=5.0, gt=0, description="Wall-clock seconds without input before open windows are written.")
    raw_storage: Literal["all", "flagged", "none"] = "flagged"
    raw_hold_seconds: float = Field(default=600.0, ge=0)


class Settings(BaseSettings):
    """Settings shared by the emulator, the worker and the command-line tools."""

    model_config = SettingsConfigDict(
        env_prefix="QIANLIYAN_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    kafka: KafkaSettings = KafkaSettings()
    influxdb: InfluxDBSettings = InfluxDBSettings()
    storage: StorageSettings = StorageSettings()
    alerts: AlertSettings = AlertSettings()
    grafana: GrafanaSettings = GrafanaSettings()
    topology_file: Path | None = Field(
        default=None, description="Topology YAML of the cluster (emulators/topologies/): leaf switches and hot spares for the policy."
    )
    policy_file: Path | None = Field(default=None, description="Fault-tolerance policy YAML; the built-in default when unset.")
    dry_run: bool = Field(default=False, description="Mark every action as a dry run, whatever the policy file says.")
    app_id: str = Field(default="qianliyan", description="Faust application id, also the Kafka consumer group.")
    max_message_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Larger messages go to the dead-letter topic. Keep it below the broker's message.max.bytes.",
    )
    batch_max_messages: int = Field(default=1_000, ge=1, description="Maximum Kafka messages the worker handles per batch.")
    detection_enabled: bool = Field(default=True, description="Run the detectors in the worker and publish anomalies.")
    detection_model_path: Path | None = Field(
        default=None,
        description="Model file from 'qianliyan train' on GPU fields; the worker scores every GPU with it. Unset or empty: no trained model runs.",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Address of the Prometheus /metrics endpoint.")
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="Port of the /metrics endpoint; 0 turns it off.")
    stats_interval_seconds: float = Field(default=10.0, gt=0, description="How often the worker writes pipeline_stats to InfluxDB.")
    log_level: str = "INFO"

    @field_validator("detection_model_path", mode="before")
    @classmethod
    def _empty_model_path_is_none(cls, value: object) -> object:
        # Compose passes an unset variable as an empty string.
        return None if isinstance(value, str) and not value.strip() else value
