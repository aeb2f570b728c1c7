"""Sinks that store validated telemetry."""
