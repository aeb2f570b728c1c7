"""Prometheus metrics of the worker, and the same figures as InfluxDB points.

Names follow Prometheus conventions: a ``qianliyan_`` prefix, ``_total`` for counters and
base units (seconds) in the name.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from pipeline.sinks.points import PointData

logger = logging.getLogger(__name__)

LATENCY_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class PipelineMetrics:
    """The worker's counters, gauges and histograms, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.messages_processed = Counter(
            "qianliyan_messages_processed", "Kafka messages the worker handled, valid or not.", ["topic"], registry=self.registry
        )
        self.messages_deadlettered = Counter(
            "qianliyan_messages_deadlettered", "Messages sent to the dead-letter topic.", ["topic", "error_class"], registry=self.registry
        )
        self.points_written = Counter("qianliyan_points_written", "Points InfluxDB accepted.", registry=self.registry)
        self.write_retries = Counter("qianliyan_influxdb_write_retries", "InfluxDB write attempts that failed and were retried.", registry=self.registry)
        self.write_latency = Histogram(
            "qianliyan_influxdb_write_latency_seconds", "Duration of successful InfluxDB write requests.",
            buckets=LATENCY_BUCKETS_SECONDS, registry=self.registry,
        )
        self.store_latency = Histogram(
            "qianliyan_store_latency_seconds", "Time from a message's event time to its points being stored.",
            buckets=LATENCY_BUCKETS_SECONDS, registry=self.registry,
        )
        self.detection_latency = Histogram(
            "qianliyan_detection_latency_seconds", "Time from the event time of a sample to the publication of the anomaly it caused.",
            buckets=LATENCY_BUCKETS_SECONDS, registry=self.registry,
        )
        self.detection_errors = Counter(
            "qianliyan_detection_errors", "Batches whose detection raised an error; their telemetry was stored without anomalies.",
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "qianliyan_consumer_lag", "Messages between the last handled offset and the partition's high watermark.",
            ["topic", "partition"], registry=self.registry,
        )

    def serve(self, host: str, port: int) -> None:
        """Serve ``/metrics`` over HTTP on ``host:port`` from a background thread."""
        start_http_server(port, addr=host, registry=self.registry)
        logger.info("metrics endpoint started address=http://%s:%d/metrics", host, port)

    def max_consumer_lag(self) -> float:
        """Return the largest consumer lag over all partitions, 0 before the first batch."""
        values = [sample.value for metric in self.consumer_lag.collect() for sample in metric.samples]
        return max(values, default=0.0)

    def to_point(self, app_id: str, now: datetime | None = None) -> PointData:
        """Return the current totals as one ``pipeline_stats`` point for InfluxDB."""
        def total(counter: Counter) -> float:
            return sum(sample.value for metric in counter.collect() for sample in metric.samples if sample.name.endswith("_total"))

        def mean(histogram: Histogram) -> float:
            samples = {sample.name: sample.value for metric in histogram.collect() for sample in metric.samples}
            count = samples.get(f"{histogram._name}_count", 0.0)
            return samples.get(f"{histogram._name}_sum", 0.0) / count if count else 0.0

        tags = {"app_id": app_id, "worker": f"{socket.gethostname()}:{os.getpid()}"}
        fields = {
            "messages_processed": total(self.messages_processed),
            "messages_deadlettered": total(self.messages_deadlettered),
            "points_written": total(self.points_written),
            "consumer_lag": self.max_consumer_lag(),
            "write_latency_seconds": mean(self.write_latency),
            "store_latency_seconds": mean(self.store_latency),
            "detection_latency_seconds": mean(self.detection_latency),
        }
        return PointData("pipeline_stats", tags, fields, now or datetime.now(timezone.utc))
