"""Anomaly detectors for GPU cluster telemetry."""
