"""The incident report: one self-contained HTML page per incident, built from InfluxDB."""
