"""qianliyan pipeline: Faust agents that validate telemetry and write it to InfluxDB."""

__version__ = "0.1.0"
