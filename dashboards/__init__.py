"""Grafana boards as code and their provisioning files."""
