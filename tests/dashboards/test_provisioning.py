"""Tests of the Grafana provisioning files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

PROVISIONING = Path(__file__).resolve().parents[2] / "dashboards" / "provisioning"


def load(relative: str) -> dict[str, Any]:
    """Return one provisioning YAML file."""
    document: dict[str, Any] = yaml.safe_load((PROVISIONING / relative).read_text(encoding="utf-8"))
    return document


def test_dashboard_provider_reads_folder() -> None:
    provider = load("dashboards/qianliyan.yaml")["providers"][0]
    assert provider["type"] == "file"
    assert provider["folderUid"] == "qianliyan"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/qianliyan"
    assert provider["allowUiUpdates"] is False


def test_datasource_uses_influxql() -> None:
    source = load("datasources/influxdb.yaml")["datasources"][0]
    assert source["type"] == "influxdb"
    assert source["jsonData"]["version"] == "InfluxQL"
    assert source["uid"] == "qianliyan-influxdb"


def test_datasource_settings_from_environment() -> None:
    source = load("datasources/influxdb.yaml")["datasources"][0]
    assert source["url"] == "${QIANLIYAN_INFLUXDB__URL}"
    assert source["jsonData"]["dbName"] == "${QIANLIYAN_INFLUXDB__BUCKET}"
    assert source["secureJsonData"]["httpHeaderValue1"] == "Token ${QIANLIYAN_INFLUXDB__TOKEN}"
    assert source["jsonData"]["httpHeaderName1"] == "Authorization"


def test_provisioning_has_no_literal_secrets() -> None:
    for path in PROVISIONING.rglob("*.yaml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("#"):
                continue
            if re.search(r"(?i)(token|password|secret|httpHeaderValue)", line):
                assert "${" in line, f"{path.name}: {line.strip()}"
