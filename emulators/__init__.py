"""Emulated GPU cluster telemetry and training jobs, published to Kafka."""
