"""Static checks of docker-compose.yml: no Docker engine is needed to run them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_whole_stack() -> None:
    services = load_compose()["services"]

    assert set(services) == {"kafka", "influxdb", "grafana", "worker", "emulator", "receiver"}


def test_published_ports_bind_loopback_by_default() -> None:
    for name, service in load_compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name} publishes {port}"


def test_no_password_committed() -> None:
    text = (ROOT / "docker-compose.yml").read_text()

    for match in re.finditer(r"^\s*([A-Z_]*(?:PASSWORD|TOKEN|SECRET)[A-Z_]*):\s*(\S+)", text, re.MULTILINE):
        assert match.group(2).startswith("${"), f"{match.group(1)} is not taken from the environment"


def test_env_example_lists_compose_variables() -> None:
    compose_variables = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    example = (ROOT / ".env.example").read_text()

    for variable in compose_variables:
        assert re.search(rf"^{variable}=", example, re.MULTILINE), f"{variable} is missing from .env.example"


def test_grafana_mounts_existing_provisioning() -> None:
    grafana = load_compose()["services"]["grafana"]

    for volume in grafana["volumes"]:
        source = volume.split(":")[0]
        assert (ROOT / source).exists(), f"{source} is mounted but missing"


def test_grafana_env_covers_datasource_variables() -> None:
    lines = (ROOT / "dashboards/provisioning/datasources/influxdb.yaml").read_text().splitlines()
    datasource = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    variables = set(re.findall(r"\$\{([A-Z_]+)\}", datasource))
    environment = load_compose()["services"]["grafana"]["environment"]

    assert variables <= set(environment), f"{sorted(variables - set(environment))} missing in Grafana's environment"
